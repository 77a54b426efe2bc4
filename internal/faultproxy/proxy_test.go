package faultproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestNewRejectsBadTarget(t *testing.T) {
	if p, err := New("no-port"); err == nil {
		_ = p.Close()
		t.Fatal("New accepted a target without a port")
	}
}

func TestForwardsRedis(t *testing.T) {
	m := miniredis.RunT(t)
	p := newProxy(t, m.Addr())
	if p.Addr() == m.Addr() {
		t.Fatal("proxy address equals backend address")
	}

	rdb := redis.NewClient(&redis.Options{Addr: p.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET via proxy: %v", err)
	}
	got, err := rdb.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("GET via proxy = %q, %v; want \"v\"", got, err)
	}
	// The write really reached the backend.
	if v, err := m.Get("k"); err != nil || v != "v" {
		t.Fatalf("backend has k=%q (%v); want \"v\"", v, err)
	}
	if s := p.State(); s != "ok" {
		t.Fatalf("State = %q, want ok", s)
	}
}

// TestForwardsLargeStreamInOrder pushes a payload much larger than one
// chunk through a delayed proxy while reading concurrently, and checks that
// every byte comes back in order.
func TestForwardsLargeStreamInOrder(t *testing.T) {
	p := newProxy(t, startEcho(t))
	p.Delay(time.Millisecond)
	c := dial(t, p.Addr())

	payload := make([]byte, 4<<20)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))

	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Vary write sizes so chunk boundaries differ from read sizes.
		for off, i := 0, 1; off < len(payload); i++ {
			n := min(len(payload)-off, 1000*i%70000+1)
			if _, werr = c.Write(payload[off : off+n]); werr != nil {
				return
			}
			off += n
			if i == 50 {
				p.Delay(0) // changing the delay mid-stream must keep order
			}
		}
	}()
	got := make([]byte, len(payload))
	_, rerr := io.ReadFull(c, got)
	wg.Wait()
	if werr != nil || rerr != nil {
		t.Fatalf("write err %v, read err %v", werr, rerr)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("stream through proxy was corrupted or reordered")
	}
}

func TestSetTargetRedirectsNewConnections(t *testing.T) {
	m1 := miniredis.RunT(t)
	m2 := miniredis.RunT(t)
	m1.Set("who", "one")
	m2.Set("who", "two")
	p := newProxy(t, m1.Addr())
	ctx := context.Background()

	old := redis.NewClient(&redis.Options{Addr: p.Addr(), PoolSize: 1})
	defer old.Close()
	if got, err := old.Get(ctx, "who").Result(); err != nil || got != "one" {
		t.Fatalf("before SetTarget: %q, %v; want one", got, err)
	}

	p.SetTarget(m2.Addr())

	fresh := redis.NewClient(&redis.Options{Addr: p.Addr()})
	defer fresh.Close()
	if got, err := fresh.Get(ctx, "who").Result(); err != nil || got != "two" {
		t.Fatalf("new connection after SetTarget: %q, %v; want two", got, err)
	}
	// The live connection keeps its backend.
	if got, err := old.Get(ctx, "who").Result(); err != nil || got != "one" {
		t.Fatalf("live connection after SetTarget: %q, %v; want one", got, err)
	}

	// A backend "restart" on another port: old one gone, new one elsewhere.
	m1.Close()
	m3 := miniredis.RunT(t)
	m3.Set("who", "three")
	p.SetTarget(m3.Addr())
	p.Cut()
	if got, err := old.Get(ctx, "who").Result(); err != nil || got != "three" {
		t.Fatalf("after restart + SetTarget: %q, %v; want three", got, err)
	}
}

func TestUnreachableTargetClosesClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close() // nothing listens here any more

	p := newProxy(t, dead)
	c := dial(t, p.Addr())
	readFails(t, c)
}

func TestCloseStopsEverything(t *testing.T) {
	target := startEcho(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	addr := p.Addr()

	// A mix of live connections: a normal one, one with delayed data in
	// flight, and a blackholed one.
	normal := dial(t, addr)
	mustEcho(t, normal, "hi")
	for range 20 { // plenty of goroutines for Close to wait for
		mustEcho(t, dial(t, addr), "busy")
	}
	p.Delay(time.Hour)
	delayed := dial(t, addr)
	if _, err := delayed.Write([]byte("stuck in the queue")); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	hung := dial(t, addr)
	if _, err := hung.Write([]byte("into the void")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the proxy pick the bytes up

	// Called synchronously so nothing runs between its return and the
	// check below (a hang is caught by the test timeout).
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close must have waited: no proxy goroutine may still be running. One
	// that has done its last work (its deferred wg.Done let Close return)
	// may still be on its way out when the check runs on a busy machine, so
	// the check gives it a moment, far less than any work would take.
	left := proxyGoroutines()
	for deadline := time.Now().Add(time.Second); len(left) > 0 && time.Now().Before(deadline); left = proxyGoroutines() {
		time.Sleep(time.Millisecond)
	}
	if len(left) > 0 {
		t.Fatalf("%d proxy goroutines still running after Close:\n%s", len(left), strings.Join(left, "\n\n"))
	}

	if p.Addr() != addr {
		t.Fatalf("Addr after Close = %q, want %q", p.Addr(), addr)
	}
	for _, c := range []net.Conn{normal, delayed, hung} {
		readFails(t, c)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		// Something else may have grabbed the port, but not our proxy.
		_ = c.Close()
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Methods stay safe after Close.
	p.Heal()
	p.Cut()
	p.SetTarget(target)
	_ = p.State()
}
