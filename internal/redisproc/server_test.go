package redisproc

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartSetGet(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	if host, _, err := net.SplitHostPort(s.Addr()); err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr() = %q", s.Addr())
	}
	if !s.Running() || s.Pid() == 0 {
		t.Fatalf("Running() = %v, Pid() = %d after Start", s.Running(), s.Pid())
	}
	c := newClient(t, s.Addr())
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v", got, err)
	}
}

func TestConfigArgs(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Args: []string{"--maxmemory", "10mb"}})
	c := newClient(t, s.Addr())
	ctx := context.Background()
	want := map[string]string{
		"maxmemory":  strconv.Itoa(10 << 20),
		"appendonly": "no",
		"save":       "",
		"bind":       "127.0.0.1",
	}
	for key, w := range want {
		got, err := c.ConfigGet(ctx, key).Result()
		if err != nil || got[key] != w {
			t.Errorf("CONFIG GET %s = %v, %v; want %q", key, got, err, w)
		}
	}
}

func TestKillRestart(t *testing.T) {
	for _, persist := range []bool{false, true} {
		t.Run("persist="+strconv.FormatBool(persist), func(t *testing.T) {
			t.Parallel()
			s := startServer(t, Config{Persist: persist})
			addr, pid := s.Addr(), s.Pid()
			c := newClient(t, addr)
			ctx := context.Background()
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}

			if err := s.Kill(); err != nil {
				t.Fatal(err)
			}
			if s.Running() || s.Pid() != 0 || !processGone(pid) {
				t.Fatalf("after Kill: Running() = %v, Pid() = %d, pid %d gone = %v", s.Running(), s.Pid(), pid, processGone(pid))
			}
			if err := c.Ping(ctx).Err(); err == nil {
				t.Fatal("PING succeeded on a killed server")
			}
			if err := s.Kill(); err != nil {
				t.Fatalf("second Kill: %v", err)
			}
			if err := s.Stop(); !errors.Is(err, ErrNotRunning) {
				t.Fatalf("Stop after Kill = %v, want ErrNotRunning", err)
			}

			begin := time.Now()
			if err := s.Restart(); err != nil {
				t.Fatal(err)
			}
			t.Logf("restart took %v", time.Since(begin))
			if s.Addr() != addr {
				t.Fatalf("Addr changed across restart: %s -> %s", addr, s.Addr())
			}
			if err := s.Restart(); err == nil {
				t.Fatal("Restart of a running server succeeded")
			}
			got, err := c.Get(ctx, "k").Result()
			switch {
			case persist && (err != nil || got != "v"):
				t.Fatalf("with Persist, GET k after restart = %q, %v; want v", got, err)
			case !persist && !errors.Is(err, redis.Nil):
				t.Fatalf("without Persist, GET k after restart = %q, %v; want nil", got, err)
			}
		})
	}
}

func TestStopCont(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	c := newClient(t, s.Addr())
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	err := c.Ping(ctx).Err()
	elapsed := time.Since(begin)
	if !isTimeout(err) {
		t.Fatalf("PING to a stopped server = %v, want a timeout", err)
	}
	if elapsed > 5*clientTimeout {
		t.Fatalf("timeout took %v", elapsed)
	}
	// A fresh connection is accepted by the kernel but not answered either.
	c2 := newClient(t, s.Addr())
	if err := c2.Ping(ctx).Err(); !isTimeout(err) {
		t.Fatalf("PING on a new connection to a stopped server = %v, want a timeout", err)
	}
	if !s.Running() || processGone(s.Pid()) {
		t.Fatal("a stopped server must still be running")
	}

	if err := s.Cont(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Cont: %v", err)
	}
}

func TestClose(t *testing.T) {
	for _, stop := range []bool{false, true} {
		t.Run("stopped="+strconv.FormatBool(stop), func(t *testing.T) {
			t.Parallel()
			path := Require(t)
			s, err := Start(path, Config{Persist: true})
			if err != nil {
				t.Fatal(err)
			}
			pid, dir := s.Pid(), s.dir
			if stop {
				if err := s.Stop(); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if !processGone(pid) {
				t.Fatalf("pid %d still exists after Close", pid)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("dir %s still exists after Close: %v", dir, err)
			}
			if s.Running() {
				t.Fatal("Running() after Close")
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if err := s.Kill(); err != nil {
				t.Fatalf("Kill after Close: %v", err)
			}
			for name, f := range map[string]func() error{"Restart": s.Restart, "Stop": s.Stop, "Cont": s.Cont} {
				if err := f(); !errors.Is(err, ErrClosed) {
					t.Errorf("%s after Close = %v, want ErrClosed", name, err)
				}
			}
		})
	}
}

// pickFirst returns a portPicker that offers port first and free ports
// after that, and counts the offers.
func pickFirst(port int, offers *int) portPicker {
	return func() (int, func(), error) {
		*offers++
		if *offers == 1 {
			return port, func() {}, nil
		}
		return reservePort()
	}
}

func TestStartRetriesWhenPortTaken(t *testing.T) {
	t.Parallel()
	path := Require(t)
	// A listener that accepts and never answers: the probe must not wait for
	// it but notice that redis-server exited on the bind failure.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port

	var offers int
	s, err := start(path, Config{}, pickFirst(busy, &offers))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if offers != 2 || s.port == busy {
		t.Fatalf("offers = %d, port = %d (busy %d); want a second port", offers, s.port, busy)
	}
	if err := newClient(t, s.Addr()).Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestStartIgnoresOtherServerOnPort(t *testing.T) {
	t.Parallel()
	path := Require(t)
	a := startServer(t, Config{})
	// b is offered a's port: a answers PING there, but b must see that the
	// answer is not from its own process and move on.
	var offers int
	b, err := start(path, Config{}, pickFirst(a.port, &offers))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if offers != 2 || b.Addr() == a.Addr() {
		t.Fatalf("offers = %d, b = %s, a = %s", offers, b.Addr(), a.Addr())
	}
}

func TestRestartWaitsForPort(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	const hold = 300 * time.Millisecond
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(hold)
		ln.Close()
	}()
	begin := time.Now()
	err = s.Restart()
	elapsed := time.Since(begin)
	<-released
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart behind a held port took %v", elapsed)
	if elapsed < hold {
		t.Fatalf("Restart succeeded after %v while the port was held for %v", elapsed, hold)
	}
	if err := newClient(t, s.Addr()).Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestStartFailureReportsLog(t *testing.T) {
	t.Parallel()
	path := Require(t)
	s, err := Start(path, Config{Args: []string{"--no-such-option", "x"}})
	if err == nil {
		s.Close()
		t.Fatal("Start with a bad option succeeded")
	}
	if !strings.Contains(err.Error(), "no-such-option") {
		t.Fatalf("error does not quote the log: %v", err)
	}
	t.Log(err)
}
