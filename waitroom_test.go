package quorumlock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// slowPolling makes a waiter that is not told of a release wait far longer
// than any test's bound: backoff 20s, and holders' locks last a minute.
var slowPolling = WithRetryBackoff(20*time.Second, 20*time.Second)

// wakeBound is generous against CI load and far below the 20s-60s a waiter
// would sleep without a wake-up.
const wakeBound = 10 * time.Second

func TestWaiterWakesOnRelease(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	l := newTestLocker(t, nodes, slowPolling)
	ctx := context.Background()
	a, err := l.ObtainContext(ctx, "k", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		b, err := l.ObtainContext(ctx, "k", time.Minute, time.Minute)
		if err == nil {
			b.Release()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond) // B is waiting
	released := time.Now()
	a.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
	case <-time.After(wakeBound):
		t.Fatalf("waiter not woken by the release within %v", wakeBound)
	}
	t.Logf("handoff took %v", time.Since(released))
}

// TestWaiterWakesOnAnyNode announces a release on one node only: the waiter
// must act on it, whichever node it is.
func TestWaiterWakesOnAnyNode(t *testing.T) {
	for i := range 3 {
		nodes := nodeset.Mini(t, 3)
		l := newTestLocker(t, nodes, slowPolling)
		ctx := context.Background()
		a, err := l.ObtainContext(ctx, "k", time.Minute, 0)
		if err != nil {
			t.Fatal(err)
		}
		settle(l)
		got := make(chan error, 1)
		go func() {
			b, err := l.ObtainContext(ctx, "k", time.Minute, time.Minute)
			if err == nil {
				b.Release()
			}
			got <- err
		}()
		waitSubscribed(t, nodes, a.rkey, 3)
		for _, n := range nodes.Nodes {
			n.M.Del(a.rkey) // the lock is gone everywhere...
		}
		nodes.Nodes[i].M.Publish(a.rkey, a.value) // ...but only node i says so
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("node %d: waiter: %v", i, err)
			}
		case <-time.After(wakeBound):
			t.Fatalf("node %d: waiter not woken by a release announced there", i)
		}
	}
}

// waitSubscribed waits until n nodes have a subscriber on channel.
func waitSubscribed(t *testing.T, nodes *nodeset.Set, channel string, n int) {
	t.Helper()
	deadline := time.Now().Add(wakeBound)
	for time.Now().Before(deadline) {
		c := 0
		for _, node := range nodes.Nodes {
			if node.M.PubSubNumSub(channel)[channel] > 0 {
				c++
			}
		}
		if c >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d nodes have a subscriber on %s", n, channel)
}

// TestWaitRoomWakesOneAndUnsubscribes checks the room itself: one wake-up
// per release however many nodes announce it, an unused wake-up handed on,
// and no subscription left once the waiters are gone.
func TestWaitRoomWakesOneAndUnsubscribes(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	if err := l.enter(); err != nil {
		t.Fatal(err)
	}
	defer l.bg.Done()
	r := &l.room
	r.linger = 0 // unsubscribe as soon as the last waiter leaves
	w1, w2, w3 := r.join("ch", "i1", "a1"), r.join("ch", "i2", "a2"), r.join("ch", "i3", "a3")
	waitSubscribed(t, nodes, "ch", 3)
	pending := func() (n []bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, w := range []*waiter{w1, w2, w3} {
			n = append(n, r.wokenNow(w))
		}
		return n
	}
	r.released("ch", "a2") // a waiter's own clean-up
	if p := pending(); p[0] || p[1] || p[2] {
		t.Fatalf("a waiter's own clean-up woke %v", p)
	}
	r.released("ch", "v1")
	r.released("ch", "v1") // the same release, from another node
	if p := pending(); !p[0] || p[1] || p[2] {
		t.Fatalf("after one release, wake-ups pending %v; want the first waiter only", p)
	}
	r.released("ch", "v2") // while the first has not tried yet: nobody more
	if p := pending(); !p[0] || p[1] || p[2] {
		t.Fatalf("a second announcement woke %v while the first waiter had not tried", p)
	}
	r.tried(w1) // the first waiter tries, fails (a node had not let go yet)...
	r.failed(w1)
	r.released("ch", "v1") // ...and the next node's announcement wakes it again, a late one too
	if p := pending(); !p[0] || p[1] || p[2] {
		t.Fatalf("after the first waiter tried, pending %v; want it woken again", p)
	}
	r.leave(w1, false) // leaves without using its wake-up: w2 gets it
	if p := pending(); !p[1] || p[2] {
		t.Fatalf("after the first waiter left, pending %v; want w2", p)
	}
	r.leave(w2, false)
	r.leave(w3, false)
	deadline := time.Now().Add(wakeBound)
	for _, n := range nodes.Nodes {
		for n.M.PubSubNumSub("ch")["ch"] > 0 {
			if time.Now().After(deadline) {
				t.Fatal("still subscribed after every waiter left")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if len(r.keys) != 0 {
		t.Fatalf("room still tracks %d keys", len(r.keys))
	}
}

// TestWaitRoomTakesTurns: a release names the first waiters of the key on
// the node, of every Locker: the first named of ours is woken after its
// turn's grace, none of ours after the named ones' turns; the other nodes'
// announcements of the same release wake that same waiter again, once it
// tried; the winner's announcement takes back the turns still to come,
// unless it comes after its own release.
func TestWaitRoomTakesTurns(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes, WithNodeTimeout(time.Minute)) // a grace of 6s: nothing comes due meanwhile
	if err := l.enter(); err != nil {
		t.Fatal(err)
	}
	defer l.bg.Done()
	r := &l.room
	w1, w2 := r.join("ch", "i1", "a1"), r.join("ch", "i2", "a2")
	defer r.leave(w1, false)
	defer r.leave(w2, false)
	grace := 6 * time.Second
	turns := func() (d []time.Duration) { // in graces, rounded; -1: not woken
		for _, w := range []*waiter{w1, w2} {
			if left, ok := r.dueIn(w); ok {
				d = append(d, (left+grace/2)/grace)
			} else {
				d = append(d, -1)
			}
		}
		return d
	}
	want := func(what string, w1turn, w2turn time.Duration) {
		t.Helper()
		if got := turns(); got[0] != w1turn || got[1] != w2turn {
			t.Fatalf("%s: turns %v, want [%d %d]", what, got, w1turn, w2turn)
		}
	}
	r.released("ch", "\x00other i2 i1\x00v1")
	want("a release naming another Locker's waiter, then w2", -1, 1)
	r.released("ch", "\x00i1\x00v1") // the same release from another node, which saw w1 first
	want("the same release from another node: one turn per release", -1, 1)
	r.tried(w2)
	r.failed(w2)
	r.released("ch", "\x00i1\x00v1") // w2 tried, and this node had not let go yet
	want("another node's announcement after w2 tried", -1, 0)
	r.tried(w2)
	r.released("ch", "\x00i1\x00v1") // while w2 tries: it is woken again, w1 is not
	want("another node's announcement while w2 tries", -1, 0)
	r.tried(w2)
	r.failed(w2)
	r.released("ch", "\x00x y\x00v2")
	want("a release naming none of ours", 2, -1)
	r.released("ch", "\x01v3") // v3 took the lock
	want("after the lock was taken", -1, -1)
	r.released("ch", "\x00x\x00v3")
	r.released("ch", "\x01v3") // v3's announcement, late, after its own release
	want("an announcement after its own release", 1, -1)
}

// TestWaiterSleepsUntilExpiry: a holder that never releases; the waiter
// learns its remaining time and takes the lock once it expires, though its
// backoff alone would have it sleep 20s.
func TestWaiterSleepsUntilExpiry(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3), slowPolling)
	ctx := context.Background()
	if _, err := l.ObtainContext(ctx, "k", 500*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	b, err := l.ObtainContext(ctx, "k", time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b.Release()
	if took := time.Since(began); took > wakeBound {
		t.Fatalf("took %v to get an expired lock", took)
	}
}

// TestExpiryWakesOneWaiterPerLocker: ten waiters of one Locker on a key
// whose holder never releases it. When it expires, the longest waiter
// comes at once and the others only after it had its turn (the node
// timeout later): no stampede of ten attempts at the moment of expiry.
func TestExpiryWakesOneWaiterPerLocker(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	holder := newTestLocker(t, nodes)
	const ttl = 600 * time.Millisecond
	if _, err := holder.ObtainContext(context.Background(), "k", ttl, 0); err != nil { // never released
		t.Fatal(err)
	}
	expires := time.Now().Add(ttl)
	var mu sync.Mutex
	var rounds []time.Time // of the waiters' acquire rounds
	w := newTestLocker(t, nodes, WithNodeTimeout(time.Second), WithHooks(Hooks{Round: func(e RoundEvent) {
		if e.Op == "obtain" {
			mu.Lock()
			rounds = append(rounds, time.Now())
			mu.Unlock()
		}
	}}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan *Lock, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if lock, err := w.ObtainContext(ctx, "k", 10*time.Second, 5*time.Second); err == nil {
				got <- lock
			}
		})
	}
	var lock *Lock
	select {
	case lock = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no waiter obtained the expired lock")
	}
	defer lock.Release()
	// A window after the expiry shorter than the node timeout: the others
	// cannot be in it however slow the machine.
	time.Sleep(time.Until(expires.Add(500 * time.Millisecond)))
	mu.Lock()
	at := 0
	for _, r := range rounds {
		if !r.Before(expires) && r.Before(expires.Add(500*time.Millisecond)) {
			at++
		}
	}
	mu.Unlock()
	cancel()
	wg.Wait()
	if at > 3 {
		t.Fatalf("%d acquire rounds within 500ms of the expiry from one Locker's 10 waiters, want the longest waiter's alone (and a retry or two)", at)
	}
}

// TestNextWaiterTakesTheFirstPlace: the longest waiter of a Locker gives
// up before the holder's key expires; the next one, which planned to come
// a node timeout after the expiry, is now the first and must come at the
// expiry itself.
func TestNextWaiterTakesTheFirstPlace(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	holder := newTestLocker(t, nodes)
	const ttl = 2 * time.Second
	if _, err := holder.ObtainContext(context.Background(), "k", ttl, 0); err != nil { // never released
		t.Fatal(err)
	}
	expires := time.Now().Add(ttl)
	w := newTestLocker(t, nodes, WithNodeTimeout(1500*time.Millisecond))
	first := make(chan error, 1)
	go func() {
		_, err := w.ObtainContext(context.Background(), "k", 10*time.Second, 300*time.Millisecond)
		first <- err
	}()
	time.Sleep(50 * time.Millisecond) // the first waiter is in the queue
	got := make(chan time.Time, 1)
	go func() {
		if lock, err := w.ObtainContext(context.Background(), "k", 10*time.Second, 10*time.Second); err == nil {
			got <- time.Now()
			lock.Release()
		}
		close(got)
	}()
	if err := <-first; !errors.Is(err, ErrNotObtained) {
		t.Fatalf("first waiter: %v, want ErrNotObtained once its wait ran out", err)
	}
	at, ok := <-got
	if !ok {
		t.Fatal("the second waiter did not obtain the expired lock")
	}
	if late := at.Sub(expires); late > time.Second {
		t.Fatalf("the second waiter came %v after the expiry: it kept the place of a later waiter", late)
	}
}

// TestWaitRoomHandsOnATurn: the waiter whose turn it is leaves without the
// lock, before its turn came or after it tried: the turn goes to the next
// waiter of this Locker, and later announcements of the release wake that
// one (found by review: they woke nobody, and the others slept on).
func TestWaitRoomHandsOnATurn(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes, WithNodeTimeout(time.Minute)) // a grace of 6s
	if err := l.enter(); err != nil {
		t.Fatal(err)
	}
	defer l.bg.Done()
	r := &l.room
	w1, w2, w3 := r.join("ch", "i1", "a1"), r.join("ch", "i2", "a2"), r.join("ch", "i3", "a3")
	due := func(w *waiter) (time.Duration, bool) { return r.dueIn(w) }
	// Before its turn came: w2 is named second, and leaves.
	r.released("ch", "\x00gone i2 i1\x00v1")
	if _, ok := due(w2); !ok {
		t.Fatal("w2 was not given its turn")
	}
	r.leave(w2, false)
	if _, ok := due(w1); !ok {
		t.Fatal("w2 left before its turn: the turn went to nobody")
	}
	// After it tried: w1, now the turn's waiter, tries, fails and leaves;
	// a later node's announcement must wake w3.
	r.tried(w1)
	r.failed(w1)
	r.leave(w1, false)
	r.tried(w3) // w3 used the wake-up it was handed, and failed too
	r.failed(w3)
	r.released("ch", "\x00i1\x00v1") // a node that had not let go says so now
	if d, ok := due(w3); !ok || d > 0 {
		t.Fatalf("a later announcement after the turn's waiter left: w3 due %v %v, want now", d, ok)
	}
	r.leave(w3, false)
}
