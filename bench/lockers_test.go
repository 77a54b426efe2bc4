package bench

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

const (
	// relayLockers is how many Lockers (service instances, each with its
	// own clients) hand one key on in BenchmarkHandoffLockers, one waiter each.
	relayLockers = 16
	// relayArrival is the gap between two waiters' arrivals, so that the
	// order they arrived in is known and overtakes can be counted.
	relayArrival = 2 * time.Millisecond
	// relayHold is how long the first holder keeps the lock after the
	// first waiter arrived: every waiter is waiting when it is released.
	relayHold = 100 * time.Millisecond
	// relayBudget bounds the sampling of one sub-benchmark.
	relayBudget = 3 * time.Second

	// expiryLockers and expiryWaiters: 50 waiters across 5 Lockers on the
	// key of a holder that never releases (it crashed).
	expiryLockers = 5
	expiryWaiters = 50
	// expiryTTL is the crashed holder's ttl.
	expiryTTL = time.Second
	// expiryBudget bounds the sampling of one sub-benchmark.
	expiryBudget = 4 * time.Second
)

// countedImpls are the implementations of the Lockers families; quorumlock
// counts its attempts (a hook) to tell a stampede.
var countedImpls = []impl{
	{nameQuorumlock, openQuorumlockCounting}, implRedsyncDefault, implRedsyncTuned, implRedislock,
}

// openMany opens n lockers of im, each with clients of its own.
func openMany(b *testing.B, im impl, n int) []locker {
	ls := make([]locker, n)
	for i := range ls {
		ls[i] = im.open(b, addrs(b))
	}
	return ls
}

func closeAll(ls []locker) {
	for _, l := range ls {
		l.close()
	}
}

// rounds counts the acquire rounds the quorumlock lockers began in [from,
// to); -1 for other implementations.
func rounds(ls []locker, from, to time.Time) int {
	n := 0
	for _, l := range ls {
		q, ok := l.(qlLocker)
		if !ok || q.rounds == nil {
			return -1
		}
		n += q.rounds.in(from, to)
	}
	return n
}

// BenchmarkHandoffLockers: 16 Lockers, as 16 service instances, each with
// one waiter on one key; the waiters arrive 2ms apart while a holder keeps
// the key, it releases, and each waiter in turn obtains it and releases at
// once. handoff-p50-ms, handoff-p99-ms and handoff-max-ms are of the gaps
// from one Release returning to the next Obtain returning (sec/op: the mean
// gap); max-overtaken is the most waiters that arrived later and were served
// earlier than one waiter, over all samples; rounds/handoff counts
// quorumlock's acquire rounds per handoff, from the first release on.
func BenchmarkHandoffLockers(b *testing.B) {
	for _, im := range countedImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			ls := openMany(b, im, relayLockers)
			defer closeAll(ls)
			s := newSampler(b, relayBudget)
			var gaps []time.Duration
			overtaken := 0
			var n int
			for b.Loop() {
				if !s.more() {
					continue
				}
				g, over, r, ok := relay(b, ls)
				n += r
				if !ok {
					s.fail()
					continue
				}
				gaps = append(gaps, g...)
				overtaken = max(overtaken, over)
				for _, d := range g {
					s.add(d)
				}
			}
			s.report("handoff-")
			b.ReportMetric(ms(percentile(gaps, 1)), "handoff-max-ms")
			b.ReportMetric(float64(overtaken), "max-overtaken")
			if n >= 0 && len(gaps) > 0 {
				b.ReportMetric(float64(n)/float64(len(gaps)), "rounds/handoff")
			}
		})
	}
}

// relay runs one hand-on of a key through one waiter per locker: it returns
// the gaps, the most overtakes of one waiter, quorumlock's acquire rounds
// from the first release on (-1 for others), and false when a waiter did
// not get the key in time.
func relay(b *testing.B, ls []locker) ([]time.Duration, int, int, bool) {
	key := freshKey("relay")
	ctx := context.Background()
	h, err := ls[0].obtain(ctx, key, 0)
	if err != nil {
		b.Logf("holder: obtain: %v", err)
		return nil, 0, 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, stampedeLimit)
	defer cancel()
	type turn struct {
		arrived           int
		obtained, release time.Time
	}
	var (
		mu     sync.Mutex
		turns  []turn
		missed int
		wg     sync.WaitGroup
	)
	for i, l := range ls {
		wg.Go(func() {
			for ctx.Err() == nil { // redsync's tries may run out: ask again
				wh, err := l.obtain(ctx, key, stampedeLimit)
				if err != nil {
					continue
				}
				t := turn{arrived: i, obtained: time.Now()}
				if err := wh.release(context.Background()); err != nil {
					b.Logf("waiter: release: %v", err)
				}
				t.release = time.Now()
				mu.Lock()
				turns = append(turns, t)
				mu.Unlock()
				return
			}
			mu.Lock()
			missed++
			mu.Unlock()
		})
		time.Sleep(relayArrival)
	}
	time.Sleep(relayHold)
	if err := h.release(context.Background()); err != nil {
		b.Logf("holder: release: %v", err)
	}
	start := time.Now()
	wg.Wait()
	if missed > 0 {
		b.Logf("%d of %d waiters did not get the lock within %v", missed, len(ls), stampedeLimit)
		return nil, 0, 0, false
	}
	n := rounds(ls, start, time.Now())
	slices.SortFunc(turns, func(a, b turn) int { return a.obtained.Compare(b.obtained) })
	gaps := make([]time.Duration, len(turns))
	prev := start
	most := 0
	for k, t := range turns {
		gaps[k] = max(t.obtained.Sub(prev), 0)
		prev = t.release
		over := 0
		for _, e := range turns[:k] {
			if e.arrived > t.arrived {
				over++
			}
		}
		most = max(most, over)
	}
	return gaps, most, n, true
}

// BenchmarkExpiry: a holder takes a key for 1s and never releases it (it
// crashed); 50 waiters across 5 Lockers wait for it. late-p50-ms and
// late-p99-ms (sec/op: the mean) are of the time from the key's expiry at
// the latest (the holder's Obtain returning, plus the ttl) to the first
// waiter's Obtain returning. The winner keeps the key; rounds/expiry counts
// quorumlock's acquire rounds that began in the 100ms from the expiry (at
// the earliest: the holder's Obtain starting, plus the ttl): the winner's,
// and the stampede, if any. Then the others stop waiting.
func BenchmarkExpiry(b *testing.B) {
	for _, im := range countedImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			ls := openMany(b, im, expiryLockers)
			defer closeAll(ls)
			s := newSampler(b, expiryBudget)
			var tries []int
			for b.Loop() {
				if !s.more() {
					continue
				}
				late, n, ok := expiry(b, ls)
				if !ok {
					s.fail()
					continue
				}
				s.add(late)
				tries = append(tries, n)
			}
			s.report("late-")
			if len(tries) > 0 && tries[0] >= 0 {
				sum := 0
				for _, n := range tries {
					sum += n
				}
				b.ReportMetric(float64(sum)/float64(len(tries)), "rounds/expiry")
			}
		})
	}
}

// expiryWindow is how long after an expiry BenchmarkExpiry counts rounds.
const expiryWindow = 100 * time.Millisecond

// expiry runs one takeover of an expired lock: how late the first waiter
// got it, quorumlock's acquire rounds around the expiry (-1 for others),
// and false when no waiter got it.
func expiry(b *testing.B, ls []locker) (time.Duration, int, bool) {
	key := freshKey("expiry")
	ctx, cancel := context.WithTimeout(context.Background(), expiryTTL+stampedeLimit)
	defer cancel()
	asked := time.Now()
	if _, err := ls[0].obtainFor(ctx, key, expiryTTL, 0); err != nil { // never released
		b.Logf("holder: obtain: %v", err)
		return 0, 0, false
	}
	expires := time.Now().Add(expiryTTL)
	type win struct {
		at time.Time
		h  held
	}
	first := make(chan win, expiryWaiters)
	var wg sync.WaitGroup
	for i := range expiryWaiters {
		l := ls[i%len(ls)]
		wg.Go(func() {
			for ctx.Err() == nil {
				if h, err := l.obtain(ctx, key, expiryTTL+stampedeLimit); err == nil {
					first <- win{time.Now(), h}
					return
				}
			}
		})
	}
	var w win
	select {
	case w = <-first:
	case <-ctx.Done():
		b.Logf("no waiter got the expired lock")
		wg.Wait()
		return 0, 0, false
	}
	from := asked.Add(expiryTTL)
	time.Sleep(time.Until(from.Add(expiryWindow)))
	n := rounds(ls, from, from.Add(expiryWindow))
	cancel() // the others stop waiting
	wg.Wait()
	close(first)
	for o := range first {
		_ = o.h.release(context.Background())
	}
	_ = w.h.release(context.Background())
	return w.at.Sub(expires), n, true
}

const (
	// burstCallers callers across burstLockers Lockers ask for one free key
	// at once, with wait 0, in BenchmarkBurst.
	burstCallers = 100
	burstLockers = 4
)

// BenchmarkBurst: 100 callers across 4 Lockers ask at once, with wait 0,
// for one key that is free. winners/op is the mean number that obtained it
// (1 is right: more would break mutual exclusion, none is a split vote that
// nobody settled); no-winner/op is the share of bursts without a winner,
// over "samples" bursts. sec/op is the time until every caller had its answer.
func BenchmarkBurst(b *testing.B) {
	for _, im := range countedImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			ls := openMany(b, im, burstLockers)
			defer closeAll(ls)
			s := newSampler(b, relayBudget)
			var wins, none int
			for b.Loop() {
				if !s.more() {
					continue
				}
				w, d := burst(ls)
				wins += w
				if w == 0 {
					none++
				}
				s.add(d)
			}
			s.report("")
			if n := len(s.vals); n > 0 {
				b.ReportMetric(float64(wins)/float64(n), "winners/op")
				b.ReportMetric(float64(none)/float64(n), "no-winner/op")
			}
		})
	}
}

// burst runs one burst and returns how many callers obtained the key and
// how long until all had their answer.
func burst(ls []locker) (int, time.Duration) {
	key := freshKey("burst")
	ctx := context.Background()
	var mu sync.Mutex
	var got []held
	start := time.Now()
	var wg sync.WaitGroup
	for c := range burstCallers {
		wg.Go(func() {
			if h, err := ls[c%len(ls)].obtain(ctx, key, 0); err == nil {
				mu.Lock()
				got = append(got, h)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	for _, h := range got {
		_ = h.release(ctx)
	}
	return len(got), took
}
