package redisproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// startAttempts is how many ports Start tries before giving up, when
// redis-server cannot bind the port it was given.
const startAttempts = 5

// killTimeout bounds the wait for a process to exit after SIGKILL.
const killTimeout = 10 * time.Second

// ErrClosed is returned by methods of a Server after Close.
var ErrClosed = errors.New("redisproc: server closed")

// ErrNotRunning is returned by Stop and Cont when the server process is not
// running (it was killed, or it crashed).
var ErrNotRunning = errors.New("redisproc: server not running")

// errAddrInUse means redis-server could not bind its port.
var errAddrInUse = errors.New("address already in use")

// Server is one redis-server process on 127.0.0.1 with a fixed port for its
// whole life, and its own temporary directory for data and logs. Its methods
// are safe for concurrent use.
type Server struct {
	path    string
	cfg     Config
	dir     string
	port    int
	addr    string
	release func() // gives the port reservation back

	mu     sync.Mutex
	proc   *process // current or last run; nil only before the first
	closed bool
}

// Start starts redis-server (path as returned by Require or Available) on a
// free loopback port and returns once it answers PING, or with an error that
// includes the tail of its log after at most about 5s. If the port turns out
// to be taken by the time redis-server binds it, Start tries another one.
// The caller must Close the server.
func Start(path string, cfg Config) (*Server, error) {
	return start(path, cfg, reservePort)
}

// start is Start with the port choice injected.
func start(path string, cfg Config, pick portPicker) (*Server, error) {
	if platformErr != nil {
		return nil, platformErr
	}
	dir, err := os.MkdirTemp("", "redisproc-")
	if err != nil {
		return nil, fmt.Errorf("redisproc: %w", err)
	}
	var lastErr error
	for range startAttempts {
		port, release, err := pick()
		if err != nil {
			lastErr = err
			break
		}
		s := &Server{
			path:    path,
			cfg:     cfg,
			dir:     dir,
			port:    port,
			addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			release: release,
		}
		s.mu.Lock()
		err = s.bootLocked()
		s.mu.Unlock()
		if err == nil {
			return s, nil
		}
		release()
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	_ = os.RemoveAll(dir)
	return nil, fmt.Errorf("redisproc: start %s: %w", path, lastErr)
}

// bootLocked launches redis-server on s.port and waits for it. On failure
// the process is gone and the error carries the new part of the log; it
// wraps errAddrInUse when the port could not be bound.
func (s *Server) bootLocked() error {
	mark := markLogs(s.dir)
	p, err := launch(s.path, s.cfg.args(s.port, s.dir), s.dir)
	if err != nil {
		return err
	}
	err = waitReady(p, s.addr)
	if err == nil {
		s.proc = p
		return nil
	}
	if kerr := p.kill(); kerr != nil {
		err = errors.Join(err, kerr)
	}
	log := mark.since(s.dir)
	if addrInUse(log) {
		err = fmt.Errorf("%w: %w", errAddrInUse, err)
	}
	return fmt.Errorf("redis-server on %s: %w\n--- log tail (%s) ---\n%s", s.addr, err, s.dir, tail(log))
}

// Addr returns "127.0.0.1:port". It stays the same across Kill and Restart.
func (s *Server) Addr() string { return s.addr }

// Running reports whether the redis-server process is alive (a stopped,
// hanging process counts as running).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningLocked()
}

// runningLocked is Running with s.mu held.
func (s *Server) runningLocked() bool {
	return s.proc != nil && !s.proc.exited()
}

// Pid returns the process id of the running redis-server, or 0 when it is
// not running.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.runningLocked() {
		return 0
	}
	return s.proc.pid()
}

// Close kills the server if it is running (a stopped one too: it gets
// SIGKILL and then SIGCONT), waits for it to exit and removes its temporary
// directory, logs and data included. It is idempotent:
// later calls return nil.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.runningLocked() {
		errs = append(errs, s.killLocked())
	}
	s.release()
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redisproc: close %s: %w", s.addr, err)
	}
	return nil
}
