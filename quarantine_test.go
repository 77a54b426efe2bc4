package quorumlock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// quarantineLog records the nodes put in restart quarantine.
type quarantineLog struct {
	mu    sync.Mutex
	nodes []int
}

func (g *quarantineLog) hooks() Option {
	return WithHooks(Hooks{Node: func(e NodeEvent) {
		if e.Op == "quarantine" {
			g.mu.Lock()
			g.nodes = append(g.nodes, e.Node)
			g.mu.Unlock()
		}
	}})
}

func (g *quarantineLog) get() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.nodes...)
}

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
		if v, _ := n.M.Get(nodeset.MarkerKey); !strings.HasPrefix(v, "1000:1000:0:") {
			t.Fatalf("node %d's marker after the first lock is %q, want it granting and announcing 1s", i, v)
		}
	}
}

// TestRestartedNodeIsQuarantined: one node of three comes back without its
// data while the others keep theirs, which granted up to 500ms. It must
// grant nothing for 500ms (miniredis cannot tell its uptime: since now),
// must still answer releases, and must grant again afterwards.
func TestRestartedNodeIsQuarantined(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	for _, n := range nodes.Nodes {
		n.M.Set(nodeset.MarkerKey, markerWith(t, nil, 500*time.Millisecond))
	}
	var g quarantineLog
	l := newTestLocker(t, nodes, g.hooks())
	ctx := context.Background()
	nodes.Nodes[0].M.FlushAll() // node 0 restarted empty

	// Node 1 is held by another client: the lock needs node 0, which abstains.
	rkey := l.lockKey("k")
	nodes.Set(1, nodeset.Held, rkey, time.Minute)
	for try := range 2 {
		settle(l) // the first attempt's clean-up is done
		_, err := l.ObtainContext(ctx, "k", 300*time.Millisecond, 0)
		if !errors.Is(err, ErrNotObtained) || !errors.Is(err, ErrRestartQuarantine) {
			t.Fatalf("attempt %d: err = %v, want ErrNotObtained because node 0 is in restart quarantine", try, err)
		}
	}
	if q := g.get(); len(q) != 1 || q[0] != 0 {
		t.Fatalf("quarantine events for nodes %v, want [0]", q)
	}
	if nodes.Nodes[0].M.Exists(rkey) {
		t.Fatal("the quarantined node granted the lock")
	}
	st, err := l.Inspect(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Nodes[0]; !n.Quarantined || n.QuarantineLeft <= 0 || n.QuarantineLeft > 500*time.Millisecond {
		t.Fatalf("Inspect says node 0: quarantined %v for %v, want for at most 500ms", n.Quarantined, n.QuarantineLeft)
	}

	// Releases still reach it: a lock held on nodes 1 and 2 is removed from all.
	nodes.Nodes[1].M.Del(rkey)
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

	// After the longest ttl (500ms) it grants again.
	time.Sleep(600 * time.Millisecond)
	nodes.Set(1, nodeset.Held, rkey, time.Minute)
	lock, err = l.ObtainContext(ctx, "k", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatalf("after the quarantine: %v", err)
	}
	lock.Release()
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
	var g quarantineLog
	var wg sync.WaitGroup
	for c := range 6 {
		l := newTestLocker(t, nodes, g.hooks(), WithNodeTimeout(2*time.Second)) // slow under load, not failed
		wg.Go(func() {
			for k := range 3 {
				lock, err := l.ObtainContext(context.Background(), fmt.Sprintf("c%d-k%d", c, k), 5*time.Second, 0)
				if err != nil {
					t.Errorf("client %d: %v", c, err)
					return
				}
				lock.Release()
			}
		})
	}
	wg.Wait()
	if q := g.get(); len(q) != 0 {
		t.Fatalf("fresh nodes quarantined: %v", q)
	}
}

// TestPendingNodesJoinAFreshMarking: a client that marked two of five new
// nodes has not reached the other three yet; another client finds those
// pending, with the ids the first one saw. They have granted nothing since:
// they join the marking, without quarantine.
func TestPendingNodesJoinAFreshMarking(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	for _, n := range nodes.Nodes {
		n.M.Del(nodeset.MarkerKey)
	}
	var g quarantineLog
	l := newTestLocker(t, nodes, g.hooks())
	ctx := context.Background()
	l.enter()
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = l.readMarker(ctx, i, "n").id
	}
	l.bg.Done()
	for i := range 2 { // the first client's marks that landed
		nodes.Nodes[i].M.Set(nodeset.MarkerKey, "0:1000:0::"+strings.Join(ids, ","))
	}
	lock, err := l.ObtainContext(ctx, "k", time.Second, 0)
	if err != nil {
		t.Fatalf("obtain: %v", err)
	}
	lock.Release()
	if q := g.get(); len(q) != 0 {
		t.Fatalf("nodes %v quarantined", q)
	}
	for i := 2; i < 5; i++ {
		if v, _ := nodes.Nodes[i].M.Get(nodeset.MarkerKey); strings.HasPrefix(v, "p:") || !strings.HasSuffix(v, ":"+strings.Join(ids, ",")) {
			t.Fatalf("node %d's marker %q: not joined to the fresh marking", i, v)
		}
	}
}

// TestMarkNeverLandsOnALaterStart: a mark decided about one start of a
// node (its pending id) does nothing once the node started again.
func TestMarkNeverLandsOnALaterStart(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	ctx := context.Background()
	nodes.Nodes[0].M.FlushAll()
	l.enter()
	defer l.bg.Done()
	old := l.readMarker(ctx, 0, "n")
	if !old.pending || old.id == "" {
		t.Fatalf("after a restart node 0 reads %+v, want pending with an id", old)
	}
	nodes.Nodes[0].M.FlushAll() // it starts again
	now := l.readMarker(ctx, 0, "n")
	if now.id == old.id {
		t.Fatalf("two starts share the pending id %q", now.id)
	}
	for _, mode := range []string{"f", "j", "e"} {
		v, err := l.eval(ctx, 0, markScript, l.markerKey(), old.id, mode, "0", "1000", "", "3600000")
		if err != nil {
			t.Fatal(err)
		}
		if r := v.([]any); asInt(r[0]) == 1 {
			t.Fatalf("mode %s: marked with the id of an earlier start", mode)
		}
	}
	if st := l.readMarker(ctx, 0, "n"); !st.pending || st.id != now.id {
		t.Fatalf("node 0 reads %+v, want still pending as %q", st, now.id)
	}
}

// TestLongerTTLIsAnnouncedFirst: a node grants a ttl longer than its C only
// once a quorum was told of it. With two of three nodes hung, the announce
// misses its quorum: no node may grant the longer ttl, though node 0 was
// told of it.
func TestLongerTTLIsAnnouncedFirst(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	for _, n := range nodes.Nodes {
		n.M.Set(nodeset.MarkerKey, markerWith(t, nil, time.Second))
	}
	l := newTestLocker(t, nodes)
	nodes.Set(1, nodeset.Hung, "", 0)
	nodes.Set(2, nodeset.Hung, "", 0)
	if _, err := l.ObtainContext(context.Background(), "k", 5*time.Second, 0); err == nil {
		t.Fatal("obtained with two of three nodes hung")
	}
	settle(l)
	if v, _ := nodes.Nodes[0].M.Get(nodeset.MarkerKey); v != "1000:5000:0::" {
		t.Fatalf("node 0's marker %q, want 5s announced and not granted", v)
	}
	nodes.Nodes[1].Proxy.Heal()
	nodes.Nodes[2].Proxy.Heal()
	lock, err := l.ObtainContext(context.Background(), "k", 5*time.Second, 0)
	if err != nil {
		t.Fatalf("with every node up: %v", err)
	}
	lock.Release()
	granting := 0
	for _, n := range nodes.Nodes {
		if v, _ := n.M.Get(nodeset.MarkerKey); v == "5000:5000:0::" {
			granting++
		}
	}
	if granting < l.Quorum() {
		t.Fatalf("%d nodes announced and granted 5s, want at least a quorum", granting)
	}
}

// TestHealthyNodesCostOneRound: on nodes that keep their markers and were
// told of the ttl, an obtain is one round: the quarantine adds no round trip.
func TestHealthyNodesCostOneRound(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	for _, n := range nodes.Nodes {
		n.M.Set(nodeset.MarkerKey, markerWith(t, nil, time.Second))
	}
	var mu sync.Mutex
	var rounds []string
	l := newTestLocker(t, nodes, WithHooks(Hooks{Round: func(e RoundEvent) {
		mu.Lock()
		rounds = append(rounds, e.Op)
		mu.Unlock()
	}}))
	lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(rounds, ",")
	mu.Unlock()
	if got != "obtain" {
		t.Fatalf("rounds %q, want one obtain round", got)
	}
	lock.Release()
}

// TestQuarantinedNodeRefreshesItsHolder: a node in quarantine grants no new
// lock, but extends the lock it already holds.
func TestQuarantinedNodeRefreshesItsHolder(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	for _, n := range nodes.Nodes {
		n.M.Set(nodeset.MarkerKey, markerWith(t, nil, time.Second))
	}
	l := newTestLocker(t, nodes)
	lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	later := time.Now().Add(time.Hour).UnixMilli()
	nodes.Nodes[0].M.Set(nodeset.MarkerKey, fmt.Sprintf("1000:1000:%d::", later))
	nodes.Set(1, nodeset.Hung, "", 0)
	if err := lock.RefreshContext(context.Background(), time.Second); err != nil {
		t.Fatalf("refresh through the quarantined node 0 and node 2: %v", err)
	}
}

// TestBoundMarksAnOldStart: a pending node without enough evidence (two of
// three nodes hung) stays pending while it has been up for less than the
// maximum ttl, and is marked, granting nothing longer until told, once it
// has been up for longer (whole seconds counted safely).
func TestBoundMarksAnOldStart(t *testing.T) {
	nodes := nodeset.StartReal(t, 3)
	restartEmpty(t, nodes, 0)
	time.Sleep(2500 * time.Millisecond)
	nodes.Set(1, nodeset.Hung, "", 0)
	nodes.Set(2, nodeset.Hung, "", 0)
	defer nodes.Resume()
	c := direct(t, nodes, 0)
	for _, maxTTL := range []time.Duration{time.Hour, time.Second} {
		l := newTestLocker(t, nodes, WithMaxTTL(maxTTL))
		if _, err := l.ObtainContext(context.Background(), "k", 500*time.Millisecond, 0); err == nil {
			t.Fatal("obtained with two of three nodes hung")
		}
		settle(l)
		v, _ := c.Get(context.Background(), nodeset.MarkerKey).Result()
		switch {
		case maxTTL == time.Hour && !strings.HasPrefix(v, "p:"):
			t.Fatalf("up 2.5s, maximum ttl 1h: marker %q, want still pending", v)
		case maxTTL == time.Second && !strings.HasPrefix(v, "0:1000:0:"):
			t.Fatalf("up 2.5s, maximum ttl 1s: marker %q, want marked by the bound", v)
		}
	}
}

// TestRestartsInARowStayLive: three of five nodes restarted empty one after
// the other; each waits for N-q+1 markers that only two nodes have. With
// every node answering, those two are every marker there is: the three are
// quarantined for the longest ttl, not left pending for good.
func TestRestartsInARowStayLive(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	for _, n := range nodes.Nodes {
		n.M.Set(nodeset.MarkerKey, markerWith(t, nil, 300*time.Millisecond))
	}
	var g quarantineLog
	l := newTestLocker(t, nodes, g.hooks())
	for i := range 3 {
		nodes.Nodes[i].M.FlushAll()
	}
	lock, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 2*time.Second)
	if err != nil {
		t.Fatalf("three restarted nodes, two marked, all answering: %v", err)
	}
	lock.Release()
	if q := g.get(); len(q) != 3 {
		t.Fatalf("quarantined %v, want the three restarted nodes", q)
	}
}

// TestRepairHonoursTheContext: an obtain that must bring a node back first
// (read the markers, mark it) returns when its context ends, without
// waiting for that repair, which goes on in the background.
func TestRepairHonoursTheContext(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes, WithNodeTimeout(2*time.Second))
	nodes.Nodes[0].M.FlushAll()                             // to be marked
	nodes.Set(1, nodeset.Held, l.lockKey("k"), time.Minute) // the round misses at once
	nodes.Nodes[2].Proxy.Delay(700 * time.Millisecond)      // the marker read waits for node 2
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := l.ObtainContext(ctx, "k", 5*time.Second, 0)
	took := time.Since(began)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	if took > 1200*time.Millisecond {
		t.Fatalf("obtain took %v with a context of 400ms: it waited for the repair", took)
	}
}

// TestRepairsForDifferentTTLs: first obtains on new nodes, at once, with
// different ttls: a caller that joins a repair made for a shorter ttl than
// its own still gets its ttl announced, and every caller obtains.
func TestRepairsForDifferentTTLs(t *testing.T) {
	for range 5 {
		nodes := nodeset.Mini(t, 3)
		for _, n := range nodes.Nodes {
			n.M.Del(nodeset.MarkerKey)
		}
		l := newTestLocker(t, nodes, WithNodeTimeout(500*time.Millisecond))
		var wg sync.WaitGroup
		for i, ttl := range []time.Duration{2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second, 10 * time.Second} {
			wg.Go(func() {
				lock, err := l.ObtainContext(context.Background(), fmt.Sprintf("k%d", i), ttl, 0)
				if err != nil {
					t.Errorf("ttl %v: %v", ttl, err)
					return
				}
				lock.Release()
			})
		}
		wg.Wait()
	}
}
