package quorumlock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// TestAcquireRunTwiceIsAYes: a client that retries an acquire whose reply
// was lost runs it twice on the node; the second run finds the attempt's own
// value. That is a yes: when the attempt fails, its clean-up must then
// remove the key, which must not block the lock for everyone for its ttl.
func TestAcquireRunTwiceIsAYes(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	rkey := l.lockKey("k")
	nodes.Set(1, nodeset.Held, rkey, time.Minute)
	nodes.Set(2, nodeset.Held, rkey, time.Minute)
	l.enter()
	_, _, err := l.attempt(context.Background(), "k", 10*time.Second, attemptHooks{note: func(v string) {
		// The first run of this very call landed on node 0; its reply was lost.
		nodes.Nodes[0].M.Set(rkey, v)
		nodes.Nodes[0].M.SetTTL(rkey, 10*time.Second)
	}})
	l.bg.Done()
	if !errors.Is(err, ErrNotObtained) {
		t.Fatalf("err = %v, want ErrNotObtained: nodes 1 and 2 are held", err)
	}
	settle(l)
	if v, _ := nodes.Nodes[0].M.Get(rkey); v != "" {
		t.Fatalf("node 0 still holds the failed attempt's value %q", v)
	}
}

// TestFailedAttemptsWakeNoWaiter: the clean-up of an attempt that failed
// (the lock is held elsewhere) is not a release: it must not wake waiters,
// who would only fail the same way and wake others in turn.
func TestFailedAttemptsWakeNoWaiter(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	a := newTestLocker(t, nodes)
	rkey := a.lockKey("k")
	for i := range 3 { // held elsewhere on a quorum; nodes 3 and 4 free
		nodes.Set(i, nodeset.Held, rkey, 700*time.Millisecond)
	}
	attempts := 0
	b := newTestLocker(t, nodes, WithHooks(Hooks{Obtain: func(e ObtainEvent) { attempts = e.Attempts }}))
	done := make(chan error, 1)
	go func() {
		_, err := b.ObtainContext(context.Background(), "k", time.Second, 500*time.Millisecond)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // b waits, subscribed
	for range 30 {
		if _, err := a.ObtainContext(context.Background(), "k", time.Second, 0); !errors.Is(err, ErrNotObtained) {
			t.Fatalf("a: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-done; !errors.Is(err, ErrNotObtained) {
		t.Fatalf("b: %v", err)
	}
	if attempts > 6 {
		t.Fatalf("b made %d attempts while the lock was held: woken by the clean-ups of 30 failed attempts", attempts)
	}
}
