package quorumlock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// lostBound is generous against load: every case here resolves in about a
// ttl of 300ms.
const lostBound = 10 * time.Second

type lostLog struct {
	mu     sync.Mutex
	causes []error
}

func (g *lostLog) hooks() Option {
	return WithHooks(Hooks{Lost: func(e LostEvent) {
		g.mu.Lock()
		g.causes = append(g.causes, e.Cause)
		g.mu.Unlock()
	}})
}

func (g *lostLog) get() []error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]error(nil), g.causes...)
}

func waitLost(t *testing.T, lock *Lock) {
	t.Helper()
	select {
	case <-lock.Lost():
	case <-time.After(lostBound):
		t.Fatal("Lost() did not close")
	}
}

func TestLostWhenValidityRunsOut(t *testing.T) {
	var g lostLog
	l := newTestLocker(t, nodeset.Mini(t, 3), g.hooks())
	lock, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := lock.Context(context.Background())
	waitLost(t, lock)
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, ErrLockNotHeld) || !errors.Is(cause, errExpired) {
		t.Fatalf("cause %v, want the validity ran out", cause)
	}
	if c := g.get(); len(c) != 1 || !errors.Is(c[0], errExpired) {
		t.Fatalf("Lost hook got %v", c)
	}
	if lock.Refresh(time.Second) {
		t.Fatal("refreshed a lock whose validity ran out")
	}
}

func TestKeepAliveHoldsAndReleaseEnds(t *testing.T) {
	var g lostLog
	l := newTestLocker(t, nodeset.Mini(t, 3), g.hooks())
	lock, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := lock.Context(context.Background())
	if err := lock.KeepAlive(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := lock.KeepAlive(context.Background()); err != nil {
		t.Fatalf("second KeepAlive: %v", err)
	}
	time.Sleep(time.Second) // three ttls
	select {
	case <-lock.Lost():
		t.Fatal("lost while kept alive")
	default:
	}
	if d := lock.TTL(); d <= 0 {
		t.Fatalf("TTL %v after three ttls kept alive", d)
	}
	if _, err := l.ObtainContext(context.Background(), "k", time.Second, 0); !errors.Is(err, ErrNotObtained) {
		t.Fatalf("another client got a kept-alive lock: %v", err)
	}
	lock.Release()
	waitLost(t, lock)
	if cause := context.Cause(ctx); !errors.Is(cause, errReleased) {
		t.Fatalf("cause after release %v", cause)
	}
	if c := g.get(); len(c) != 0 {
		t.Fatalf("a release is not a loss, yet the hook got %v", c)
	}
	if err := lock.KeepAlive(context.Background()); !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("KeepAlive after release: %v", err)
	}
}

// TestKeepAliveNoticesTheft: the lock vanishes from a quorum (another
// client took it after a fault): the next refresh finds it gone.
func TestKeepAliveNoticesTheft(t *testing.T) {
	var g lostLog
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes, g.hooks())
	lock, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.KeepAlive(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle0 := time.Now()
	for _, n := range nodes.Nodes[:2] {
		n.M.Set(lock.rkey, "thief")
	}
	waitLost(t, lock)
	if c := g.get(); len(c) != 1 || !errors.Is(c[0], errGone) {
		t.Fatalf("Lost hook got %v after %v", c, time.Since(settle0))
	}
	if h := nodes.Holders(lock.rkey, "thief"); h != 2 {
		t.Fatalf("the thief's keys were touched: %d left", h)
	}
}

// TestKeepAliveUnderHungMajority: two of three nodes hang; refreshes cannot
// reach a quorum, so the lock is lost when its validity runs out.
func TestKeepAliveUnderHungMajority(t *testing.T) {
	var g lostLog
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes, g.hooks())
	lock, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.KeepAlive(context.Background()); err != nil {
		t.Fatal(err)
	}
	nodes.Set(0, nodeset.Hung, "", 0)
	nodes.Set(1, nodeset.Hung, "", 0)
	ctx := lock.Context(context.Background())
	waitLost(t, lock)
	if cause := context.Cause(ctx); !errors.Is(cause, errExpired) {
		t.Fatalf("cause %v, want the validity ran out", cause)
	}
	nodes.Reset()
}

// TestKeepAliveStopsWithItsContext: the lock is then left to expire.
func TestKeepAliveStopsWithItsContext(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3))
	lock, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := lock.KeepAlive(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	waitLost(t, lock)
}

func TestNilLockIsLost(t *testing.T) {
	var k *Lock
	<-k.Lost()
	if ctx := k.Context(context.Background()); ctx.Err() == nil {
		t.Fatal("a nil lock's context is live")
	}
	if err := k.KeepAlive(context.Background()); !errors.Is(err, ErrLockNotHeld) {
		t.Fatal(err)
	}
}

// TestDeadlineEndsWithTheLock: once a lock is lost before its validity ran
// out (a refresh found it gone on a quorum, and it was removed from the
// nodes), Deadline no longer lies ahead: a holder that checks it before
// acting (docs/safety.md, rule 4) does not act on a lock another may hold.
// The same after a release. The simulator found it (seed 107 of
// internal/sim/testdata/keepalive-workload.patch).
func TestDeadlineEndsWithTheLock(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	lost, err := l.ObtainContext(context.Background(), "k", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Nodes[:2] {
		n.M.Set(lost.rkey, "thief")
	}
	if err := lost.RefreshContext(context.Background(), 10*time.Second); !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("refresh of a stolen lock: %v, want ErrLockNotHeld", err)
	}
	waitLost(t, lost)
	if d := lost.Deadline(); d.After(time.Now()) {
		t.Fatalf("lost, but Deadline is %v ahead", time.Until(d))
	}
	released, err := l.ObtainContext(context.Background(), "other", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := released.ReleaseContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := released.Deadline(); d.After(time.Now()) {
		t.Fatalf("released, but Deadline is %v ahead", time.Until(d))
	}
}
