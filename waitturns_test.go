package quorumlock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// registered returns how many waiters node i lists for key.
func registered(nodes *nodeset.Set, l *Locker, i int, key string) int {
	n := 0
	if keys, err := nodes.Nodes[i].M.ZMembers(l.waitKey(key)); err == nil {
		n = len(keys)
	}
	return n
}

// waitRegistered waits until every node lists n waiters for key. A waiter
// registers with its attempts: a node its first attempt did not reach in
// time lists it only from its next attempt on.
func waitRegistered(t *testing.T, nodes *nodeset.Set, l *Locker, key string, n int) {
	t.Helper()
	waitListed(t, nodes, l, key, n, len(nodes.Nodes))
}

// waitCame waits until a quorum of nodes lists n waiters for key: the
// latest waiter came. (Under load its first attempt may be decided on a
// quorum before it reaches the other nodes, which then list it only from
// its next attempt on, perhaps at the holder's expiry.)
func waitCame(t *testing.T, nodes *nodeset.Set, l *Locker, key string, n int) {
	t.Helper()
	waitListed(t, nodes, l, key, n, len(nodes.Nodes)/2+1)
}

// waitListed waits until at least want nodes list n waiters for key.
func waitListed(t *testing.T, nodes *nodeset.Set, l *Locker, key string, n, want int) {
	t.Helper()
	deadline := time.Now().Add(wakeBound)
	for {
		var lists []int
		listing := 0
		for i := range nodes.Nodes {
			lists = append(lists, registered(nodes, l, i, key))
			if lists[i] == n {
				listing++
			}
		}
		if listing >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes list %v waiters for %s, want %d on %d of them", lists, key, n, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// noneRegistered fails the test when a node lists a waiter for key.
func noneRegistered(t *testing.T, nodes *nodeset.Set, l *Locker, key, when string) {
	t.Helper()
	for i := range nodes.Nodes {
		if n := registered(nodes, l, i, key); n != 0 {
			t.Fatalf("node %d lists %d waiters %s", i, n, when)
		}
	}
}

// subscribed reports whether l has a waiter on rkey whose subscription a
// node confirmed.
func subscribed(l *Locker, rkey string) bool {
	l.room.mu.Lock()
	defer l.room.mu.Unlock()
	q := l.room.keys[rkey]
	return q != nil && q.readied
}

// trying reports whether a waiter of l on rkey is making an attempt.
func trying(l *Locker, rkey string) bool {
	l.room.mu.Lock()
	defer l.room.mu.Unlock()
	q := l.room.keys[rkey]
	return q != nil && slices.ContainsFunc(q.waiters, func(w *waiter) bool { return w.trying })
}

// TestWaitersAcrossLockersTakeTurns: six Lockers, one waiter each, come one
// after the other while a seventh holds the key. Each obtains it and
// releases it at once: they are served in the order they came, every one
// of them, and none is left among the key's waiters on any node.
func TestWaitersAcrossLockersTakeTurns(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	// A generous node timeout: the grace before a named waiter's turn
	// passes to the next is a tenth of it, 3s, far longer than a slow round
	// on a busy machine (the order is kept as long as each waiter takes its
	// turn within the grace).
	opts := []Option{WithNodeTimeout(30 * time.Second), slowPolling}
	holder := newTestLocker(t, nodes, opts...)
	ctx := context.Background()
	lock := obtainEverywhere(t, nodes, holder, "k", 5*time.Minute)
	const n = 6
	served := make(chan int, n)
	for i := range n {
		var rounds atomic.Int32
		l := newTestLocker(t, nodes, append(opts, WithHooks(Hooks{Round: func(e RoundEvent) {
			if e.Op == "obtain" && e.Key == "k" {
				rounds.Add(1)
			}
		}}))...)
		if warm, err := l.ObtainContext(ctx, "warm-up", 5*time.Minute, 0); err == nil { // connections open
			warm.Release()
		}
		go func() {
			lk, err := l.ObtainContext(ctx, "k", 5*time.Minute, time.Minute)
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				served <- -1
				return
			}
			served <- i
			lk.Release()
		}()
		waitRegistered(t, nodes, holder, "k", i+1) // waiter i came
		// and its Locker listens: a waiter whose subscription is confirmed
		// only after the release tries at once, and may come before its turn.
		// and its Locker listens, and it made its retry after the
		// subscription (a waiter whose subscription is confirmed only after
		// the release tries at once, and may come before its turn).
		deadline := time.Now().Add(wakeBound)
		for !subscribed(l, lock.rkey) || rounds.Load() < 2 || trying(l, lock.rkey) {
			if time.Now().After(deadline) {
				t.Fatalf("waiter %d: not waiting after its subscription", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	lock.Release()
	var order []int
	for range n {
		select {
		case i := <-served:
			order = append(order, i)
		case <-time.After(wakeBound):
			t.Fatalf("served %v, and then nobody for %v", order, wakeBound)
		}
	}
	if !slices.IsSorted(order) || slices.Contains(order, -1) {
		t.Fatalf("served in the order %v, want the order they came", order)
	}
	waitRegistered(t, nodes, holder, "k", 0)
}

// TestGoneWaiterCostsAGrace: the first waiter a release names is gone (its
// process died while it waited, so its lease has not run out); the next
// waiter takes its turn after the grace.
func TestGoneWaiterCostsAGrace(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	slow := WithNodeTimeout(5 * time.Second) // a call that is slow under load still lands
	holder := newTestLocker(t, nodes, slowPolling, slow)
	ctx := context.Background()
	lock := obtainEverywhere(t, nodes, holder, "k", time.Minute)
	far := float64(time.Now().Add(time.Hour).UnixMilli())
	for _, node := range nodes.Nodes {
		node.M.ZAdd(holder.waitKey("k"), 1, "ghost") // came first, long ago
		node.M.ZAdd(holder.leaseKey("k"), far, "ghost")
	}
	var mu sync.Mutex
	var rounds []string // the waiter's, for the failure's message
	w := newTestLocker(t, nodes, slowPolling, slow, WithHooks(Hooks{Round: func(e RoundEvent) {
		mu.Lock()
		defer mu.Unlock()
		rounds = append(rounds, fmt.Sprintf("%s %s: %d yes, %d no, %d failed in %v", e.Op, e.Outcome, e.Yes, e.No, e.Failed, e.Took))
	}}))
	got := make(chan error, 1)
	go func() {
		lk, err := w.ObtainContext(ctx, "k", time.Minute, time.Minute)
		if err == nil {
			lk.Release()
		}
		got <- err
	}()
	waitCame(t, nodes, holder, "k", 2)
	lock.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter behind a gone one: %v", err)
		}
	case <-time.After(wakeBound):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the waiter behind a gone one was not served within %v (its backoff is 20s); its rounds: %q", wakeBound, rounds)
	}
}

// TestWaiterLeavesTheNodes: a waiter whose wait runs out, and one whose
// context ends, are taken out of the key's waiters on every node.
func TestWaiterLeavesTheNodes(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes, WithNodeTimeout(2*time.Second)) // a call that is slow under load still lands
	ctx := context.Background()
	obtainEverywhere(t, nodes, l, "k", time.Minute) // held throughout
	if _, err := l.ObtainContext(ctx, "k", time.Minute, 500*time.Millisecond); !errors.Is(err, ErrNotObtained) {
		t.Fatalf("wait ran out: %v, want ErrNotObtained", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := l.ObtainContext(cctx, "k", time.Minute, time.Minute)
		done <- err
	}()
	waitCame(t, nodes, l, "k", 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	waitRegistered(t, nodes, l, "k", 0)
}

// heldThroughout returns three nodes where a holder of its own holds the
// key "k" for a minute, and a node timeout generous under load (a call that
// is slow still lands).
func heldThroughout(t *testing.T) (*nodeset.Set, *Locker, Option) {
	t.Helper()
	nodes := nodeset.Mini(t, 3)
	slow := WithNodeTimeout(2 * time.Second)
	holder := newTestLocker(t, nodes, slow)
	obtainEverywhere(t, nodes, holder, "k", time.Minute)
	return nodes, holder, slow
}

// TestClosedWaiterLeavesTheNodes: a waiter whose Locker is closed while it
// waits leaves the key's waiters on every node before Close returns, so
// that no release names it afterwards (each time it were named, the next
// waiter would lose a grace).
func TestClosedWaiterLeavesTheNodes(t *testing.T) {
	nodes, holder, slow := heldThroughout(t)
	ctx := context.Background()
	l := newTestLocker(t, nodes, slow)
	done := make(chan error, 1)
	go func() {
		_, err := l.ObtainContext(ctx, "k", time.Minute, time.Hour)
		done <- err
	}()
	waitCame(t, nodes, holder, "k", 1)
	l.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiter of a closed Locker: %v, want ErrClosed", err)
	}
	noneRegistered(t, nodes, holder, "k", "after Close")
}

// acquireAfterUnqueue is a go-redis hook that holds a waiter's first
// acquire on its client until an unqueue has run through this client, or
// the call's context ends (then it sends nothing). holding closes when it
// starts to hold it.
type acquireAfterUnqueue struct {
	passHooks
	once, unqueued sync.Once
	gone, holding  chan struct{}
}

func (h *acquireAfterUnqueue) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if runs(cmd, acquireScript) {
			first := false
			h.once.Do(func() { first = true })
			if first {
				close(h.holding)
				select {
				case <-h.gone:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		err := next(ctx, cmd)
		if runs(cmd, unqueueScript) {
			h.unqueued.Do(func() { close(h.gone) })
		}
		return err
	}
}

// TestWaiterLeavesAfterItsLastAttempt: a waiter whose context ends while
// its first attempt is still on its way to a node leaves that node's
// waiters after the attempt got there, not before (the attempt would list
// it again, and releases would name it until its lease ran out).
func TestWaiterLeavesAfterItsLastAttempt(t *testing.T) {
	nodes, holder, slow := heldThroughout(t)
	ctx := context.Background()
	var clients []redis.UniversalClient
	hook := &acquireAfterUnqueue{gone: make(chan struct{}), holding: make(chan struct{})}
	for i, n := range nodes.Nodes {
		c := redis.NewClient(&redis.Options{Addr: n.M.Addr()})
		if i == 2 {
			c.AddHook(hook)
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	l, err := New(clients, WithLogger(nil), slow, slowPolling)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := l.ObtainContext(cctx, "k", time.Minute, time.Minute)
		done <- err
	}()
	select { // its first attempt is on its way to node 2
	case <-hook.holding:
	case <-time.After(wakeBound):
		t.Fatalf("the waiter's first acquire did not reach node 2's client within %v", wakeBound)
	}
	// It failed on node 0 or 1. (Under load the round may be decided on
	// those before its call reaches the other: that node lists it only
	// from a later attempt on.)
	deadline := time.Now().Add(wakeBound)
	for registered(nodes, holder, 0, "k") != 1 && registered(nodes, holder, 1, "k") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the waiter's first attempt did not register it on node 0 or 1: %d, %d, %d", registered(nodes, holder, 0, "k"), registered(nodes, holder, 1, "k"), registered(nodes, holder, 2, "k"))
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	l.Close() // waits for what the waiter left running: its attempt's calls, its clean-up, its leaving
	noneRegistered(t, nodes, holder, "k", "once the waiter left")
}

// TestAcquireCountsOtherLockers: the acquire script of a waiter that
// obtains says whether waiters of other Lockers are left (so that it tells
// them the lock is taken), with many waiters as with few: a key with 40
// waiters of the caller's Locker alone has none of another.
func TestAcquireCountsOtherLockers(t *testing.T) {
	nodes := nodeset.Mini(t, 1)
	l := newTestLocker(t, nodes)
	ctx := context.Background()
	for _, tc := range []struct {
		ours    int
		foreign bool
		want    int64
	}{{5, false, 0}, {5, true, 1}, {40, false, 0}, {40, true, 1}} {
		key := fmt.Sprintf("k%d%v", tc.ours, tc.foreign)
		m := nodes.Nodes[0].M
		for i := range tc.ours {
			m.ZAdd(l.waitKey(key), float64(i), fmt.Sprintf("%s%03d", l.id, i))
		}
		if tc.foreign {
			m.ZAdd(l.waitKey(key), 100, "other123.x")
		}
		waiter := l.id + "me"
		args := []any{l.lockKey(key), l.lockKey(key), l.fenceKey(key), l.waitKey(key), l.leaseKey(key),
			"v", "1000", "", "0", "n", waiter, "1000", l.id, strconv.Itoa(tc.ours)}
		v, err := l.eval(ctx, 0, acquireScript, args...)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := v.([]any)
		if len(r) != 4 || asInt(r[0]) != 1 || asInt(r[1]) != tc.want {
			t.Fatalf("%d waiters of the caller's Locker, another's %v: reply %v, want others = %d", tc.ours, tc.foreign, v, tc.want)
		}
	}
}
