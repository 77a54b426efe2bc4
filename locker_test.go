package quorumlock

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

func TestInputErrors(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3))
	ctx := context.Background()
	cases := []struct {
		name      string
		key       string
		ttl, wait time.Duration
		want      error
	}{
		{"empty key", "", time.Second, 0, ErrInvalidKey},
		{"zero ttl", "k", 0, 0, ErrInvalidTTL},
		{"negative ttl", "k", -time.Second, 0, ErrInvalidTTL},
		{"ttl shorter than twice the node timeout", "k", testNodeTimeout, 0, ErrInvalidTTL},
		{"negative wait", "k", time.Second, -1, ErrInvalidWait},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if lock, ok := l.Obtain(c.key, c.ttl, c.wait); ok || lock != nil {
				t.Fatalf("Obtain succeeded")
			}
			if _, err := l.ObtainContext(ctx, c.key, c.ttl, c.wait); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	lock, err := l.ObtainContext(ctx, "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if err := lock.RefreshContext(ctx, 0); !errors.Is(err, ErrInvalidTTL) {
		t.Fatalf("Refresh(0): %v, want ErrInvalidTTL", err)
	}
	if lock.Refresh(-time.Second) {
		t.Fatal("Refresh(-1s) reported true")
	}
	if lock.TTL() <= 0 {
		t.Fatal("a rejected Refresh must leave the lock alone")
	}
}

func TestNilLockIsSafe(t *testing.T) {
	var k *Lock
	k.Release()
	if k.TTL() != 0 || k.Refresh(time.Second) || k.Key() != "" {
		t.Fatal("a nil lock must hold nothing")
	}
	if err := k.ReleaseContext(context.Background()); !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("ReleaseContext on nil: %v", err)
	}
}

func TestSeedFirstExample(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 5))
	a, ok := l.Obtain("test_lock", time.Minute, 0)
	if !ok {
		t.Fatal("A did not get the free lock")
	}
	if a.Key() != "test_lock" {
		t.Fatalf("Key() = %q", a.Key())
	}
	if _, ok := l.Obtain("test_lock", time.Minute, 0); ok {
		t.Fatal("B got the lock A holds")
	}
	if _, err := l.ObtainContext(context.Background(), "test_lock", time.Minute, 0); err != ErrNotObtained {
		t.Fatalf("B's error = %v, want exactly ErrNotObtained when every node answered", err)
	}
	a.Release()
	b, ok := l.Obtain("test_lock", time.Minute, 0)
	if !ok {
		t.Fatal("B did not get the lock after A released it")
	}
	b.Release()
}

func TestWaiterGetsLockAfterRelease(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3))
	a, err := l.ObtainContext(context.Background(), "k", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		a.Release()
	}()
	b, err := l.ObtainContext(context.Background(), "k", time.Minute, 5*time.Second)
	if err != nil {
		t.Fatalf("waiter: %v", err)
	}
	b.Release()
}

func TestWaitLongerThanTTL(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3))
	if _, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	// Never released: the waiter gets it once it expires.
	b, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 5*time.Second)
	if err != nil {
		t.Fatalf("waiter: %v", err)
	}
	b.Release()
}

func TestWaitRunsOut(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3))
	a, err := l.ObtainContext(context.Background(), "k", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	began := time.Now()
	_, err = l.ObtainContext(context.Background(), "k", time.Minute, 150*time.Millisecond)
	if !errors.Is(err, ErrNotObtained) {
		t.Fatalf("err = %v, want ErrNotObtained", err)
	}
	if took := time.Since(began); took < 150*time.Millisecond {
		t.Fatalf("gave up after %v, before the wait ran out", took)
	}
}

func TestCanceledContext(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.ObtainContext(ctx, "k", time.Minute, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}

	a, err := l.ObtainContext(context.Background(), "k", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := l.ObtainContext(ctx, "k", time.Minute, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting: err = %v, want context.Canceled", err)
	}
}

// TestCanceledAttemptLeavesNothing cancels an attempt while two of three
// nodes hang: whatever reached the third node must be removed again.
func TestCanceledAttemptLeavesNothing(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l, err := NewFromURLs(nodes.URLs(), WithNodeTimeout(time.Second), WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	nodes.Set(1, nodeset.Hung, "", 0)
	nodes.Set(2, nodeset.Hung, "", 0)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := l.ObtainContext(ctx, "k", 5*time.Second, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	l.Close()
	nodes.Reset()
	if h := nodes.Holders(DefaultKeyPrefix+"lock:{k}", ""); h != 0 {
		t.Fatalf("left behind: %v", nodes.Entries())
	}
	for _, e := range nodes.Entries() {
		if e.Key != DefaultKeyPrefix+"node" {
			t.Fatalf("left behind: %v", e)
		}
	}
}

func TestReleaseNeverDeletesAnotherHolder(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	ctx := context.Background()
	rkey := DefaultKeyPrefix + "lock:{k}"
	a, err := l.ObtainContext(ctx, "k", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.ObtainContext(ctx, "k", time.Minute, 2*time.Second) // once a expired
	if err != nil {
		t.Fatal(err)
	}
	settle(l)
	before := nodes.Holders(rkey, b.value)
	if err := a.ReleaseContext(ctx); !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("releasing an expired lock: %v, want ErrLockNotHeld", err)
	}
	if a.Refresh(time.Minute) {
		t.Fatal("refreshed an expired lock")
	}
	settle(l)
	if after := nodes.Holders(rkey, b.value); after != before || after < l.Quorum() {
		t.Fatalf("b held on %d nodes before a's release and %d after; want the same, at least %d", before, after, l.Quorum())
	}
	if d := b.TTL(); d < 50*time.Second {
		t.Fatalf("b's TTL %v", d)
	}
	b.Release()
}

func TestRefreshTakesBackALostNode(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	rkey := DefaultKeyPrefix + "lock:{k}"
	settle(l)
	nodes.Nodes[0].M.Del(rkey) // node 0 restarted empty, say
	if err := lock.RefreshContext(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := lock.TTL(); d < 9*time.Second || d > 10*time.Second {
		t.Fatalf("TTL after Refresh(10s) = %v", d)
	}
	settle(l)
	if h := nodes.Holders(rkey, lock.value); h != 3 {
		t.Fatalf("held on %d nodes after refresh, want 3", h)
	}
	for i, n := range nodes.Nodes {
		if ttl := n.M.TTL(rkey); ttl < 9*time.Second {
			t.Fatalf("node %d: ttl %v after Refresh(10s)", i, ttl)
		}
	}
}

func TestRefreshOfLostLockCleansUp(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	lock, err := l.ObtainContext(context.Background(), "k", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	rkey := DefaultKeyPrefix + "lock:{k}"
	settle(l)
	nodes.Nodes[0].M.Set(rkey, "thief") // lost on a quorum
	nodes.Nodes[1].M.Set(rkey, "thief")
	if err := lock.RefreshContext(context.Background(), time.Minute); !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("refresh of a lost lock: %v, want ErrLockNotHeld", err)
	}
	if d, err := lock.TTLContext(context.Background()); d != 0 || !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("TTL of a lost lock: %v, %v", d, err)
	}
	l.Close()
	if h := nodes.Holders(rkey, lock.value); h != 0 {
		t.Fatalf("a lost lock stayed on %d nodes", h)
	}
	if h := nodes.Holders(rkey, "thief"); h != 2 {
		t.Fatalf("the thief's keys were touched: %d left", h)
	}
}

func TestTTLTellsTheQuorumTruth(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	l := newTestLocker(t, nodes)
	lock, err := l.ObtainContext(context.Background(), "k", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	settle(l)
	rkey := DefaultKeyPrefix + "lock:{k}"
	// Remaining times 10s, 10s, 8s, 6s, 4s: fewer than a quorum hold it after 8s.
	nodes.Nodes[2].M.SetTTL(rkey, 8*time.Second)
	nodes.Nodes[3].M.SetTTL(rkey, 6*time.Second)
	nodes.Nodes[4].M.SetTTL(rkey, 4*time.Second)
	d := lock.TTL()
	if d > 8*time.Second || d < 7*time.Second {
		t.Fatalf("TTL = %v, want the quorum-th largest remaining time (8s) less the drift", d)
	}
	nodes.Nodes[0].M.Del(rkey)
	nodes.Nodes[1].M.Del(rkey)
	nodes.Nodes[2].M.Del(rkey)
	if d, err := lock.TTLContext(context.Background()); d != 0 || !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("TTL after the lock left a quorum = %v, %v; want 0, ErrLockNotHeld", d, err)
	}
}

// TestDefaultClientsAgainstHungNodes passes clients with go-redis defaults
// (5s read timeouts, retries): the node timeout still bounds every call.
func TestDefaultClientsAgainstHungNodes(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	var clients []redis.UniversalClient
	for _, a := range nodes.Addrs() {
		c := redis.NewClient(&redis.Options{Addr: a})
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	l, err := New(clients, WithNodeTimeout(testNodeTimeout), WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Warm the pools, then hang two nodes.
	if lock, err := l.ObtainContext(ctx, "warm", time.Second, 0); err == nil {
		lock.Release()
	}
	nodes.Set(3, nodeset.Hung, "", 0)
	nodes.Set(4, nodeset.Hung, "", 0)

	began := time.Now()
	lock, err := l.ObtainContext(ctx, "k", time.Second, 0)
	within(t, began, "obtain")
	if err != nil {
		t.Fatalf("obtain with 2 of 5 hung: %v", err)
	}
	began = time.Now()
	if d := lock.TTL(); d <= 0 {
		t.Fatalf("TTL %v", d)
	}
	within(t, began, "ttl")
	began = time.Now()
	if !lock.Refresh(time.Second) {
		t.Fatal("refresh failed")
	}
	within(t, began, "refresh")
	began = time.Now()
	lock.Release()
	within(t, began, "release")

	nodes.Set(2, nodeset.Hung, "", 0) // now a quorum is out of reach
	began = time.Now()
	_, err = l.ObtainContext(ctx, "k", time.Second, 0)
	within(t, began, "obtain without quorum")
	var qe *QuorumError
	if !errors.As(err, &qe) || !errors.Is(err, ErrNotObtained) {
		t.Fatalf("err = %v, want ErrNotObtained with a QuorumError", err)
	}
	// Healing cuts the hung connections so that the clients' own timeouts
	// need not run out before Close returns.
	nodes.Reset()
	l.Close()
}

func TestMutualExclusionUnderContention(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3), WithRetryBackoff(time.Millisecond, 5*time.Millisecond), WithNodeTimeout(time.Second))
	var inside, maxInside, obtained atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				lock, err := l.ObtainContext(context.Background(), "k", 5*time.Second, 20*time.Second)
				if err != nil {
					t.Errorf("obtain: %v", err)
					return
				}
				obtained.Add(1)
				if v := inside.Add(1); v > maxInside.Load() {
					maxInside.Store(v)
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				if err := lock.ReleaseContext(context.Background()); err != nil {
					t.Errorf("release: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if maxInside.Load() != 1 || obtained.Load() != 80 {
		t.Fatalf("max holders at once %d, obtained %d; want 1 and 80", maxInside.Load(), obtained.Load())
	}
}

func TestLockIsSafeForConcurrentUse(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3))
	lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				lock.TTL()
				lock.Refresh(time.Second)
			}
		})
	}
	wg.Go(func() { time.Sleep(5 * time.Millisecond); lock.Release() })
	wg.Wait()
	if lock.TTL() != 0 || lock.Refresh(time.Second) {
		t.Fatal("released lock still answers as held")
	}
}

func TestClose(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l, err := NewFromURLs(nodes.URLs(), WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.ObtainContext(context.Background(), "k", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	waiter := make(chan error, 1)
	go func() {
		_, err := l.ObtainContext(context.Background(), "k", time.Minute, time.Minute)
		waiter <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiter; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiter: %v, want ErrClosed", err)
	}
	if _, err := l.ObtainContext(context.Background(), "j", time.Minute, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("obtain after close: %v", err)
	}
	if err := a.ReleaseContext(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("release after close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
