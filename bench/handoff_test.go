package bench

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

const (
	// The holder keeps the lock for a random time in [handoffHoldMin,
	// handoffHoldMin+handoffHoldSpread) after starting the waiter: long
	// enough that the waiter's first attempt has failed and it is waiting,
	// and spread over more than a 100ms polling period, so that the release
	// falls at a random point of a poller's schedule (with a fixed hold, a
	// fixed-period poller would show the same latency every time).
	handoffHoldMin    = 20 * time.Millisecond
	handoffHoldSpread = 100 * time.Millisecond
	// handoffWait is the waiter's wait timeout: far longer than any handoff.
	handoffWait = 10 * time.Second
	// handoffBudget bounds the sampling of one sub-benchmark.
	handoffBudget = 2 * time.Second

	// stampedeWaiters is how many waiters queue on one key in BenchmarkStampede.
	stampedeWaiters = 50
	// stampedeHold is how long the first holder keeps the lock after starting
	// the waiters, so that all of them are waiting when it is released.
	stampedeHold = 100 * time.Millisecond
	// stampedeLimit bounds one stampede: waiters give up after it.
	stampedeLimit = 60 * time.Second
	// stampedeBudget bounds the sampling of one sub-benchmark.
	stampedeBudget = 2 * time.Second
)

// BenchmarkHandoff measures, for one holder and one waiter blocked on the
// same key, the time from the holder's Release returning to the waiter's
// Obtain returning. The waiter waits the way each implementation's user
// would: quorumlock ObtainContext(ctx, key, ttl, 10s) (its backoff: pauses
// 4-8ms doubling to 128-256ms); redsync LockContext (default: 32 tries
// 50-250ms apart; tuned: 10ms apart); redislock Obtain with
// LinearBackoff(100ms). The holder holds 20-120ms (uniformly random) after
// starting the waiter.
// sec/op is the mean handoff; p50-ms and p99-ms its quantiles.
func BenchmarkHandoff(b *testing.B) {
	for _, im := range allImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			l := im.open(b, addrs(b))
			defer l.close()
			ctx := context.Background()
			s := newSampler(b, handoffBudget)
			for b.Loop() {
				if !s.more() {
					continue
				}
				d, ok := handoff(b, ctx, l)
				if !ok {
					s.fail()
					continue
				}
				s.add(d)
			}
			s.report("")
		})
	}
}

// handoff runs one handoff and returns its latency, or false when the holder
// or the waiter failed.
func handoff(b *testing.B, ctx context.Context, l locker) (time.Duration, bool) {
	key := freshKey("handoff")
	h, err := l.obtain(ctx, key, 0)
	if err != nil {
		b.Logf("holder: obtain: %v", err)
		return 0, false
	}
	type result struct {
		at  time.Time
		h   held
		err error
	}
	got := make(chan result, 1)
	go func() {
		wh, err := l.obtain(ctx, key, handoffWait)
		got <- result{time.Now(), wh, err}
	}()
	time.Sleep(handoffHoldMin + rand.N(handoffHoldSpread))
	if err := h.release(ctx); err != nil {
		b.Logf("holder: release: %v", err)
	}
	released := time.Now()
	r := <-got
	if r.err != nil {
		b.Logf("waiter: obtain: %v", r.err)
		return 0, false
	}
	if err := r.h.release(ctx); err != nil {
		b.Logf("waiter: release: %v", err)
	}
	return max(r.at.Sub(released), 0), true
}

// BenchmarkStampede starts 50 waiters on a held key, releases it, and lets
// each waiter obtain it once and release it at once. total-ms is the time
// from the first release to the 50th obtain (sec/op is the same, per
// stampede, and total-p99-ms the slowest stampede of a run); handoff-p50-ms,
// handoff-p99-ms and handoff-max-ms are of the gaps from one holder's Release
// returning to the next holder's Obtain returning.
// A waiter whose Obtain gives up (redsync's 32 tries run out) calls it again,
// as a user who needs the lock must: fails/op counts those give-ups per
// stampede.
func BenchmarkStampede(b *testing.B) {
	for _, im := range allImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			l := im.open(b, addrs(b))
			defer l.close()
			ctx := context.Background()
			s := newSampler(b, stampedeBudget)
			var gaps []time.Duration
			giveUps := 0
			for b.Loop() {
				if !s.more() {
					continue
				}
				total, g, fails, ok := stampede(b, ctx, l)
				giveUps += fails
				if !ok {
					s.fail()
					continue
				}
				s.add(total)
				gaps = append(gaps, g...)
			}
			s.report("total-")
			if n := len(s.vals); n > 0 {
				b.ReportMetric(float64(giveUps)/float64(n), "fails/op")
			}
			b.ReportMetric(ms(percentile(gaps, 0.50)), "handoff-p50-ms")
			b.ReportMetric(ms(percentile(gaps, 0.99)), "handoff-p99-ms")
			b.ReportMetric(ms(percentile(gaps, 1)), "handoff-max-ms")
		})
	}
}

// stampede runs one stampede: it returns the time until all waiters got the
// lock, the handoff gaps, how many times a waiter's Obtain gave up, and
// false when some waiter never got the lock.
func stampede(b testing.TB, ctx context.Context, l locker) (time.Duration, []time.Duration, int, bool) {
	key := freshKey("stampede")
	h, err := l.obtain(ctx, key, 0)
	if err != nil {
		b.Logf("holder: obtain: %v", err)
		return 0, nil, 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, stampedeLimit)
	defer cancel()

	type turn struct{ obtained, released time.Time }
	var (
		mu      sync.Mutex
		turns   []turn
		giveUps int
		missed  int
		wg      sync.WaitGroup
	)
	for range stampedeWaiters {
		wg.Go(func() {
			for {
				wh, err := l.obtain(ctx, key, stampedeLimit)
				if err != nil {
					mu.Lock()
					if ctx.Err() != nil {
						missed++
						mu.Unlock()
						return
					}
					giveUps++
					mu.Unlock()
					continue
				}
				t := turn{obtained: time.Now()}
				err = wh.release(context.Background())
				t.released = time.Now()
				if err != nil {
					b.Logf("waiter: release: %v", err)
				}
				mu.Lock()
				turns = append(turns, t)
				mu.Unlock()
				return
			}
		})
	}
	time.Sleep(stampedeHold)
	if err := h.release(context.Background()); err != nil {
		b.Logf("holder: release: %v", err)
	}
	start := time.Now()
	wg.Wait()
	if missed > 0 {
		b.Logf("%d of %d waiters did not get the lock within %v", missed, stampedeWaiters, stampedeLimit)
		return 0, nil, giveUps, false
	}
	slices.SortFunc(turns, func(a, b turn) int { return a.obtained.Compare(b.obtained) })
	gaps := make([]time.Duration, len(turns))
	prev := start
	for i, t := range turns {
		gaps[i] = max(t.obtained.Sub(prev), 0)
		prev = t.released
	}
	return turns[len(turns)-1].obtained.Sub(start), gaps, giveUps, true
}
