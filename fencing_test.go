package quorumlock

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/faultproxy"
	"github.com/quorumlock/quorumlock/internal/nodeset"
)

func TestFenceIsZeroWithoutFencing(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3))
	lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if lock.Fence() != 0 {
		t.Fatalf("Fence() = %d without WithFencing", lock.Fence())
	}
}

func TestFencesIncreaseAcrossLockers(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	slow := WithNodeTimeout(time.Second) // a round slow under load still lands, and so does each release
	a := newTestLocker(t, nodes, WithFencing(), slow)
	b := newTestLocker(t, nodes, WithFencing(), slow)
	last := uint64(0)
	for i := range 10 {
		l := a
		if i%2 == 1 {
			l = b
		}
		lock, err := l.ObtainContext(context.Background(), "k", 5*time.Second, 0)
		if err != nil {
			t.Fatal(err)
		}
		if lock.Fence() <= last {
			t.Fatalf("obtain %d: token %d after %d", i, lock.Fence(), last)
		}
		last = lock.Fence()
		lock.Release()
	}
}

// TestFencesIncreaseAcrossQuorums is DESIGN.md's counter-example to "the
// max of the counters over the quorum": three obtains on three different
// quorums of three nodes. Without the write-back the third token repeats
// the second.
func TestFencesIncreaseAcrossQuorums(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes, WithFencing())
	var tokens []uint64
	for _, away := range []int{2, 0, 1} { // quorums {0,1}, {1,2}, {0,2}
		nodes.Set(away, nodeset.Hung, "", 0)
		lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
		if err != nil {
			t.Fatalf("without node %d: %v", away, err)
		}
		tokens = append(tokens, lock.Fence())
		lock.Release()
		settle(l)
		nodes.Nodes[away].Proxy.Heal()
	}
	for i := 1; i < len(tokens); i++ {
		if tokens[i] <= tokens[i-1] {
			t.Fatalf("tokens %v are not strictly increasing", tokens)
		}
	}
}

// TestFenceWhenRoundsOverlap: a token must exceed the previous holder's
// even when the next obtain's round began before the previous obtain had
// written its token back. Three nodes, two clients with links of their own:
//   - B's acquire lands on node 2 at once (counter 0), its call to node 0 is
//     delayed;
//   - A obtains on nodes 0 and 1 (node 2 is B's): token 1. Its write-back
//     reaches nodes 1 and 2 (node 2 never granted A) but not node 0;
//   - A releases; B's delayed call lands on node 0, free again, counter 0.
//
// Counting node 2's write-back let A return before node 0 knew of token 1,
// and B then obtained with token 1 as well.
func TestFenceWhenRoundsOverlap(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	var aLinks []*faultproxy.Proxy
	for _, n := range nodes.Nodes {
		aLinks = append(aLinks, n.Proxy)
	}
	var bURLs []string
	var bLinks []*faultproxy.Proxy
	for _, n := range nodes.Nodes {
		p, err := faultproxy.New(n.M.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		bLinks = append(bLinks, p)
		bURLs = append(bURLs, "redis://"+p.Addr())
	}
	var armed atomic.Bool
	// Node timeouts generous under load: A's rounds fail only where the
	// schedule makes them, and B's delayed call lands even if it needs a
	// new connection (dial, hello and check, each delayed).
	a := newTestLocker(t, nodes, WithFencing(), WithNodeTimeout(500*time.Millisecond), WithHooks(Hooks{Round: func(e RoundEvent) {
		switch {
		case !armed.Load():
		case e.Op == "obtain" && e.Outcome == "reached":
			aLinks[0].Blackhole() // A's write-back does not reach node 0
		case e.Op == "fence":
			aLinks[0].Heal() // what follows does: A's clean-up, or its release
		}
	}}))
	b, err := NewFromURLs(bURLs, WithFencing(), WithLogger(nil), WithNodeTimeout(8*time.Second), WithHooks(Hooks{Round: func(e RoundEvent) {
		if e.Op == "obtain" && armed.Load() {
			for _, p := range bLinks {
				p.Heal() // B's acquire landed: its write-back goes at once
			}
		}
	}}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	for _, l := range []*Locker{a, b} { // connections open, scripts loaded
		warm, err := l.ObtainContext(context.Background(), "warm-up", 20*time.Second, 0)
		if err != nil {
			t.Fatal(err)
		}
		warm.Release()
		settle(l) // no call of the warm-up left on a connection
	}
	armed.Store(true)
	rkey := a.lockKey("k")
	bLinks[0].Delay(1500 * time.Millisecond) // B reaches node 0 late: after A's fence round timed out there
	bLinks[1].Blackhole()                    // and node 1 not at all
	type result struct {
		lock *Lock
		err  error
	}
	bDone := make(chan result, 1)
	go func() {
		lock, err := b.ObtainContext(context.Background(), "k", 20*time.Second, 0)
		bDone <- result{lock, err}
	}()
	for !nodes.Nodes[2].M.Exists(rkey) { // B's key on node 2
		time.Sleep(time.Millisecond)
	}
	lockA, err := a.ObtainContext(context.Background(), "k", 10*time.Second, 0)
	aLinks[0].Heal()
	var tokens []uint64
	if err == nil {
		tokens = append(tokens, lockA.Fence())
		if err := lockA.ReleaseContext(context.Background()); err != nil {
			t.Fatalf("A's release: %v", err)
		}
	}
	r := <-bDone
	for _, p := range bLinks {
		p.Heal()
	}
	if r.err == nil {
		tokens = append(tokens, r.lock.Fence())
		r.lock.Release()
	}
	t.Logf("A: %v, B: %v, tokens %v", err, r.err, tokens)
	var qe *QuorumError
	if err != nil && !(errors.As(err, &qe) && qe.Op == "fence") {
		t.Fatalf("A failed with %v, want only its write-back missing", err)
	}
	if len(tokens) == 2 && tokens[1] <= tokens[0] {
		t.Fatalf("A obtained with token %d, then B with %d: not increasing", tokens[0], tokens[1])
	}
	if len(tokens) == 0 {
		t.Fatalf("nobody obtained: A %v, B %v", err, r.err)
	}
}
