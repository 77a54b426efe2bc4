package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/history"
)

// Config describes a campaign. Zero fields take the defaults in brackets.
type Config struct {
	Nodes        int           // Redis nodes [5]
	Lockers      int           // service instances, each a Locker with its own links [3]
	Clients      int           // goroutines spread over the Lockers [8]
	Duration     time.Duration // [10s]
	Seed         uint64        // the fault schedule and the workload's choices; 0: random
	Faults       []Kind        // the mix; nil: none
	TTL          time.Duration // of every lock, and the longest [1s]
	NodeTimeout  time.Duration // [quorumlock's default]
	Wait         time.Duration // how long a client waits for a held lock [TTL]
	FaultEvery   time.Duration // mean time between faults [TTL/4]
	Keys         int           // keys the contending clients share [2]
	RedisPath    string        // run redis-server processes instead of miniredis
	Fencing      bool          // locks carry fencing tokens; each act writes them to a fenced store
	Progress     io.Writer     // a line per second while it runs; nil: quiet
	Log          io.Writer     // every fault as it happens; nil: quiet
	NoQuarantine bool          // turn the Lockers' restart quarantine off (Redlock as published)
	Options      []quorumlock.Option
}

func (c *Config) defaults() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Nodes, 5)
	def(&c.Lockers, 3)
	def(&c.Clients, 8)
	def(&c.Keys, 2)
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.TTL == 0 {
		c.TTL = time.Second
	}
	if c.NodeTimeout == 0 {
		c.NodeTimeout = quorumlock.DefaultNodeTimeout
	}
	if c.Wait == 0 {
		c.Wait = c.TTL
	}
	if c.FaultEvery == 0 {
		c.FaultEvery = c.TTL / 4
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	switch {
	case c.Nodes < 1 || c.Lockers < 1 || c.Clients < 1 || c.Keys < 1:
		return errors.New("nodes, lockers, clients and keys must be at least 1")
	case c.Duration < 0 || c.TTL <= 2*c.NodeTimeout:
		return fmt.Errorf("the ttl %v must exceed twice the node timeout %v", c.TTL, c.NodeTimeout)
	}
	if c.RedisPath != "" {
		for _, k := range c.Faults {
			if !k.realOK() {
				return fmt.Errorf("fault %s needs miniredis nodes (redis-server runs without persistence or clock control)", k)
			}
		}
	}
	return nil
}

// InsideModel reports whether every fault of the mix is inside the safety model.
func (c Config) InsideModel() bool {
	for _, k := range c.Faults {
		if !k.IsInside() {
			return false
		}
	}
	return true
}

// Run runs a campaign and reports what happened. The error is for a
// campaign that could not run; violations are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	cluster, err := NewCluster(cfg.Nodes, cfg.Lockers, cfg.RedisPath)
	if err != nil {
		return nil, err
	}
	defer cluster.Close()

	lockers := make([]*quorumlock.Locker, cfg.Lockers)
	for i := range lockers {
		opts := append([]quorumlock.Option{quorumlock.WithNodeTimeout(cfg.NodeTimeout), quorumlock.WithLogger(nil)}, cfg.Options...)
		if cfg.Fencing {
			opts = append(opts, quorumlock.WithFencing())
		}
		if cfg.NoQuarantine {
			opts = append(opts, quorumlock.WithRestartQuarantine(false))
		}
		if lockers[i], err = quorumlock.NewFromURLs(cluster.URLs(i), opts...); err != nil {
			return nil, err
		}
	}
	closeLockers := sync.OnceFunc(func() {
		for _, l := range lockers {
			l.Close()
		}
	})
	defer closeLockers()

	clock := history.NewRecorder()
	recs := map[string]*history.Recorder{}
	stores := map[string]*fencedStore{}
	newKey := func(key string) {
		recs[key] = history.NewRecorder()
		if cfg.Fencing {
			stores[key] = &fencedStore{rec: recs[key]}
		}
	}
	shared := make([]string, cfg.Keys)
	for i := range shared {
		shared[i] = fmt.Sprintf("shared-%d", i)
		newKey(shared[i])
	}
	workers := make([]*worker, cfg.Clients)
	for i := range workers {
		w := &worker{
			id: i, name: fmt.Sprintf("c%d", i), locker: lockers[i%cfg.Lockers], recs: recs, stores: stores, clock: clock, cfg: cfg,
			keys: shared, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)+2)), failures: map[string]int{},
		}
		if i%2 == 1 {
			w.keys, w.private = []string{"private-" + w.name}, true
			newKey(w.keys[0])
		}
		workers[i] = w
	}

	logf := func(string, ...any) {}
	if cfg.Log != nil {
		var mu sync.Mutex
		logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(cfg.Log, "%8.3fs "+format+"\n", append([]any{clock.Since().Seconds()}, args...)...)
		}
	}
	sched := newScheduler(cluster, cfg, func(c int) { workers[c].pause.Store(true) }, logf)

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg, faults sync.WaitGroup
	faults.Go(func() { sched.run(runCtx) })
	for _, w := range workers {
		wg.Go(func() { w.run(runCtx) })
	}
	if cfg.Progress != nil {
		wg.Go(func() { progress(runCtx, cfg.Progress, clock, workers, cfg.Duration) })
	}
	wg.Wait()
	elapsed := clock.Since() // the workers stopped; the faults heal next
	faults.Wait()

	// Everything healed and closed: every key must expire within the ttl.
	closeLockers()
	time.Sleep(cfg.TTL + cfg.TTL/5)
	all, err := cluster.Entries()
	if err != nil {
		return nil, err
	}
	var left []Entry // locks; fencing counters and node markers are meant to stay
	for _, e := range all {
		if strings.HasPrefix(e.Key, quorumlock.DefaultKeyPrefix+"lock:") {
			left = append(left, e)
		}
	}

	r := &Report{Config: cfg, Elapsed: elapsed, Faults: sched.counts, Leftovers: left, FaultErrors: sched.errs,
		Failures: map[string]int{}}
	for _, rec := range recs {
		h := rec.History()
		c := history.Check(h)
		r.Check.Violations = append(r.Check.Violations, c.Violations...)
		for _, o := range h.Obtains {
			if o.OK {
				r.Obtains++
			} else {
				r.ObtainFailures++
			}
		}
		r.Refreshes += len(h.Refreshes)
		r.Releases += len(h.Releases)
		for _, w := range h.Writes {
			if w.Accepted {
				r.WritesAccepted++
			} else {
				r.WritesRejected++
			}
		}
	}
	var lat, at []time.Duration
	for _, w := range workers {
		lat = append(lat, w.latencies...)
		at = append(at, w.obtainAt...)
		r.Acts += w.acts
		for k, v := range w.failures {
			r.Failures[k] += v
		}
	}
	r.P50, r.P99 = percentile(lat, 50), percentile(lat, 99)
	r.LongestGap = longestGap(at, elapsed)
	return r, nil
}

// progress prints one line a second.
func progress(ctx context.Context, out io.Writer, clock *history.Recorder, workers []*worker, total time.Duration) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return
		case <-t.C:
			obtains, acts := 0, 0
			for _, w := range workers {
				w.mu.Lock()
				obtains, acts = obtains+len(w.obtainAt), acts+w.acts
				w.mu.Unlock()
			}
			fmt.Fprintf(out, "\r%5.1fs / %v: %d obtains, %d acts   ", clock.Since().Seconds(), total, obtains, acts)
		}
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// longestGap is the longest stretch of the campaign without a successful obtain.
func longestGap(at []time.Duration, end time.Duration) time.Duration {
	s := append(slices.Clone(at), end)
	slices.Sort(s)
	gap, prev := time.Duration(0), time.Duration(0)
	for _, t := range s {
		gap, prev = max(gap, t-prev), t
	}
	return gap
}
