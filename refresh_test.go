package quorumlock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
	"github.com/quorumlock/quorumlock/quorum"
)

// TestRefreshRacingExpiry: the validity runs out (Lost closes) just as a
// refresh round succeeds. The refresh must not report success for a lock
// that Lost already gave up, and the keys it extended must not stay behind
// with their fresh ttl (Release does nothing once the lock is lost).
func TestRefreshRacingExpiry(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	var lock *Lock
	l := newTestLocker(t, nodes, WithHooks(Hooks{Round: func(e RoundEvent) {
		if e.Op == "refresh" && lock != nil {
			lock.ended(errExpired) // the expiry timer fires now
		}
	}}))
	var err error
	lock, err = l.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	lost := lock.Lost()
	err = lock.RefreshContext(context.Background(), 10*time.Second)
	select {
	case <-lost:
	default:
		t.Fatal("Lost did not close")
	}
	if !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("Refresh = %v after Lost closed, want ErrLockNotHeld", err)
	}
	settle(l)
	if n := nodes.Holders(lock.rkey, lock.value); n != 0 {
		t.Fatalf("%d nodes still hold the lost lock", n)
	}
}

// TestShorteningRefreshThatMisses: a refresh to a shorter ttl that misses
// its quorum (or whose caller gives up) may still have landed on some
// nodes, which then expire the lock sooner. The lock's validity (Deadline,
// TTL, Lost) must follow the shorter ttl.
func TestShorteningRefreshThatMisses(t *testing.T) {
	t.Run("missed", func(t *testing.T) {
		nodes := nodeset.Mini(t, 3)
		l := newTestLocker(t, nodes)
		lock, err := l.ObtainContext(context.Background(), "k", time.Minute, 0)
		if err != nil {
			t.Fatal(err)
		}
		nodes.Set(1, nodeset.Hung, "", 0)
		nodes.Set(2, nodeset.Hung, "", 0)
		start := time.Now()
		var qe *QuorumError
		if err := lock.RefreshContext(context.Background(), time.Second); !errors.As(err, &qe) {
			t.Fatalf("Refresh = %v, want a QuorumError", err)
		}
		if left := lock.Deadline().Sub(start); left > time.Second {
			t.Fatalf("validity %v after a missed refresh to 1s that landed on node 0", left)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		nodes := nodeset.Mini(t, 3)
		l := newTestLocker(t, nodes)
		lock, err := l.ObtainContext(context.Background(), "k", time.Minute, 0)
		if err != nil {
			t.Fatal(err)
		}
		nodes.Set(1, nodeset.Hung, "", 0)
		nodes.Set(2, nodeset.Hung, "", 0)
		ctx, cancel := context.WithTimeout(context.Background(), testNodeTimeout/4)
		defer cancel()
		start := time.Now()
		if err := lock.RefreshContext(ctx, time.Second); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Refresh = %v, want the context's error", err)
		}
		if left := lock.Deadline().Sub(start); left > time.Second {
			t.Fatalf("validity %v after a cancelled refresh to 1s that landed on node 0", left)
		}
	})
}

// TestLateRefreshDoesNotShorten: a refresh's call may reach a node after a
// later refresh's (the client gave up on it, and it was still on its way).
// One that set a shorter time there would cut the later validity on that
// node, and with enough such nodes let another client in while the holder
// trusts its Deadline (found by the simulator: internal/sim, late refresh
// calls). A refresh only ever lengthens a key's time on a node.
func TestLateRefreshDoesNotShorten(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	ctx := context.Background()
	lock, err := l.ObtainContext(ctx, "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.RefreshContext(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	late := l.refreshCall(lock.rkey, lock.value, time.Second) // an earlier refresh, arriving now
	for i, n := range nodes.Nodes {
		if r := late(ctx, i); r.Vote != quorum.Yes {
			t.Fatalf("node %d: the late refresh: %+v, want yes (the node holds the lock)", i, r)
		}
		if d := n.M.TTL(lock.rkey); d <= 30*time.Second {
			t.Fatalf("node %d: the key's time is %v after a late refresh to 1s arrived, want the minute of the refresh after it", i, d)
		}
	}
	d, err := lock.TTLContext(ctx)
	if err != nil || d <= 30*time.Second {
		t.Fatalf("TTL = %v, %v after the late refresh; want about a minute", d, err)
	}
	// A refresh to a shorter ttl still shortens what the holder may trust.
	if err := lock.RefreshContext(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(lock.Deadline()); left > time.Second {
		t.Fatalf("Deadline %v ahead after Refresh(1s), want at most 1s", left)
	}
	if d := lock.TTL(); d > time.Second {
		t.Fatalf("TTL %v after Refresh(1s), want at most 1s", d)
	}
}
