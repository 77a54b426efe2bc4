package sim

import (
	"cmp"
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"time"
)

// A crash that loses a node's data is aimed when it happens, not when the
// schedule is planned, where the restart quarantine has the most to do.
// Half the crashes aim at a lock: at a node that holds the key of a lock
// its holder trusts, preferring a lock on no more than a quorum of nodes
// (after the crash it is on fewer, and the quarantine alone must keep the
// others out for the rest of its validity). The others aim at the markers:
// at a node whose marker knows a longer ttl (A) than another's, one that
// missed an announce, so that a marking on the evidence of the others must
// still find that ttl. Each waits for its moment up to aimFor. A crash at
// a random node and moment most often hits a lock the nodes still hold on
// a quorum, or none, and nodes that agree. The model's rule 2 (fewer than
// a quorum of nodes lose their data within any window of the longest ttl)
// is checked against the crashes as they happened; a crash it does not
// allow keeps the data.

// loss is a crash that lost a node's data, as it happened.
type loss struct {
	node      int
	at, lasts time.Duration
}

// aimFor is how long a data-losing crash waits for its moment.
const aimFor = 500 * time.Millisecond

// atMarkers reports whether the crash f aims at the markers rather than at
// a lock.
func (w *world) atMarkers(f fault) bool {
	return w.mj != nil && rand.New(rand.NewPCG(w.seed, 0xa1a2+uint64(f.id))).IntN(2) == 0
}

// await waits, up to aimFor, for the moment of f: a trusted lock on no
// more than a quorum of nodes, or markers that differ, with a node that
// may lose its data. It reports false when ctx ended first.
func (w *world) await(ctx context.Context, f fault) bool {
	markers := w.atMarkers(f)
	for end := time.Now().Add(aimFor); time.Now().Before(end); time.Sleep(time.Millisecond) {
		switch thin, _ := w.targets(); {
		case ctx.Err() != nil:
			return false
		case markers && len(w.informed()) > 0, !markers && len(thin) > 0:
			return true
		}
	}
	return ctx.Err() == nil
}

// aim returns the node the data-losing crash f hits, and false when the
// model allows no node to lose its data now (f then keeps the data). Its
// choices come from the seed and f's place in the schedule.
func (w *world) aim(f fault) (int, bool) {
	r := rand.New(rand.NewPCG(w.seed, 0xa1a1+uint64(f.id)))
	var informed []int
	if w.atMarkers(f) {
		informed = w.informed()
	}
	thin, held := w.targets()
	for k, c := range [][]int{informed, thin, held} {
		if len(c) > 0 {
			w.logf("aim: %s, one of nodes %v", []string{"a marker that knows more than another", "a lock on no more than a quorum", "a lock"}[k], c)
			return c[r.IntN(len(c))], true
		}
	}
	return f.node, w.mayLose(f.node, w.since(time.Now()))
}

// targets returns the nodes that may lose their data now and hold the key
// of a trusted lock: thin those of a lock on no more than a quorum of
// nodes, held those of any.
func (w *world) targets() (thin, held []int) {
	now := w.since(time.Now())
	q := len(w.nodes)/2 + 1
	for _, key := range w.trustedKeys() {
		var on []int
		for i, nd := range w.nodes {
			if nd.has(keyPrefix + "lock:{" + key + "}") {
				on = append(on, i)
			}
		}
		for _, i := range on {
			if !w.mayLose(i, now) {
				continue
			}
			held = append(held, i)
			if len(on) <= q {
				thin = append(thin, i)
			}
		}
	}
	return thin, held
}

// informed returns the nodes that may lose their data now and whose
// markers know a longer ttl (A) than another marked node's.
func (w *world) informed() []int {
	now := w.since(time.Now())
	as := make([]int64, len(w.nodes))
	least := int64(-1)
	for i, nd := range w.nodes {
		nd.sc.mu.Lock()
		a, marked := w.markedA(i)
		nd.sc.mu.Unlock()
		if !marked {
			as[i] = -1
			continue
		}
		as[i] = a
		if least < 0 || a < least {
			least = a
		}
	}
	var out []int
	for i, a := range as {
		if a > least && w.mayLose(i, now) {
			out = append(out, i)
		}
	}
	return out
}

// lost records that node lost its data at now, back after lasts.
func (w *world) lost(node int, now, lasts time.Duration) {
	w.mu.Lock()
	w.losses = append(w.losses, loss{node, now, lasts})
	w.mu.Unlock()
}

// mayLose reports whether the model lets node lose its data at now: with
// it, fewer than a quorum of nodes lost theirs within the longest ttl (and
// the time they were down, and a second) of one another. Outside the
// model, with instant restarts, any node may.
func (w *world) mayLose(node int, now time.Duration) bool {
	if w.cfg.InstantRestarts {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	lost := map[int]bool{node: true}
	for _, l := range w.losses {
		if now-l.at < maxTTL+l.lasts+time.Second {
			lost[l.node] = true
		}
	}
	return len(lost) < len(w.nodes)/2+1
}

// lostLately returns the nodes that lost their data within the longest ttl
// before now.
func (w *world) lostLately(now time.Duration) []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	for _, l := range w.losses {
		if now-l.at < maxTTL && !slices.Contains(out, l.node) {
			out = append(out, l.node)
		}
	}
	return out
}

// trustedKeys returns the keys of the locks their holders trust now, each
// once, in a fixed order.
func (w *world) trustedKeys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keys []string
	for _, id := range slices.Sorted(maps.Keys(w.trusted)) {
		if k := w.trusted[id].key; !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// splitSide returns the nodes on the side of the split f's client: those
// that lost their data lately and, in half the splits, the N−q others
// whose markers know the shortest ttls (A): so that the client marks a
// node that came back on the least evidence the nodes allow, where a
// marker missed the announce of a longer ttl.
func (w *world) splitSide(f fault, now time.Duration) []int {
	side := w.lostLately(now)
	if !f.least && rand.New(rand.NewPCG(w.seed, 0x5b11+uint64(f.id))).IntN(2) == 1 || w.mj == nil {
		return side
	}
	var rest []int
	as := make([]int64, len(w.nodes))
	for i, nd := range w.nodes {
		if !slices.Contains(side, i) {
			nd.sc.mu.Lock()
			as[i] = w.currentA(i)
			nd.sc.mu.Unlock()
			rest = append(rest, i)
		}
	}
	slices.SortStableFunc(rest, func(a, b int) int { return cmp.Compare(as[a], as[b]) })
	return append(side, rest[:min(len(rest), len(w.nodes)-(len(w.nodes)/2+1))]...)
}

// allNodes returns every node's index.
func (w *world) allNodes() []int {
	out := make([]int, len(w.nodes))
	for i := range out {
		out[i] = i
	}
	return out
}
