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
		n += node.pool.(*hybridPool).pipelined.Load()
	}
	return n
}

// TestConcurrentCallsArePipelined: a call alone on its node goes straight
// through the client; concurrent ones share the auto-pipeliner, and all of
// them work.
func TestConcurrentCallsArePipelined(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	ctx := context.Background()
	warm, err := l.ObtainContext(ctx, "warm-up", time.Second, 0) // announces the ttl to the nodes
	if err != nil {
		t.Fatal(err)
	}
	warm.Release()
	settle(l)
	for _, node := range l.nodes {
		node.pool.(*hybridPool).pipelined.Store(0)
	}
	lock, err := l.ObtainContext(ctx, "alone", time.Second, 0)
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
				lock, err := l.ObtainContext(ctx, fmt.Sprintf("k%d-%d", g, i), time.Second, 0)
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
