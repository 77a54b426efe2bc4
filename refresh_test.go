package quorumlock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
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
