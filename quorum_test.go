package quorumlock

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// TestQuorumEveryMix puts N = 1, 3 and 5 nodes in every mix of free, held
// by another client, down and hung, and checks that a lock is obtained
// exactly when a quorum is free and reachable, that it then holds on a
// quorum, that TTL, Refresh and Release work on that mix, that no call waits
// for a hung node past the node timeout, and that nothing is left behind.
func TestQuorumEveryMix(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			nodes := nodeset.Mini(t, n)
			for i, counts := range nodeset.Mixes(n) {
				states := nodeset.Mix(counts, i)
				t.Run(nodeset.Describe(states), func(t *testing.T) {
					checkMix(t, nodes, states, counts, false)
				})
			}
		})
	}
}

// checkMix runs the core cases on one mix. With staleOnHung, a node that was
// hung may keep a key of ours once resumed, provided it expires: a stopped
// redis-server executes the commands queued in its socket when it resumes,
// after the client gave up on them.
func checkMix(t *testing.T, nodes nodeset.Nodes, states []nodeset.State, counts [4]int, staleOnHung bool) {
	const key, ttl = "job", 2 * time.Second
	rkey := DefaultKeyPrefix + "lock:{" + key + "}"
	nodes.Reset()
	for i, st := range states {
		nodes.Set(i, st, rkey, time.Minute)
	}
	l := newTestLocker(t, nodes)
	ctx := context.Background()
	n, q := len(states), l.Quorum()
	free, held := counts[nodeset.Free], counts[nodeset.Held]

	began := time.Now()
	lock, err := l.ObtainContext(ctx, key, ttl, 0)
	within(t, began, "obtain")
	if wantOK := free >= q; (err == nil) != wantOK {
		t.Fatalf("obtain: err %v, want obtained=%v (free %d, quorum %d)", err, wantOK, free, q)
	}
	if err != nil {
		if !errors.Is(err, ErrNotObtained) {
			t.Fatalf("obtain: %v, want ErrNotObtained", err)
		}
		// A QuorumError when failures kept the quorum out; none when no node
		// failed. When both held and failed nodes could decide, either.
		var qe *QuorumError
		isQE := errors.As(err, &qe)
		if failedOut := held <= n-q; failedOut && !isQE || n-free-held == 0 && isQE {
			t.Fatalf("obtain: %v: QuorumError=%v with %d held, %d failed", err, isQE, held, n-free-held)
		}
		if qe != nil && len(qe.Answers) != n {
			t.Fatalf("QuorumError lists %d nodes, want %d: %v", len(qe.Answers), n, qe)
		}
	} else {
		if h := nodes.Holders(rkey, lock.value); h < q {
			t.Fatalf("lock obtained but held on %d nodes, quorum %d", h, q)
		}
		obtained := time.Now()
		d, err := lock.TTLContext(ctx)
		within(t, obtained, "ttl")
		if err != nil || d <= 0 || d > ttl-drift(ttl, DefaultDriftFactor) {
			t.Fatalf("TTL = %v, %v; want in (0, %v] (obtain took %v, ttl %v)", d, err, ttl-drift(ttl, DefaultDriftFactor), obtained.Sub(began), time.Since(obtained))
		}
		began = time.Now()
		err = lock.RefreshContext(ctx, 3*ttl)
		within(t, began, "refresh")
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if d, err := lock.TTLContext(ctx); err != nil || d <= ttl {
			t.Fatalf("TTL after Refresh(%v) = %v, %v; want more than %v", 3*ttl, d, err, ttl)
		}
		began = time.Now()
		err = lock.ReleaseContext(ctx)
		within(t, began, "release")
		if err != nil {
			t.Fatalf("release: %v", err)
		}
		if d := lock.TTL(); d != 0 {
			t.Fatalf("TTL after release = %v, want 0", d)
		}
		if err := lock.ReleaseContext(ctx); !errors.Is(err, ErrLockNotHeld) {
			t.Fatalf("second release: %v, want ErrLockNotHeld", err)
		}
		if err := lock.RefreshContext(ctx, ttl); !errors.Is(err, ErrLockNotHeld) {
			t.Fatalf("refresh after release: %v, want ErrLockNotHeld", err)
		}
	}

	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if r, ok := nodes.(*nodeset.Real); ok {
		r.Resume()
		time.Sleep(20 * time.Millisecond) // let a resumed node run what was queued
	}
	others := 0
	for _, e := range nodes.Entries() {
		switch {
		case e.Value == nodeset.OtherValue:
			others++
		case e.Key == DefaultKeyPrefix+"node": // the node's marker stays
		case staleOnHung && states[e.Node] == nodeset.Hung && e.TTL > 0 && e.TTL <= 3*ttl:
		default:
			t.Fatalf("left behind after close: %v (all: %v)", e, nodes.Entries())
		}
	}
	if others != held {
		t.Fatalf("%d keys of the other client at the end, want %d: %v", others, held, nodes.Entries())
	}
}

// TestQuorumRealServers runs the same cases on five redis-server processes:
// down is a SIGKILL, hung a SIGSTOP.
func TestQuorumRealServers(t *testing.T) {
	nodes := nodeset.StartReal(t, 5)
	for i, counts := range nodeset.Mixes(5) {
		states := nodeset.Mix(counts, i)
		t.Run(nodeset.Describe(states), func(t *testing.T) {
			checkMix(t, nodes, states, counts, true)
		})
	}
}
