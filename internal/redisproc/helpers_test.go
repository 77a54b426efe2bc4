package redisproc

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clientTimeout is the per-request timeout of test clients; a hung node
// must turn into an error this fast.
const clientTimeout = 200 * time.Millisecond

// newClient returns a go-redis client for addr with short timeouts and no
// retries, closed at the end of the test.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:            addr,
		Protocol:        2,
		DisableIdentity: true,
		DialTimeout:     clientTimeout,
		ReadTimeout:     clientTimeout,
		WriteTimeout:    clientTimeout,
		MaxRetries:      -1,
		PoolSize:        2,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startServer starts one server for the test and closes it at the end.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	path := Require(t)
	begin := time.Now()
	s, err := Start(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started %s (pid %d) in %v", s.Addr(), s.Pid(), time.Since(begin))
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// processGone reports whether no process with pid exists any more.
func processGone(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	defer p.Release()
	err = p.Signal(syscall.Signal(0))
	return errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH)
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
