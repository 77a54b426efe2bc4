package bench

import (
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// keySeq makes every key of the process distinct.
var keySeq atomic.Uint64

// freshKey returns a key no lock of this process has used.
func freshKey(family string) string {
	return family + ":" + strconv.FormatUint(keySeq.Add(1), 10)
}

// A sampler collects one measurement per b.Loop iteration, until the
// iteration count is reached or the budget is spent (after at least one
// sample). Later iterations do nothing; report replaces the per-iteration
// figures with per-sample ones.
type sampler struct {
	b      *testing.B
	budget time.Duration
	start  time.Time
	vals   []time.Duration
	fails  int

	mem0 runtime.MemStats
}

func newSampler(b *testing.B, budget time.Duration) *sampler {
	s := &sampler{b: b, budget: budget}
	runtime.ReadMemStats(&s.mem0)
	s.start = time.Now()
	return s
}

// more reports whether another sample should be taken.
func (s *sampler) more() bool {
	return len(s.vals) == 0 || time.Since(s.start) < s.budget
}

// add records one sample.
func (s *sampler) add(d time.Duration) { s.vals = append(s.vals, d) }

// fail counts one failure (a sample may fail and still be added).
func (s *sampler) fail() { s.fails++ }

// report sets sec/op to the mean sample, B/op and allocs/op to per-sample
// figures, and adds p50-ms, p99-ms, samples and fails/op.
func (s *sampler) report(prefix string) {
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	n := len(s.vals)
	if n == 0 {
		return
	}
	var sum time.Duration
	for _, v := range s.vals {
		sum += v
	}
	s.b.ReportMetric(float64(sum.Nanoseconds())/float64(n), "ns/op")
	s.b.ReportMetric(float64(mem.TotalAlloc-s.mem0.TotalAlloc)/float64(n), "B/op")
	s.b.ReportMetric(float64(mem.Mallocs-s.mem0.Mallocs)/float64(n), "allocs/op")
	s.b.ReportMetric(ms(percentile(s.vals, 0.50)), prefix+"p50-ms")
	s.b.ReportMetric(ms(percentile(s.vals, 0.99)), prefix+"p99-ms")
	s.b.ReportMetric(float64(n), "samples")
	s.b.ReportMetric(float64(s.fails)/float64(n), "fails/op")
}

// percentile returns the nearest-rank q-quantile of vals (sorted in place).
func percentile(vals []time.Duration, q float64) time.Duration {
	if len(vals) == 0 {
		return 0
	}
	slices.Sort(vals)
	i := int(math.Ceil(q*float64(len(vals)))) - 1
	return vals[min(max(i, 0), len(vals)-1)]
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runtimeProcs is GOMAXPROCS.
func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
