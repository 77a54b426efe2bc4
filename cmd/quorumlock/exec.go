package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quorumlock/quorumlock"
)

// Exit statuses of exec besides the command's own.
const (
	exitNotObtained   = 75  // EX_TEMPFAIL: the lock is held elsewhere, the wait ran out, or no quorum
	exitLost          = 76  // the lock was lost while the command ran
	exitCannotExecute = 126 // as shells: found but cannot be run
	exitNotFound      = 127 // as shells: command not found
	exitSignalBase    = 128 // 128+n: killed by signal n, as shells report it
)

// releaseTimeout bounds the release after the command ended; the library
// bounds it by the node timeout already.
const releaseTimeout = 5 * time.Second

// forwardedSignals are passed on to the command while it runs. While the lock
// is awaited, they end the wait.
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

const execUsage = `usage: quorumlock exec --key KEY --ttl DURATION [flags] -- COMMAND [ARG...]

Runs COMMAND while holding the lock KEY on a quorum of Redis nodes: flock(1)
across machines, for a cron job started on many hosts of which one at a time
should run it.

quorumlock obtains the lock, waiting up to --wait for it, keeps it alive while
COMMAND runs (refreshing it to --ttl every third of --ttl), and releases it
when COMMAND exits. --ttl is how long the lock outlives quorumlock should
quorumlock itself die, not how long the job may run.

If the lock is lost while COMMAND runs (a quorum of nodes no longer holds it,
or it could not be refreshed before its validity ran out), COMMAND gets
SIGTERM, then SIGKILL if it is still running --grace later, and quorumlock
exits 76 once COMMAND has ended. SIGINT, SIGTERM and SIGHUP sent to quorumlock
are passed on to COMMAND; the lock is held until COMMAND exits.

COMMAND runs in a process group of its own, and every signal goes to the whole
group: a shell script's children get it too. When COMMAND exits, whatever it
left running in its group is killed before the lock is released. Should
quorumlock itself die (SIGKILL, the OOM killer), a guard process kills the
group at once (on Linux COMMAND's process also gets SIGKILL from the kernel).
A process that leaves the group (setsid, a daemon) is on its own. From a
terminal, COMMAND gets the terminal's foreground on Linux; elsewhere a COMMAND
that reads the terminal stops. Outside Unix only COMMAND's process is
signalled, and it outlives quorumlock.

A node that cannot be reached, refuses the password, or does not speak TLS
where its URL asks for it, is one warning line on stderr when it is first seen
and when that changes; the command runs on while a quorum answers.

COMMAND's environment gets:
  QUORUMLOCK_KEY    the lock's key
  QUORUMLOCK_FENCE  the lock's fencing token, greater than every token handed
                    out before for KEY: send it with writes to a store that
                    rejects tokens lower than one it has seen

quorumlock reads:
  QUORUMLOCK_NODES  the nodes, when --nodes is not given; COMMAND gets it only
                    when none of its URLs holds a user or password, or with
                    --pass-nodes

` + nodesHelp + `
Exit status:
  COMMAND's exit status once it ran (128+n when signal n killed it), else:
  2      bad flags, no nodes, a bad node URL, a ttl too short for the node timeout
  75     lock not obtained: held elsewhere, --wait ran out, or too few nodes
         answered (EX_TEMPFAIL: try again later)
  76     the lock was lost while COMMAND ran; COMMAND was stopped
  126    COMMAND cannot be executed
  127    COMMAND not found
  128+n  quorumlock got signal n while it waited for the lock

flags:
`

// runExec runs a command under a lock.
func runExec(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		key   = fs.String("key", "", "name of the lock (required)")
		ttl   = durationFlag(fs, "ttl", 0, "ttl of the lock, a `duration` renewed while COMMAND runs (required; e.g. 30s)")
		wait  = durationFlag(fs, "wait", 0, "how long to wait for the lock when it is held elsewhere, a `duration` (0: one attempt)")
		grace = durationFlag(fs, "grace", 10*time.Second, "after the lock is lost, how long COMMAND has between SIGTERM and SIGKILL, a `duration`")
		pass  = fs.Bool("pass-nodes", false, "pass "+quorumlock.EnvNodes+" on to COMMAND even when it holds a password")
	)
	nodes := addNodeFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, execUsage)
		fs.PrintDefaults()
	}
	if status, ok := parseFlags(fs, "exec", args, stderr); !ok {
		return status
	}
	usageErr := func(format string, a ...any) int { return usageError(stderr, "exec", format, a...) }
	switch {
	case *key == "":
		return usageErr("--key is required")
	case *ttl <= 0:
		return usageErr("--ttl is required and must be positive")
	case *wait < 0:
		return usageErr("--wait %v is negative", *wait)
	case *grace < 0:
		return usageErr("--grace %v is negative", *grace)
	case fs.NArg() == 0:
		return usageErr("no command to run: quorumlock exec [flags] -- COMMAND [ARG...]")
	}
	argv := fs.Args()

	warn := &degraded{w: stderr}
	locker, err := nodes.newLocker(stderr, quorumlock.WithFencing(), quorumlock.WithHooks(warn.hooks()))
	if err != nil {
		return usageErr("%v", err)
	}
	defer locker.Close()
	warn.set(nodes.urls(), locker.Quorum())

	sigs := make(chan os.Signal, 8)
	if watched := notIgnored(forwardedSignals); len(watched) > 0 {
		signal.Notify(sigs, watched...)
		defer signal.Stop(sigs)
	}

	// The context of the lock's rounds lives until the lock is released:
	// cancelled, it would cut short the calls of a round still landing on
	// slow nodes after the round was decided.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lock, sig, err := obtainInterruptibly(ctx, cancel, locker, *key, *ttl, *wait, sigs)
	switch {
	case sig != nil:
		release(lock, stderr)
		fmt.Fprintf(stderr, "quorumlock exec: got %v while obtaining the lock %q: not running the command\n", sig, *key)
		return exitSignalBase + signalNumber(sig)
	case isConfigError(err):
		return usageErr("%v", err)
	case err != nil:
		fmt.Fprintf(stderr, "quorumlock exec: lock %q not obtained: %s\n", *key, message(notObtainedReason(locker, *key, *wait, err)))
		return exitNotObtained
	}

	if err := lock.KeepAlive(ctx); err != nil {
		release(lock, stderr)
		fmt.Fprintf(stderr, "quorumlock exec: lock %q lost before the command could start: %s\n", *key, message(err.Error()))
		return exitNotObtained
	}
	// Lost closes when the lock ends; lossCtx follows it, asynchronously, with the cause.
	lossCtx := lock.Context(context.Background())

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Env = append(commandEnv(os.Environ(), *pass),
		"QUORUMLOCK_FENCE="+strconv.FormatUint(lock.Fence(), 10),
		"QUORUMLOCK_KEY="+*key)
	cmd.WaitDelay = time.Second   // when stdout is a pipe a leftover child keeps open
	cmd.SysProcAttr = groupAttr() // a process group of its own (group_unix.go)
	started, ended := guard(stderr)
	if err := cmd.Start(); err != nil {
		ended()
		release(lock, stderr)
		fmt.Fprintf(stderr, "quorumlock exec: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotExecute
	}

	started(cmd.Process.Pid)
	lost := superviseCommand(cmd, lock, lossCtx, sigs, *grace, stderr)
	status := commandStatus(cmd)
	endGroup(cmd) // what it left running in its group goes before the lock
	ended()
	restoreForeground(cmd)
	select {
	case <-lock.Lost():
		if !lost { // lost as the command ended: its last moments were unguarded
			lost = true
			fmt.Fprintf(stderr, "quorumlock exec: lost the lock %q as the command ended: %s\n", *key, message(lossCause(lossCtx).Error()))
		}
	default:
	}
	if lost {
		release(lock, io.Discard) // the lock is gone: nothing to report
		fmt.Fprintf(stderr, "quorumlock exec: the command ended (status %d) after the lock %q was lost: exit status %d\n", status, *key, exitLost)
		return exitLost
	}
	release(lock, stderr)
	return status
}

// obtainInterruptibly obtains the lock; a signal on sigs ends the wait
// (cancel cancels ctx), and is returned, with the lock if it was obtained all
// the same, for release.
func obtainInterruptibly(ctx context.Context, cancel context.CancelFunc, locker *quorumlock.Locker, key string, ttl, wait time.Duration, sigs <-chan os.Signal) (*quorumlock.Lock, os.Signal, error) {
	got := make(chan os.Signal, 1)
	stop := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel()
			got <- s
		case <-stop:
			got <- nil
		}
	}()
	lock, err := locker.ObtainContext(ctx, key, ttl, wait)
	close(stop)
	return lock, <-got, err
}

// notObtainedReason says why the lock was not obtained, naming the holder
// when the nodes tell.
func notObtainedReason(locker *quorumlock.Locker, key string, wait time.Duration, err error) string {
	var qe *quorumlock.QuorumError
	if errors.As(err, &qe) {
		return "too few nodes answered: " + qe.Error()
	}
	if err != quorumlock.ErrNotObtained { // e.g. the round outlasted the ttl
		return err.Error()
	}
	why := "held by another client"
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if st, ierr := locker.Inspect(ctx, key); ierr == nil && st.Held {
		owner, _ := splitValue(st.Holder)
		if owner == "" {
			owner = "another client"
		}
		why = fmt.Sprintf("held by %s (valid for %v more)", printable(owner), st.Validity.Round(time.Millisecond))
	}
	if wait > 0 {
		why += fmt.Sprintf(", still after waiting %v", wait)
	}
	return why
}

// superviseCommand waits for the command to exit, passing on the signals
// quorumlock gets, and stopping the command when the lock is lost: SIGTERM,
// then SIGKILL after grace. It reports whether the lock was lost.
func superviseCommand(cmd *exec.Cmd, lock *quorumlock.Lock, lossCtx context.Context, sigs <-chan os.Signal, grace time.Duration, stderr io.Writer) bool {
	exited := make(chan struct{})
	go func() {
		cmd.Wait() // its status is read from cmd.ProcessState
		close(exited)
	}()
	lostCh := lock.Lost()
	var (
		lost      bool
		killTimer *time.Timer
		kill      <-chan time.Time
	)
	defer func() {
		if killTimer != nil {
			killTimer.Stop()
		}
	}()
	for {
		select {
		case <-exited:
			return lost
		case s := <-sigs:
			fmt.Fprintf(stderr, "quorumlock exec: got %v: passing it on to the command (pid %d)\n", s, cmd.Process.Pid)
			signalCommand(cmd, s)
		case <-lostCh:
			lostCh, lost = nil, true
			fmt.Fprintf(stderr, "quorumlock exec: lost the lock %q while the command ran: %s: sending SIGTERM to the command (pid %d)\n",
				lock.Key(), message(lossCause(lossCtx).Error()), cmd.Process.Pid)
			signalCommand(cmd, syscall.SIGTERM)
			killTimer = time.NewTimer(grace)
			kill = killTimer.C
		case <-kill:
			kill = nil
			fmt.Fprintf(stderr, "quorumlock exec: the command still runs %v after SIGTERM: sending SIGKILL\n", grace)
			signalGroup(cmd, syscall.SIGKILL)
		}
	}
}

// lossCause is why the lock was lost, once Lost has closed: the cause of
// its Context, which is cancelled just after.
func lossCause(lossCtx context.Context) error {
	<-lossCtx.Done()
	return context.Cause(lossCtx)
}

// signalCommand sends sig to the command's process group (its process
// alone outside Unix, where a process that cannot be signalled is killed).
func signalCommand(cmd *exec.Cmd, sig os.Signal) { signalGroup(cmd, sig) }

// commandStatus is the exit status a shell reports for the ended command:
// its exit code, or 128+n when signal n killed it.
func commandStatus(cmd *exec.Cmd) int {
	st := cmd.ProcessState
	if st == nil {
		return exitFail
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitSignalBase + int(ws.Signal())
	}
	if code := st.ExitCode(); code >= 0 {
		return code
	}
	return exitFail
}

// notIgnored returns the signals quorumlock was not started with ignored:
// under nohup, or in the background of a script, SIGHUP or SIGINT stay
// ignored for quorumlock and the command alike (Notify would undo that).
func notIgnored(sigs []os.Signal) []os.Signal {
	var out []os.Signal
	for _, s := range sigs {
		if !signal.Ignored(s) {
			out = append(out, s)
		}
	}
	return out
}

// signalNumber is a signal's number, for 128+n.
func signalNumber(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return int(n)
	}
	return 0
}

// commandEnv is quorumlock's environment for the command: without
// QUORUMLOCK_NODES when one of its URLs holds credentials (a user, a
// password, or a URL that does not parse), unless pass.
func commandEnv(env []string, pass bool) []string {
	if pass {
		return env
	}
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		v, ok := strings.CutPrefix(kv, quorumlock.EnvNodes+"=")
		return ok && holdsCredentials(v)
	})
}

// holdsCredentials reports whether a list of node URLs names a user or a
// password anywhere (or does not parse, and might).
func holdsCredentials(list string) bool {
	for _, raw := range quorumlock.SplitURLs(list) {
		u, err := url.Parse(raw)
		if err != nil || u.User != nil || u.Query().Has("password") || u.Query().Has("username") {
			return true
		}
	}
	return false
}

// release releases the lock, telling w when that failed; nil does nothing.
func release(lock *quorumlock.Lock, w io.Writer) {
	if lock == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	switch err := lock.ReleaseContext(ctx); {
	case err == nil:
	case errors.Is(err, quorumlock.ErrLockNotHeld):
		fmt.Fprintf(w, "quorumlock exec: releasing the lock %q: it was no longer held: %s\n", lock.Key(), message(err.Error()))
	default:
		fmt.Fprintf(w, "quorumlock exec: releasing the lock %q: %s (the nodes that kept it free it at its ttl)\n", lock.Key(), message(err.Error()))
	}
}
