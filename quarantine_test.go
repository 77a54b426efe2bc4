package quorumlock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// TestFreshNodesDoNotWait: nodes that have never seen quorumlock (no
// markers anywhere) grant at once, and get their markers.
func TestFreshNodesDoNotWait(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	for _, n := range nodes.Nodes {
		n.M.Del(nodeset.MarkerKey)
	}
	l := newTestLocker(t, nodes)
	lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatalf("fresh nodes: %v", err)
	}
	lock.Release()
	settle(l)
	for i, n := range nodes.Nodes {
		if !n.M.Exists(nodeset.MarkerKey) {
			t.Fatalf("node %d has no marker after the first lock", i)
		}
	}
}

// TestRestartedNodeIsQuarantined: one node of three comes back without its
// data while the others keep theirs. It must grant nothing until the longest
// ttl has passed (miniredis cannot tell its uptime: the whole ttl), must
// still answer releases, and must grant again afterwards.
func TestRestartedNodeIsQuarantined(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	for _, n := range nodes.Nodes {
		n.M.Set(nodeset.MarkerKey, "500:1") // longest ttl granted: 500ms, long ago
	}
	var quarantined []int
	l := newTestLocker(t, nodes, WithHooks(Hooks{Node: func(e NodeEvent) {
		if e.Op == "quarantine" {
			quarantined = append(quarantined, e.Node)
		}
	}}))
	ctx := context.Background()
	nodes.Nodes[0].M.FlushAll() // node 0 restarted empty

	// Node 1 is held by another client: the lock needs node 0, which abstains.
	nodes.Nodes[1].M.Set(DefaultKeyPrefix+"lock:{k}", "other")
	_, err := l.ObtainContext(ctx, "k", 300*time.Millisecond, 0)
	if !errors.Is(err, ErrNotObtained) || !errors.Is(err, ErrRestartQuarantine) && !errors.Is(err, errNoMarker) {
		t.Fatalf("err = %v, want ErrNotObtained because node 0 abstains", err)
	}
	_, err = l.ObtainContext(ctx, "k", 300*time.Millisecond, 0)
	if !errors.Is(err, ErrRestartQuarantine) {
		t.Fatalf("second attempt: err = %v, want node 0 in restart quarantine", err)
	}
	if len(quarantined) != 1 || quarantined[0] != 0 {
		t.Fatalf("quarantine events for nodes %v, want [0]", quarantined)
	}
	if nodes.Nodes[0].M.Exists(DefaultKeyPrefix + "lock:{k}") {
		t.Fatal("the quarantined node granted the lock")
	}

	// Releases still reach it: a lock held on nodes 1 and 2 is removed from all.
	nodes.Nodes[1].M.Del(DefaultKeyPrefix + "lock:{k}")
	lock, err := l.ObtainContext(ctx, "j", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatalf("nodes 1 and 2 are a quorum: %v", err)
	}
	nodes.Nodes[0].M.Set(lock.rkey, lock.value) // as if it had landed there before
	lock.Release()
	settle(l)
	if nodes.Nodes[0].M.Exists(lock.rkey) {
		t.Fatal("the release skipped the quarantined node")
	}

	// After the longest ttl (500ms) it grants again, with its marker back.
	time.Sleep(1600 * time.Millisecond) // 500ms + the second of margin for uptime's granularity
	nodes.Nodes[1].M.Set(DefaultKeyPrefix+"lock:{k}", "other")
	lock, err = l.ObtainContext(ctx, "k", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatalf("after the quarantine: %v", err)
	}
	lock.Release()
	if !nodes.Nodes[0].M.Exists(nodeset.MarkerKey) {
		t.Fatal("the marker was not written back after the quarantine")
	}
}

// TestQuarantineOff: with WithRestartQuarantine(false) a restarted node
// grants at once (Redlock as published).
func TestQuarantineOff(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes, WithRestartQuarantine(false))
	nodes.Nodes[0].M.FlushAll()
	nodes.Nodes[1].M.Set(DefaultKeyPrefix+"lock:{k}", "other")
	lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatalf("quarantine off: %v", err)
	}
	lock.Release()
}

// TestRacingFirstLocksDoNotQuarantine: the first locks of a new deployment
// taken at once by several clients: some see nodes already marked by
// another, others not yet. No node is quarantined, and every lock is
// obtained.
func TestRacingFirstLocksDoNotQuarantine(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	for _, n := range nodes.Nodes {
		n.M.Del(nodeset.MarkerKey)
	}
	var mu sync.Mutex
	var quarantined []string
	hooks := WithHooks(Hooks{Node: func(e NodeEvent) {
		if e.Op == "quarantine" {
			mu.Lock()
			quarantined = append(quarantined, e.Addr)
			mu.Unlock()
		}
	}})
	var wg sync.WaitGroup
	for c := range 6 {
		l := newTestLocker(t, nodes, hooks)
		wg.Go(func() {
			for k := range 3 {
				lock, err := l.ObtainContext(context.Background(), fmt.Sprintf("c%d-k%d", c, k), time.Second, 2*time.Second)
				if err != nil {
					t.Errorf("client %d: %v", c, err)
					return
				}
				lock.Release()
			}
		})
	}
	wg.Wait()
	if len(quarantined) != 0 {
		t.Fatalf("fresh nodes quarantined: %v", quarantined)
	}
}

// TestMarkerRaceIsNotARestart: a client's first lock finds two of five
// nodes marked a moment ago (another client's first lock, still marking)
// and three without a marker, whose uptime miniredis cannot tell. The other
// client marks them while this one looks again: none is quarantined.
func TestMarkerRaceIsNotARestart(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	for i, n := range nodes.Nodes {
		n.M.Del(nodeset.MarkerKey)
		if i < 2 {
			n.M.Set(nodeset.MarkerKey, "1000:"+now)
		}
	}
	var quarantined []int
	l := newTestLocker(t, nodes, WithHooks(Hooks{Node: func(e NodeEvent) {
		if e.Op == "quarantine" {
			quarantined = append(quarantined, e.Node)
		}
	}}))
	racer := time.AfterFunc(testNodeTimeout/2, func() { // the other client's marking lands
		for _, n := range nodes.Nodes[2:] {
			n.M.Set(nodeset.MarkerKey, "1000:"+now)
		}
	})
	defer racer.Stop()
	lock, err := l.ObtainContext(context.Background(), "k", time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lock.Release()
	if len(quarantined) != 0 {
		t.Fatalf("nodes %v quarantined while another client was marking them", quarantined)
	}
}
