package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// fault is one change the schedule makes to the nodes or the network, at
// a moment of the run, undone after a while where it has an end.
type fault struct {
	at, lasts time.Duration
	kind      string
	node      int
	client    int   // -1: every client
	nodes     []int // a partition's side
	n         int   // replies to lose
	d         time.Duration
	rate      float64
	call, how string // the kind of call, and what becomes of it (callfaults.go)
	split     bool   // a partition that also cuts every other client from the client's side
	least     bool   // a split whose client's side keeps the least informed markers (aim.go)
	then      *fault // a fault that follows this one, at its at after it
	id        int    // its place in the schedule
}

func (f fault) String() string {
	switch f.kind {
	case "partition":
		if f.split {
			return fmt.Sprintf("split client %d from nodes %v, and every other client from the rest, for %v", f.client, f.nodes, f.lasts)
		}
		return fmt.Sprintf("partition client %d from nodes %v for %v", f.client, f.nodes, f.lasts)
	case "slow":
		return fmt.Sprintf("slow node %d for client %d by %v for %v", f.node, f.client, f.d, f.lasts)
	case "lose":
		return fmt.Sprintf("lose %d replies of node %d to client %d", f.n, f.node, f.client)
	case "drift":
		return fmt.Sprintf("node %d clock rate %.4f", f.node, f.rate)
	case "lose-call":
		return fmt.Sprintf("%s (late by %v) client %d's next %s call on nodes %v, for %v", f.how, f.d, f.client, f.call, f.nodes, f.lasts)
	case "jump":
		return fmt.Sprintf("nodes %v clocks jump %v", f.nodes, f.d)
	}
	return fmt.Sprintf("%s node %d for %v", f.kind, f.node, f.lasts)
}

// planFaults chooses the run's faults from the seed. Inside the model,
// fewer than a quorum of nodes lose their data within any window of the
// longest ttl (rule 2), none at all with fencing (its counters must never be
// lost), drift stays within the allowance and no clock jumps. Half the
// schedules of the contention workload have call faults only (callfaults.go),
// the other half none.
func (w *world) planFaults() []fault {
	r := w.rng
	if w.contention && r.IntN(2) == 0 {
		return nil
	}
	n, clients := len(w.nodes), len(w.lockers)
	q := n/2 + 1
	var losses []fault // the data-losing crashes so far
	lossOK := func(node int, at time.Duration) bool {
		if w.cfg.InstantRestarts {
			return true
		}
		lost := map[int]bool{node: true}
		for _, l := range losses {
			if at-l.at < maxTTL+l.lasts+time.Second {
				lost[l.node] = true
			}
		}
		return len(lost) < q
	}
	// Swarm testing: each schedule draws its faults from a random subset
	// of the kinds, so that some schedules pile up crashes and partitions,
	// others hangs and lost replies, where an even mix would dilute each.
	kinds := []string{"crash-delayed", "crash-instant", "crash-split", "restart", "hang", "slow", "lose", "lose-call", "partition", "drift"}
	if w.cfg.InstantRestarts {
		kinds[0] = "crash-instant" // Redlock as published: no delayed restarts
	}
	if w.cfg.ClockJumps {
		kinds = append(kinds, "jump")
	}
	var on []string
	for _, k := range kinds {
		if r.IntN(2) == 0 {
			on = append(on, k)
		}
	}
	if w.cfg.InstantRestarts {
		on = append(on, "crash-instant")
	}
	if w.cfg.ClockJumps {
		on = append(on, "jump")
	}
	if len(on) == 0 {
		on = []string{kinds[r.IntN(len(kinds))]}
	}
	if w.contention { // no node fails: only calls meet the congested network
		on = []string{"lose-call"}
	}
	w.logf("fault kinds %v", on)
	calls := []string{"acquire", "release"} // the kinds of call the schedule makes
	if !w.cfg.InstantRestarts {
		calls = append(calls, "marker")
	}
	if w.fencing {
		calls = append(calls, "fence")
	}
	for _, s := range w.steps {
		if w.contention {
			break // its holders only act
		}
		switch s {
		case "ttl":
			calls = append(calls, "ttl")
		case "refresh", "keepalive":
			calls = append(calls, "refresh")
		}
	}
	var out []fault
	for range 4 + r.IntN(24) {
		f := fault{at: time.Duration(r.Int64N(int64(opsFor))), node: r.IntN(n), client: r.IntN(clients)}
		switch f.kind = on[r.IntN(len(on))]; f.kind {
		case "crash-delayed": // empty, and back after the longest ttl
			f.lasts = maxTTL + dur(r, 500*time.Millisecond)
		case "crash-instant": // empty, and back at once: the restart quarantine's case
			f.lasts = dur(r, 50*time.Millisecond)
		case "restart":
			f.lasts = dur(r, 100*time.Millisecond)
		case "hang":
			f.lasts, f.client = 50*time.Millisecond+dur(r, 950*time.Millisecond), -1
		case "slow":
			f.lasts = 100*time.Millisecond + dur(r, 900*time.Millisecond)
			f.d = []time.Duration{20 * time.Millisecond, 150 * time.Millisecond}[r.IntN(2)]
		case "lose":
			f.n = 1 + r.IntN(3)
		case "lose-call": // the replies lost after the call ran, or the call lost or late on its way
			f.call, f.lasts = calls[r.IntN(len(calls))], dur(r, time.Second)
			f.how = []string{"lose", "drop", "late"}[r.IntN(3)]
			f.d = []time.Duration{20 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond}[r.IntN(4)]
			side := n - q + 1 // the call misses its quorum, and landed on every node
			if r.IntN(2) == 0 {
				side = 1 + r.IntN(n)
			}
			f.nodes = r.Perm(n)[:side]
		case "partition":
			f.lasts = 100*time.Millisecond + dur(r, 900*time.Millisecond)
			side := n - q // a minority
			if r.IntN(2) == 0 {
				side = q // a majority
			}
			f.nodes = r.Perm(n)[:side]
		case "crash-split": // a crash as the network splits
			f.kind, f.lasts = "crash-instant", dur(r, 50*time.Millisecond)
			// Failures come together: as the node crashes, the network
			// splits, one client on a side with the nodes that came back
			// empty lately, every other client and node on the other (the
			// sides are drawn when it happens: apply).
			f.then = &fault{kind: "partition", split: true, at: dur(r, f.lasts), lasts: 100*time.Millisecond + dur(r, 900*time.Millisecond), client: r.IntN(clients)}
		case "jump": // past the longest ttl, on a quorum: every key there expires
			f.d, f.nodes = maxTTL+dur(r, 2000*time.Millisecond), r.Perm(n)[:q]
		case "drift":
			f.rate = 1 + (r.Float64()*2-1)*0.004
		}
		if w.fencing && !w.cfg.InstantRestarts && (f.kind == "crash-delayed" || f.kind == "crash-instant") {
			// Fencing's model: no node ever forgets its counters
			// (docs/safety.md: appendfsync always), so a crash keeps the data.
			f.kind = "restart"
		}
		if f.kind == "crash-delayed" || f.kind == "crash-instant" {
			if !lossOK(f.node, f.at) {
				continue
			}
			losses = append(losses, f)
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at < out[j].at })
	return out
}

// runFaults applies the faults at their moments, each undoing itself after
// it lasted, until ctx ends (the undos left are done by heal).
func (w *world) runFaults(ctx context.Context, faults []fault) {
	start := w.origin
	for i, f := range faults {
		f.id = i
		select {
		case <-time.After(time.Until(start.Add(f.at))):
		case <-ctx.Done():
			return
		}
		if f.kind == "crash-delayed" || f.kind == "crash-instant" {
			// It waits for its moment (aim.go) on its own: the faults
			// after it keep theirs.
			w.pendingAdd(1)
			go func() {
				defer w.pendingAdd(-1)
				if w.await(ctx, f) {
					w.apply(f)
				}
			}()
			continue
		}
		w.logf("fault: %v", f)
		w.apply(f)
	}
}

// after runs do after d, counted among the faults still to be undone.
func (w *world) after(d time.Duration, do func()) {
	w.pendingAdd(1)
	time.AfterFunc(d, func() {
		do()
		w.pendingAdd(-1)
	})
}

func (w *world) pendingAdd(n int) {
	w.mu.Lock()
	w.pending += n
	w.mu.Unlock()
}

// apply makes f happen, and schedules its end.
func (w *world) apply(f fault) {
	now := w.since(time.Now())
	if f.kind == "crash-delayed" || f.kind == "crash-instant" {
		// One crash at a time decides and records its loss: two at one
		// instant must not both pass rule 2.
		w.lossMu.Lock()
		defer w.lossMu.Unlock()
		node, lose := w.aim(f)
		f.node = node
		if !lose {
			f.kind = "restart" // rule 2: it keeps the data
		} else {
			w.lost(f.node, now, f.lasts)
		}
		w.logf("fault: %v", f)
	}
	if f.split {
		keep := w.splitSide(f, now) // aim.go
		f.nodes = slices.DeleteFunc(w.allNodes(), func(i int) bool { return slices.Contains(keep, i) })
		w.logf("fault: %v", f)
	}
	nd := w.nodes[f.node]
	later := func(do func()) { w.after(f.lasts, do) }
	switch f.kind {
	case "crash-delayed", "crash-instant":
		nd.setDown(true)
		w.net.cutNode(f.node)
		w.lostData(f.node) // markers.go
		nd.restarted()
		later(func() { nd.setDown(false); w.logf("node %d back, empty", f.node) })
		if f.then == nil && f.kind == "crash-instant" && w.atMarkers(f) {
			// As it comes back, a client meets it with the markers that
			// know least.
			r := rand.New(rand.NewPCG(w.seed, 0x5b12+uint64(f.id)))
			f.then = &fault{kind: "partition", split: true, least: true, at: f.lasts - time.Millisecond, lasts: 100*time.Millisecond + dur(r, 900*time.Millisecond), client: r.IntN(len(w.lockers))}
		}
	case "restart":
		nd.setDown(true)
		w.net.cutNode(f.node)
		nd.restarted()
		later(func() { nd.setDown(false); w.logf("node %d back, whole", f.node) })
	case "hang":
		resume := w.net.hang(-1, f.node, len(w.lockers))
		later(func() { resume(); w.logf("node %d resumes", f.node) })
	case "slow":
		w.net.setSlow(f.client, f.node, f.d)
		later(func() { w.net.setSlow(f.client, f.node, 0) })
	case "lose":
		w.net.loseReplies(f.client, f.node, f.n)
	case "partition":
		cut := func(c, i int) bool { return slices.Contains(f.nodes, i) == (c == f.client) }
		for c := range w.lockers {
			for i := range w.nodes {
				if (c == f.client || f.split) && cut(c, i) {
					w.net.cutPath(c, i, true)
				}
			}
		}
		later(func() {
			for c := range w.lockers {
				for i := range w.nodes {
					if (c == f.client || f.split) && cut(c, i) {
						w.net.cutPath(c, i, false)
					}
				}
			}
		})
	case "drift":
		nd.setRate(f.rate)
	case "lose-call":
		later(w.armCallFault(f.id, f.client, f.nodes, f.call, f.how, f.d))
	case "jump":
		for _, i := range f.nodes {
			w.nodes[i].jumpBy(f.d)
		}
	}
	if next := f.then; next != nil {
		next.id = f.id
		w.after(next.at, func() { w.apply(*next) })
	}
}

// heal ends every fault: what is still down comes back, hung nodes resume,
// slow and cut paths are restored.
func (w *world) heal() {
	for w.pendingFaults() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	w.net.mu.Lock()
	for _, p := range w.net.paths {
		p.loseNext = 0
	}
	w.net.mu.Unlock()
	w.mu.Lock()
	w.callFaults = nil
	w.mu.Unlock()
}

func (w *world) pendingFaults() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending
}
