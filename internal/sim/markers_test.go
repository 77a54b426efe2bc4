package sim

import (
	"strings"
	"testing"
	"time"
)

// markerWorld is a world of three nodes whose markers the test sets by
// hand, with the marker judges on.
func markerWorld(t *testing.T, markers ...string) *world {
	t.Helper()
	w := &world{keys: []string{"k0"}, origin: time.Now(), mj: newMarkerJudge(len(markers))}
	for i, m := range markers {
		w.nodes = append(w.nodes, newNode(1))
		t.Cleanup(w.nodes[i].m.Close)
		w.setMarker(i, m)
	}
	return w
}

// setMarker sets node i's marker and runs the judges as after a script.
func (w *world) setMarker(i int, m string) {
	_ = w.nodes[i].m.Set(keyPrefix+"node", m)
	w.afterScript(i)
}

// TestToldJudge: a node that holds a lock for longer than a quorum of
// markers were ever told of is reported, once; one within it is not.
func TestToldJudge(t *testing.T) {
	w := markerWorld(t, "300:300:0:r:", "300:300:0:r:", "300:300:0:r:")
	rkey := keyPrefix + "lock:{k0}"
	n := w.nodes[0].m
	_ = n.Set(rkey, "v")
	n.SetTTL(rkey, 300*time.Millisecond)
	w.afterScript(0)
	if len(w.mj.found) != 0 {
		t.Fatalf("a lock of 300ms where every node was told of 300ms: %q", w.mj.found)
	}
	w.setMarker(1, "300:2000:0:r:") // one node told of 2s: not a quorum
	n.SetTTL(rkey, 2*time.Second)
	w.afterScript(0)
	w.afterScript(0)
	if len(w.mj.found) != 1 || !strings.Contains(w.mj.found[0], "only 1 nodes were ever told") {
		t.Fatalf("a lock of 2s where one node was told of 2s: %q, want one report", w.mj.found)
	}
	w = markerWorld(t, "300:2000:0:r:", "300:2000:0:r:", "300:300:0:r:")
	_ = w.nodes[2].m.Set(rkey, "v")
	w.nodes[2].m.SetTTL(rkey, 2*time.Second)
	w.afterScript(2)
	if len(w.mj.found) != 0 {
		t.Fatalf("a lock of 2s where a quorum was told of 2s: %q", w.mj.found)
	}
}

// TestEvidenceJudge: a node that lost its data and is marked on evidence
// with an A below what q-1 other nodes had when it lost its data is
// reported; one marked with enough, or marked fresh, is not.
func TestEvidenceJudge(t *testing.T) {
	for _, tc := range []struct {
		mark   string
		report bool
	}{
		{"300:300:0:r:", true},       // the stale marker's A
		{"300:2000:1000:r:", false},  // the informed marker's
		{"0:300:0:r:id0,id1", false}, // fresh: every node pending at once, which rule 2 rules out while a lock is valid
	} {
		w := markerWorld(t, "300:2000:0:r:", "300:2000:0:r:", "300:300:0:r:")
		w.lostData(0)
		w.setMarker(0, "p:r:1.2.n")
		w.setMarker(0, tc.mark)
		if got := len(w.mj.found) == 1 && strings.Contains(w.mj.found[0], "was marked with A"); got != tc.report || !tc.report && len(w.mj.found) > 0 {
			t.Errorf("marked %q after the others had A 2000 and 300: reports %q, want a report %v", tc.mark, w.mj.found, tc.report)
		}
	}
}

// TestEvidenceJudgeForgetsLaterLosses: a node whose A counted when another
// lost its data, and which lost its own since, no longer stands for that
// A: a marking that misses it is no violation (every node answered, and
// the only marker left knows 300ms).
func TestEvidenceJudgeForgetsLaterLosses(t *testing.T) {
	w := markerWorld(t, "300:300:0:r:", "300:2000:0:r:", "300:300:0:r:")
	w.lostData(0)
	w.setMarker(0, "p:r:1.2.n")
	time.Sleep(time.Millisecond)
	w.lostData(1) // the node that knew 2000ms
	w.setMarker(1, "p:r:3.4.n")
	w.setMarker(1, "300:300:0:r:")
	w.setMarker(0, "300:300:0:r:")
	if len(w.mj.found) != 0 {
		t.Fatalf("marked on the only marker left after the informed node lost its data too: %q", w.mj.found)
	}
}
