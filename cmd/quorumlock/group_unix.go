//go:build unix

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// The command runs in a process group of its own, so that quorumlock
// signals it whole: a shell script and the children it started alike. A
// guard, a second quorumlock process in a group of its own, kills that
// group with SIGKILL if quorumlock dies while the command runs (SIGKILL,
// the OOM killer), however it dies: it learns of it when the pipe from
// quorumlock closes without a word that the command ended. On Linux the
// command's own process also gets SIGKILL the moment quorumlock dies
// (Pdeathsig), for the instant before the guard knows the group.

// guardArg is the hidden subcommand that runs the guard.
const guardArg = "__exec-guard"

// groupAttr starts a command in a process group of its own; one started
// from a terminal quorumlock has in the foreground gets the terminal's
// foreground (so that it can read it, and Ctrl-C reaches it directly).
func groupAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if foregroundTerminal() {
		a.Foreground, a.Ctty = true, 0 // the command's stdin is quorumlock's
	}
	setDeathSignal(a)
	return a
}

// signalGroup sends sig to the command's process group.
func signalGroup(cmd *exec.Cmd, sig os.Signal) {
	s, ok := sig.(syscall.Signal)
	if !ok {
		s = syscall.SIGKILL
	}
	if err := syscall.Kill(-cmd.Process.Pid, s); err != nil {
		cmd.Process.Signal(sig) // not a group after all: the process alone
	}
}

// guard starts the guard of a command about to start. started tells it the
// command's process group; ended, once the command and its group have been
// stopped, lets it go. Without a guard (it could not start), both do nothing
// and quorumlock says so on stderr.
func guard(stderr io.Writer) (started func(pgid int), ended func()) {
	nothing := func() {}
	none := func(err error) (func(int), func()) {
		fmt.Fprintf(stderr, "quorumlock exec: no guard for the command should quorumlock die: %v\n", err)
		return func(int) {}, nothing
	}
	self, err := os.Executable()
	r, w, perr := os.Pipe()
	if err := errors.Join(err, perr); err != nil {
		return none(err)
	}
	g := exec.Command(self, guardArg)
	g.ExtraFiles = []*os.File{r}
	g.Stderr = stderr
	g.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = g.Start()
	r.Close()
	if err != nil {
		w.Close()
		return none(err)
	}
	return func(pgid int) { fmt.Fprintf(w, "%d\n", pgid) }, func() {
		fmt.Fprintln(w, "ended")
		w.Close()
		g.Wait()
	}
}

// endGroup kills whatever the command left running in its process group
// once it exited: nothing of it may run on after the lock is released.
func endGroup(cmd *exec.Cmd) { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

// restoreForeground gives the terminal's foreground back to quorumlock
// when the command had it.
func restoreForeground(cmd *exec.Cmd) {
	if cmd.SysProcAttr != nil && cmd.SysProcAttr.Foreground {
		takeForeground()
	}
}

// runGuard is the guard: it reads the command's process group from fd 3,
// then waits; when the pipe closes without "ended", quorumlock died, and it
// kills the group.
func runGuard() int {
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM) // only quorumlock's end counts
	in := bufio.NewReader(os.NewFile(3, "quorumlock"))
	line, err := in.ReadString('\n')
	if err != nil {
		return exitOK // quorumlock ended before the command started
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pgid <= 1 {
		return exitFail
	}
	rest, _ := io.ReadAll(in)
	if strings.Contains(string(rest), "ended") {
		return exitOK
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err == nil {
		fmt.Fprintf(os.Stderr, "quorumlock exec: quorumlock ended while the command ran: killed its process group %d\n", pgid)
	}
	return exitOK
}
