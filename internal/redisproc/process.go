package redisproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// process is one run of redis-server. A goroutine waits for it from launch
// on, so the process is reaped (no zombie) as soon as it exits, and done is
// closed then.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // result of cmd.Wait; read only after done is closed
}

// launch starts path with args, in its own process group, with stdout and
// stderr appended to stdio.log in dir.
func launch(path string, args []string, dir string) (*process, error) {
	stdio, err := os.OpenFile(filepath.Join(dir, stdioName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer stdio.Close() // the child has its own copy once started

	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = stdio // an *os.File: no copying goroutine
	cmd.Stderr = stdio
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id (and process group id).
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited and been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process group, so that any child redis forked (a
// background save or AOF rewrite) gets it too. It is a no-op once the process
// has been reaped: the group id could then belong to someone else.
func (p *process) signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	err := signalGroup(p.pid(), sig)
	if errors.Is(err, syscall.ESRCH) { // exited between the check and the kill
		return nil
	}
	return err
}

// wait waits up to timeout for the process to exit and be reaped.
func (p *process) wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("pid %d did not exit within %v", p.pid(), timeout)
	}
}

// kill sends SIGKILL to the group and waits for the exit. SIGKILL also ends a
// stopped process; the SIGCONT after it only makes sure that nothing in the
// group stays stopped. (Continuing first would let a hung node answer a few
// requests just before its "crash", which a chaos test does not expect.)
func (p *process) kill() error {
	if err := p.signal(sigKill); err != nil {
		return fmt.Errorf("kill pid %d: %w", p.pid(), err)
	}
	_ = p.signal(sigCont)
	return p.wait(killTimeout)
}

// exitStatus describes how the process ended; call only after done.
func (p *process) exitStatus() string {
	if p.err == nil {
		return "exited with status 0"
	}
	return p.err.Error()
}
