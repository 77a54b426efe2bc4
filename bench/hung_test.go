package bench

import (
	"context"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/redisproc"
)

const (
	// hungBudget bounds the sampling of one sub-benchmark: redsync with
	// default clients takes ~10s per Obtain+Release with hung nodes, so it
	// gets one sample per run.
	hungBudget = 2 * time.Second
	// hungWarmup is how many Obtain+Release cycles run on healthy nodes
	// before the faults, so that the clients have open connections to every
	// node, as a long-running service's clients do when a node hangs.
	hungWarmup = 20
	// faultyNodes is how many of the 5 nodes are hung or down.
	faultyNodes = 2
)

// A nodeState is what happens to faultyNodes of the nodes.
type nodeState struct {
	name  string
	apply func(*redisproc.Server) error
}

var nodeStates = []nodeState{
	{"healthy", nil},
	{"2-hung", (*redisproc.Server).Stop}, // SIGSTOP: connections open, nothing answered
	{"2-down", (*redisproc.Server).Kill}, // SIGKILL: connections refused
}

// BenchmarkHungNodes is Obtain+Release of a fresh key, serial, with 0, 2 hung
// (SIGSTOP) or 2 down (SIGKILL) of the 5 nodes, each implementation with the
// options of its sub-benchmark name (quorumlock's defaults). The clients are
// warmed up on healthy nodes first. p50-ms and p99-ms are of whole
// Obtain+Release cycles, obtain-ms and release-ms the means of the two
// halves; fails/op counts cycles whose Obtain failed or whose Release was not
// confirmed on a quorum. The nodes are resumed or restarted afterwards.
func BenchmarkHungNodes(b *testing.B) {
	for _, st := range nodeStates {
		b.Run("nodes="+st.name, func(b *testing.B) {
			for _, im := range quorumImpls {
				b.Run("impl="+im.name, func(b *testing.B) {
					hungCycles(b, im, st)
				})
			}
		})
	}
}

func hungCycles(b *testing.B, im impl, st nodeState) {
	set := nodes(b)
	l := im.open(b, set.Addrs())
	closed := false
	defer func() {
		if !closed {
			l.close()
		}
		restoreNodes(b)
	}()
	ctx := context.Background()
	for range hungWarmup {
		h, err := l.obtain(ctx, freshKey("warm"), 0)
		if err == nil {
			err = h.release(ctx)
		}
		if err != nil {
			b.Logf("warm-up on healthy nodes: %v", err)
		}
	}
	if st.apply != nil {
		for _, s := range set.Servers[numNodes-faultyNodes:] {
			if err := st.apply(s); err != nil {
				b.Fatal(err)
			}
		}
	}

	s := newSampler(b, hungBudget)
	var obtainSum, releaseSum time.Duration
	releases := 0
	for b.Loop() {
		if !s.more() {
			continue
		}
		start := time.Now()
		h, err := l.obtain(ctx, freshKey("hung"), 0)
		obtained := time.Now()
		obtainSum += obtained.Sub(start)
		if err != nil {
			s.fail()
			s.add(obtained.Sub(start))
			continue
		}
		if err := h.release(ctx); err != nil {
			s.fail()
		}
		end := time.Now()
		releaseSum += end.Sub(obtained)
		releases++
		s.add(end.Sub(start))
	}
	// Close before the nodes come back: it waits for whatever the
	// implementation still has in flight, which is part of its cost.
	l.close()
	closed = true
	s.report("")
	if n := len(s.vals); n > 0 {
		b.ReportMetric(ms(obtainSum)/float64(n), "obtain-ms")
	}
	if releases > 0 {
		b.ReportMetric(ms(releaseSum)/float64(releases), "release-ms")
	}
}
