package quorumlock

import (
	"context"
	"testing"
	"time"

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
	a := newTestLocker(t, nodes, WithFencing())
	b := newTestLocker(t, nodes, WithFencing())
	last := uint64(0)
	for i := range 10 {
		l := a
		if i%2 == 1 {
			l = b
		}
		lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
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
