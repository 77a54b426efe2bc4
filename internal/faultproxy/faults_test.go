package faultproxy

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func TestDelayAddsLatencyBothWays(t *testing.T) {
	const d = 150 * time.Millisecond
	p := newProxy(t, startEcho(t))
	live := dial(t, p.Addr())
	mustEcho(t, live, "warm")

	p.Delay(d)
	if s := p.State(); s != "delay 150ms" {
		t.Fatalf("State = %q, want \"delay 150ms\"", s)
	}
	fresh := dial(t, p.Addr())
	for _, tc := range []struct {
		name string
		conn net.Conn
	}{{"live", live}, {"new", fresh}} {
		name, conn := tc.name, tc.conn
		start := time.Now()
		if err := echo(conn, []byte("ping-"+name), 5*time.Second); err != nil {
			t.Fatalf("%s: echo with delay: %v", name, err)
		}
		rtt := time.Since(start)
		// Each direction is held back d, so a round trip takes at least 2d.
		if rtt < 2*d || rtt > 2*d+2*time.Second {
			t.Fatalf("%s: round trip %v, want in [%v, %v)", name, rtt, 2*d, 2*d+2*time.Second)
		}
	}

	p.Delay(0)
	start := time.Now()
	mustEcho(t, live, "fast again")
	if rtt := time.Since(start); rtt >= d {
		t.Fatalf("round trip after Delay(0) = %v, want < %v", rtt, d)
	}
	if s := p.State(); s != "ok" {
		t.Fatalf("State = %q, want ok", s)
	}
}

func TestHealClearsDelay(t *testing.T) {
	const d = 300 * time.Millisecond
	p := newProxy(t, startEcho(t))
	c := dial(t, p.Addr())
	p.Delay(d)
	p.Heal()
	if s := p.State(); s != "ok" {
		t.Fatalf("State after Heal = %q, want ok", s)
	}
	start := time.Now()
	mustEcho(t, c, "x") // a delayed-but-not-blackholed link survives Heal
	if rtt := time.Since(start); rtt >= d {
		t.Fatalf("round trip after Heal = %v, want < %v", rtt, d)
	}
}

func TestBlackholeHangsAndHealRestores(t *testing.T) {
	p := newProxy(t, startEcho(t))
	live := dial(t, p.Addr())
	mustEcho(t, live, "before")

	p.Blackhole()
	if s := p.State(); s != "blackhole" {
		t.Fatalf("State = %q, want blackhole", s)
	}
	fresh := dial(t, p.Addr()) // accepted, like a hung node
	for _, tc := range []struct {
		name string
		conn net.Conn
	}{{"live", live}, {"new", fresh}} {
		name, conn := tc.name, tc.conn
		err := echo(conn, []byte("lost-"+name), 200*time.Millisecond)
		if !isTimeout(err) {
			t.Fatalf("%s: echo through blackhole: err = %v, want a timeout", name, err)
		}
	}

	p.Heal()
	if s := p.State(); s != "ok" {
		t.Fatalf("State after Heal = %q, want ok", s)
	}
	// Blackholed connections are cut, never replaying stale data.
	readFails(t, live)
	readFails(t, fresh)
	mustEcho(t, dial(t, p.Addr()), "after")
}

func TestBlackholeWithRedisClient(t *testing.T) {
	m := miniredis.RunT(t)
	p := newProxy(t, m.Addr())
	rdb := redis.NewClient(&redis.Options{
		Addr:         p.Addr(),
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
		MaxRetries:   -1,
	})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}

	p.Blackhole()
	if err := rdb.Set(ctx, "k", "v2", 0).Err(); !isTimeout(err) {
		t.Fatalf("SET through blackhole: err = %v, want timeout", err)
	}
	if v, _ := m.Get("k"); v != "v1" {
		t.Fatalf("blackholed write reached the backend: k=%q", v)
	}

	p.Heal()
	// The timed-out connection is discarded by go-redis; a retry loop is
	// not needed because Heal cut every blackholed connection.
	got, err := rdb.Get(ctx, "k").Result()
	if err != nil || got != "v1" {
		t.Fatalf("GET after Heal = %q, %v; want v1", got, err)
	}
}

// TestBlackholeDropsDataAlreadyDelayed checks that bytes read before
// Blackhole but still held back by Delay are never delivered afterwards.
func TestBlackholeDropsDataAlreadyDelayed(t *testing.T) {
	m := miniredis.RunT(t)
	p := newProxy(t, m.Addr())
	c := dial(t, p.Addr())
	p.Delay(300 * time.Millisecond)
	if _, err := c.Write([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the proxy has read it; it is queued
	p.Blackhole()
	time.Sleep(500 * time.Millisecond) // well past its release time
	if m.Exists("k") {
		t.Fatal("a command queued before Blackhole reached the backend after it")
	}
}

func TestRefuseFailsRequestsAndHealRestores(t *testing.T) {
	m := miniredis.RunT(t)
	p := newProxy(t, m.Addr())
	live := dial(t, p.Addr())
	if err := echoRedisPing(live); err != nil {
		t.Fatalf("PING before Refuse: %v", err)
	}

	p.Refuse()
	if s := p.State(); s != "refuse" {
		t.Fatalf("State = %q, want refuse", s)
	}
	readFails(t, live) // live connections are cut

	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer rdb.Close()
	ctx := context.Background()
	err := rdb.Ping(ctx).Err()
	if err == nil {
		t.Fatal("PING succeeded while refusing")
	}
	if isTimeout(err) {
		t.Fatalf("PING while refusing timed out (%v); want the connection closed", err)
	}

	p.Heal()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Heal: %v", err)
	}
}

// echoRedisPing sends a RESP PING on c and expects +PONG.
func echoRedisPing(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("got %q", buf)
	}
	return nil
}

func TestCutClosesLiveConnectionsOnly(t *testing.T) {
	p := newProxy(t, startEcho(t))
	a := dial(t, p.Addr())
	b := dial(t, p.Addr())
	mustEcho(t, a, "a")
	mustEcho(t, b, "b")

	p.Cut()
	readFails(t, a)
	readFails(t, b)
	if s := p.State(); s != "ok" {
		t.Fatalf("State after Cut = %q, want ok", s)
	}
	mustEcho(t, dial(t, p.Addr()), "new connections work")
}

// TestFaultsUnderTraffic flips every fault while clients hammer the proxy,
// for the race detector, then checks the proxy still works after Heal.
func TestFaultsUnderTraffic(t *testing.T) {
	t1, t2 := startEcho(t), startEcho(t)
	p := newProxy(t, t1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := []byte(fmt.Sprintf("client-%d", i))
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := dialNoT(p.Addr())
				if err != nil {
					continue
				}
				for range 5 {
					if echo(c, msg, 50*time.Millisecond) != nil {
						break
					}
				}
				_ = c.Close()
			}
		}()
	}
	faults := []func(){
		func() { p.Delay(time.Duration(rand.IntN(20)) * time.Millisecond) },
		p.Blackhole, p.Refuse, p.Cut, p.Heal,
		func() { p.SetTarget(t2) }, func() { p.SetTarget(t1) },
		func() { _ = p.State() },
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		faults[rand.IntN(len(faults))]()
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()

	p.Heal()
	mustEcho(t, dial(t, p.Addr()), "still alive")
}
