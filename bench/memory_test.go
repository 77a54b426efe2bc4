package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// memLocks is how many locks are held at once.
	memLocks = 10_000
	// memWaiters is how many goroutines wait in Obtain on held keys.
	memWaiters = 1_000
	// memWait is the waiters' wait timeout: they are cancelled long before.
	memWait = time.Minute
	// memSettle is how long the waiters wait before the heap is measured:
	// past the burst of 1,000 first attempts arriving at once (quorumlock
	// needs about 2s on this 2-core machine to work through it), in the
	// steady state of their wait, and before redsync's default 32 tries
	// (about 4.7s) run out.
	memSettle = 3500 * time.Millisecond
	// memQuiesce is the pause before the baseline and the held-locks
	// snapshots, so that calls a round left running in the background (at
	// most the node timeout, 100ms) have ended.
	memQuiesce = 300 * time.Millisecond
	// memWorkers obtain and release the held locks in parallel.
	memWorkers = 32
)

// memImpls leaves redsync-tuned out: its locks and waiters are the same
// redsync.Mutex and LockContext loop as redsync-default's, and 1,000 waiters
// polling 5 nodes every 10ms would saturate this machine for nothing.
var memImpls = []impl{implQuorumlock, implRedsyncDefault, implRedislock}

// BenchmarkMemory holds 10,000 locks (distinct keys, long ttl) from one
// locker and then starts 1,000 goroutines waiting in Obtain on held keys
// (long wait timeout). It reports the live heap (runtime.ReadMemStats after
// GC, less a baseline taken before) and the goroutines (NumGoroutine, less the
// baseline) per held lock and per waiter, and the stack per waiter, 3.5s
// after the waiters started; peak-goroutines/waiter is the most seen during
// those 3.5s (the burst of first attempts). The waiters' goroutines themselves
// count: 1 goroutine/waiter is the floor. retained-heap-B/waiter is what is
// still on the heap once the waiters have been cancelled and returned: the
// Go runtime keeps the descriptor (~0.5KB) of every goroutine it ever ran
// for reuse, so a burst of goroutines leaves that much behind; heap-B/waiter
// less retained-heap-B/waiter is what waiting itself holds.
// Then it cancels the waiters, releases everything and closes the locker.
func BenchmarkMemory(b *testing.B) {
	for _, im := range memImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			done := false
			for b.Loop() {
				if done {
					continue
				}
				done = true
				memoryRun(b, im)
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// memSnapshot is the process's memory after garbage collection.
type memSnapshot struct {
	heap, stack uint64
	goroutines  int
}

func snapshot() memSnapshot {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSnapshot{heap: m.HeapAlloc, stack: m.StackInuse, goroutines: runtime.NumGoroutine()}
}

// per returns (b-a)/n for a quantity that may shrink.
func per[T uint64 | int](b, a T, n int) float64 { return (float64(b) - float64(a)) / float64(n) }

func memoryRun(b *testing.B, im impl) {
	l := im.open(b, addrs(b))
	defer l.close()
	ctx := context.Background()
	keys := make([]string, memLocks)
	for i := range keys {
		keys[i] = fmt.Sprintf("mem:%d", i)
	}
	holds := make([]held, memLocks)
	// Warm up the clients' connections, so that they are in the baseline:
	// as many cycles as it takes the pools to reach the size the held locks'
	// obtains need (a connection's buffers are tens of KB: one opened after
	// the baseline would count as ~500B a lock).
	parallel(memWorkers, 20*memWorkers, func(i int) {
		if h, err := l.obtain(ctx, freshKey("warm"), 0); err == nil {
			_ = h.release(ctx)
		}
	})

	time.Sleep(memQuiesce)
	base := snapshot()
	var fails atomic.Int64
	var firstErr atomic.Value
	parallel(memWorkers, memLocks, func(i int) {
		h, err := l.obtain(ctx, keys[i], 0)
		if err != nil {
			fails.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		holds[i] = h
	})
	held := memLocks - int(fails.Load())
	if held < memLocks {
		b.Logf("%d of %d locks not obtained; first error: %v", memLocks-held, memLocks, firstErr.Load())
	}
	b.ReportMetric(float64(memLocks-held), "obtain-fails")
	time.Sleep(memQuiesce)
	withLocks := snapshot()

	wctx, cancel := context.WithCancel(ctx)
	var started, obtained atomic.Int64
	var wg sync.WaitGroup
	for i := range memWaiters {
		wg.Go(func() {
			started.Add(1)
			if h, err := l.obtain(wctx, keys[i], memWait); err == nil {
				obtained.Add(1)
				_ = h.release(ctx)
			}
		})
	}
	// Track the most goroutines seen while the waiters settle: the burst.
	peak := 0
	for deadline := time.Now().Add(memSettle); time.Now().Before(deadline) || started.Load() < memWaiters; {
		peak = max(peak, runtime.NumGoroutine())
		time.Sleep(5 * time.Millisecond)
	}
	withWaiters := snapshot()
	cancel()
	wg.Wait()
	if n := obtained.Load(); n > 0 {
		b.Errorf("%d waiters obtained a held lock", n)
	}
	time.Sleep(memQuiesce)
	afterWaiters := snapshot()

	b.ReportMetric(per(withLocks.heap, base.heap, held), "heap-B/lock")
	b.ReportMetric(per(withLocks.goroutines, base.goroutines, held), "goroutines/lock")
	b.ReportMetric(per(withWaiters.heap, withLocks.heap, memWaiters), "heap-B/waiter")
	b.ReportMetric(per(withWaiters.stack, withLocks.stack, memWaiters), "stack-B/waiter")
	b.ReportMetric(per(withWaiters.goroutines, withLocks.goroutines, memWaiters), "goroutines/waiter")
	b.ReportMetric(per(peak, withLocks.goroutines, memWaiters), "peak-goroutines/waiter")
	b.ReportMetric(per(afterWaiters.heap, withLocks.heap, memWaiters), "retained-heap-B/waiter")

	var unreleased atomic.Int64
	parallel(memWorkers, memLocks, func(i int) {
		if holds[i] == nil {
			return
		}
		if err := holds[i].release(ctx); err != nil {
			unreleased.Add(1)
		}
	})
	if n := unreleased.Load(); n > 0 {
		b.Logf("%d of %d releases not confirmed", n, held)
	}
	runtime.KeepAlive(holds)
}

// parallel runs fn(0..n-1) on workers goroutines.
func parallel(workers, n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
