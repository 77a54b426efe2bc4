package bench

import (
	"context"
	"sync/atomic"
	"testing"
)

// BenchmarkUncontended is Obtain+Release of a fresh key, one after the other:
// the latency of a lock nobody else wants. redislock runs on one node, the
// others on five.
func BenchmarkUncontended(b *testing.B) {
	for _, im := range allImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			l := im.open(b, addrs(b))
			defer l.close()
			ctx := context.Background()
			fails := 0
			b.ReportAllocs()
			for b.Loop() {
				h, err := l.obtain(ctx, freshKey("unc"), 0)
				if err != nil {
					fails++
					continue
				}
				if err := h.release(ctx); err != nil {
					fails++
				}
			}
			b.ReportMetric(float64(fails)/float64(b.N), "fails/op")
		})
	}
}

// throughputGoroutines is how many goroutines BenchmarkThroughput runs:
// SetParallelism(throughputGoroutines/GOMAXPROCS), 16 on this 2-core machine.
const throughputGoroutines = 16

// BenchmarkThroughput is Obtain+Release cycles from ~16 goroutines at once,
// each on its own fresh keys: how many cycles per second the clients and
// nodes sustain. cycles/s is the figure; sec/op is its inverse.
func BenchmarkThroughput(b *testing.B) {
	for _, im := range allImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			l := im.open(b, addrs(b))
			defer l.close()
			ctx := context.Background()
			var fails atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(max(1, throughputGoroutines/runtimeProcs()))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h, err := l.obtain(ctx, freshKey("tp"), 0)
					if err != nil {
						fails.Add(1)
						continue
					}
					if err := h.release(ctx); err != nil {
						fails.Add(1)
					}
				}
			})
			b.StopTimer()
			if el := b.Elapsed(); el > 0 {
				b.ReportMetric(float64(b.N)/el.Seconds(), "cycles/s")
			}
			b.ReportMetric(float64(fails.Load())/float64(b.N), "fails/op")
		})
	}
}
