package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The marker judges (docs/safety.md, *Restart quarantine*) check two statements
// the restart quarantine rests on, after every script a node runs, where
// the exposure judge and the history checker see only their consequence
// (and only when a later crash and a second client come at the right
// moments):
//   - told: a node holds a lock for T more only once a quorum of nodes
//     was told of a ttl of at least T (A ≥ T in their markers at some
//     moment): a longer ttl is announced first;
//   - evidence: a node that lost its data at s and is marked on evidence
//     gets an A of at least the (q−1)-th largest A the other nodes had at
//     s, counting as 0 those that lost their data since (the evidence,
//     N−q+1 markers of the others, meets every q−1 of them, and A only
//     rises on a node that keeps its data), so that its quarantine, s + A,
//     covers every lock it held.
// With the quarantine off (outside the model) there are no markers, and
// neither judge runs.

// markerJudge is what the marker judges know of the nodes.
type markerJudge struct {
	told     []int64   // the largest A each node's marker ever had, in any start
	marked   []bool    // the node's marker is marked (not absent or pending)
	atLoss   [][]int64 // the others' A when the node last lost its data; nil: it never did
	lossAt   []time.Duration
	reported map[string]bool
	found    []string
}

func newMarkerJudge(n int) *markerJudge {
	return &markerJudge{told: make([]int64, n), marked: make([]bool, n), atLoss: make([][]int64, n), lossAt: make([]time.Duration, n), reported: map[string]bool{}}
}

// markerA reads a marker: its A and proof, and whether it is marked.
func markerA(m string) (a int64, proof string, marked bool) {
	f := strings.SplitN(m, ":", 5)
	if len(f) < 5 || strings.HasPrefix(m, "p:") {
		return 0, "", false
	}
	a, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return a, f[4], true
}

// currentA returns node i's A now (0 when it has no marked marker). The
// caller holds node i's script mutex.
func (w *world) currentA(i int) int64 {
	a, _ := w.markedA(i)
	return a
}

// markedA returns node i's A now, and whether its marker is marked. The
// caller holds node i's script mutex.
func (w *world) markedA(i int) (int64, bool) {
	m, err := w.nodes[i].m.Get(keyPrefix + "node")
	if err != nil {
		return 0, false
	}
	a, _, ok := markerA(m)
	return a, ok
}

// lostData empties node y, which is down and cut off already, recording
// first the A of every other node. The flush and the judge's new state of
// y come together, between two of y's scripts.
func (w *world) lostData(y int) {
	if w.mj == nil {
		w.nodes[y].flush()
		return
	}
	as := make([]int64, len(w.nodes))
	for i, nd := range w.nodes {
		if i != y {
			nd.sc.mu.Lock()
			as[i] = w.currentA(i)
			nd.sc.mu.Unlock()
		}
	}
	nd := w.nodes[y]
	nd.sc.mu.Lock()
	defer nd.sc.mu.Unlock()
	nd.m.FlushAll()
	w.mjMu.Lock()
	w.mj.atLoss[y], w.mj.lossAt[y], w.mj.marked[y] = as, w.since(time.Now()), false
	w.mjMu.Unlock()
}

// need is the least A that node y, which lost its data, may be marked with
// on evidence: the (q−1)-th largest A of the others when y lost its data,
// counting as 0 those that lost theirs since (their A need not survive).
// The caller holds w.mjMu.
func (j *markerJudge) need(y, q int) int64 {
	var as []int64
	for i, a := range j.atLoss[y] {
		switch {
		case i == y:
		case j.atLoss[i] != nil && j.lossAt[i] > j.lossAt[y]:
			as = append(as, 0)
		default:
			as = append(as, a)
		}
	}
	slices.Sort(as)
	return as[len(as)-(q-1)]
}

// afterScript judges node i after a script of its ran. The caller holds
// node i's script mutex; scripts of other nodes may run meanwhile.
func (w *world) afterScript(i int) {
	nd := w.nodes[i]
	m, _ := nd.m.Get(keyPrefix + "node")
	a, proof, marked := markerA(m)
	type held struct {
		key string
		ms  int64
	}
	var locks []held
	for _, k := range w.keys {
		rkey := keyPrefix + "lock:{" + k + "}"
		if nd.m.Exists(rkey) {
			locks = append(locks, held{k, nd.m.TTL(rkey).Milliseconds()})
		}
	}
	q := len(w.nodes)/2 + 1
	w.mjMu.Lock()
	defer w.mjMu.Unlock()
	j := w.mj
	if marked {
		j.told[i] = max(j.told[i], a)
	}
	if marked && !j.marked[i] && proof == "" && j.atLoss[i] != nil {
		// Marked on evidence (or bound, whose A is the maximum) after it
		// lost its data.
		if need := j.need(i, q); a < need {
			j.report(fmt.Sprintf("evidence %d %v", i, j.lossAt[i]), fmt.Sprintf("at %v node %d, which lost its data at %v, was marked with A %dms: at that moment %d other nodes had an A of %dms or more, and the evidence of a marking meets one of them", w.since(time.Now()), i, j.lossAt[i], a, q-1, need))
		}
	}
	j.marked[i] = marked
	for _, l := range locks {
		told := 0
		for _, t := range j.told {
			if t >= l.ms {
				told++
			}
		}
		if told < q {
			j.report(fmt.Sprintf("told %s %d", l.key, i), fmt.Sprintf("key %s: at %v node %d holds it for %dms more, and only %d nodes were ever told of a ttl that long (quorum %d; the longest A each node had: %v ms)", l.key, w.since(time.Now()), i, l.ms, told, q, j.told))
		}
	}
}

// report records the violation v once for what id names, and at most
// three in all. The caller holds w.mjMu.
func (j *markerJudge) report(id, v string) {
	if j.reported[id] || len(j.found) >= 3 {
		return
	}
	j.reported[id] = true
	j.found = append(j.found, v)
}
