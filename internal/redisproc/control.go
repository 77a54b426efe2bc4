package redisproc

import (
	"errors"
	"fmt"
	"time"
)

// Restart retry timing while the port is still held by someone else.
const (
	restartWindow = 5 * time.Second
	restartPause  = 50 * time.Millisecond
)

// Kill crashes the server with SIGKILL and waits until the process has
// exited. Nothing is flushed: without Persist the data is lost. Killing a
// server that is not running is a no-op.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.runningLocked() {
		return nil
	}
	if err := s.killLocked(); err != nil {
		return fmt.Errorf("redisproc: kill %s: %w", s.addr, err)
	}
	return nil
}

// killLocked kills the current process and waits for it; s.mu is held.
func (s *Server) killLocked() error {
	return s.proc.kill()
}

// Stop sends SIGSTOP: the node hangs. The kernel still completes TCP
// handshakes into the listen backlog and buffers requests, but nothing is
// answered, so clients see timeouts rather than refused connections. Stop
// returns once the process is in the stopped state. Cont heals it.
func (s *Server) Stop() error {
	return s.jobControl("stop", true)
}

// Cont sends SIGCONT, healing a Stop: the server answers again, including
// the requests that were buffered while it hung.
func (s *Server) Cont() error {
	return s.jobControl("cont", false)
}

// jobControl implements Stop (stop == true) and Cont.
func (s *Server) jobControl(name string, stop bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if !s.runningLocked() {
		return fmt.Errorf("redisproc: %s %s: %w", name, s.addr, ErrNotRunning)
	}
	sig := sigCont
	if stop {
		sig = sigStop
	}
	err := s.proc.signal(sig)
	if err == nil {
		err = waitStopped(s.proc.pid(), stop)
	}
	if err != nil {
		return fmt.Errorf("redisproc: %s %s: %w", name, s.addr, err)
	}
	return nil
}

// Restart starts redis-server again after Kill (or a crash), on the same
// port and with the same directory, so with Persist the data comes back;
// without it the server comes up empty. It returns once PING answers. If the
// port is briefly held by another socket, it retries for a few seconds.
// Restarting a running server is an error: Kill it first.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.runningLocked() {
		return fmt.Errorf("redisproc: restart %s: still running (pid %d); Kill it first", s.addr, s.proc.pid())
	}
	deadline := time.Now().Add(restartWindow)
	for {
		err := s.bootLocked()
		if err == nil {
			return nil
		}
		if !errors.Is(err, errAddrInUse) || time.Now().After(deadline) {
			return fmt.Errorf("redisproc: restart: %w", err)
		}
		time.Sleep(restartPause)
	}
}
