package quorumlock

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

func pipelinedCalls(l *Locker) (n int64) {
	for _, node := range l.nodes {
		n += node.wire.pipelined.Load()
	}
	return n
}

// TestConcurrentCallsArePipelined: a call alone on its node goes straight
// through the client; concurrent ones share the auto-pipeliner, and all of
// them work.
func TestConcurrentCallsArePipelined(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes, WithNodeTimeout(2*time.Second)) // 160 calls at once under -race, on a busy machine: slow, not failed
	ctx := context.Background()
	warm, err := l.ObtainContext(ctx, "warm-up", 5*time.Second, 0) // announces the ttl to the nodes
	if err != nil {
		t.Fatal(err)
	}
	warm.Release()
	settle(l)
	for _, node := range l.nodes {
		node.wire.pipelined.Store(0)
	}
	lock, err := l.ObtainContext(ctx, "alone", 5*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	lock.Release()
	settle(l)
	if n := pipelinedCalls(l); n != 0 {
		t.Fatalf("%d calls pipelined with nothing else in flight", n)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 10 {
				lock, err := l.ObtainContext(ctx, fmt.Sprintf("k%d-%d", g, i), 5*time.Second, 0)
				if err != nil {
					t.Errorf("obtain: %v", err)
					return
				}
				if err := lock.ReleaseContext(ctx); err != nil {
					t.Errorf("release: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := pipelinedCalls(l); n == 0 {
		t.Fatal("no call was pipelined among 16 concurrent clients")
	}
	settle(l)
	for _, e := range nodes.Entries() {
		if e.Key != nodeset.MarkerKey {
			t.Fatalf("left behind: %v", e)
		}
	}
}

// TestRedsyncConnPath: a node without its own wire (the way for nodes given
// as redsync pools) runs every call through redsync's Conn: obtain, TTL,
// refresh, a waiter woken by the release, and nothing left behind.
func TestRedsyncConnPath(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	for i := range l.nodes {
		l.nodes[i].wire = nil
	}
	ctx := context.Background()
	lock := obtainEverywhere(t, nodes, l, "k", time.Minute) // then every node lists the waiter below
	if ttl, err := lock.TTLContext(ctx); err != nil || ttl <= 0 {
		t.Fatalf("TTL: %v, %v", ttl, err)
	}
	if err := lock.RefreshContext(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		lk, err := l.ObtainContext(ctx, "k", time.Minute, time.Minute)
		if err == nil {
			err = lk.ReleaseContext(ctx)
		}
		got <- err
	}()
	waitRegistered(t, nodes, l, "k", 1)
	if err := lock.ReleaseContext(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
	case <-time.After(wakeBound):
		t.Fatalf("the waiter was not served within %v", wakeBound)
	}
	settle(l)
	for _, e := range nodes.Entries() {
		if e.Key != nodeset.MarkerKey {
			t.Fatalf("left behind: %v", e)
		}
	}
}
