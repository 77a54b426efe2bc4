package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quorumlock/quorumlock/internal/history"
)

// The contention campaign: service instances contend for one key on real
// redis-server nodes while the nodes are killed and come back empty, or are
// paused. It measures what a restart guard costs (obtains in the time
// given) and checks what it buys (no two holders), for any implementation
// of a quorum lock, so that quorumlock and its peers run it side by side.

// Restarts is the fault schedule of a contention campaign.
type Restarts string

// The schedules.
const (
	// DelayedRestarts: every 100-250ms, a node is killed and comes back
	// empty ttl+100ms later, or is paused (SIGSTOP) for 50-450ms; never
	// more than N-q nodes at once. Inside the safety model.
	DelayedRestarts Restarts = "delayed"
	// InstantRestarts: every 20-80ms, a node is killed and comes back
	// empty at once. Outside Redlock's model; quorumlock's restart
	// quarantine is meant to keep it safe.
	InstantRestarts Restarts = "instant"
)

// ContentionConfig describes a contention campaign. Zero fields take the
// defaults in brackets.
type ContentionConfig struct {
	Nodes    int           // redis-server nodes [5]
	Lockers  int           // service instances, each a client of its own [3]
	Workers  int           // goroutines per instance [3]
	TTL      time.Duration // of every lock [300ms]
	Wait     time.Duration // how long an obtain waits [300ms]
	MaxWork  time.Duration // a holder works a random part of it [270ms]
	Duration time.Duration // [15s]
	Seed     uint64        // faults and work; 0: random
	Restarts Restarts      // [DelayedRestarts]
	// RedisPath is the redis-server binary (redisproc.Available).
	RedisPath string
}

func (c *ContentionConfig) defaults() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Nodes, 5)
	def(&c.Lockers, 3)
	def(&c.Workers, 3)
	defd(&c.TTL, 300*time.Millisecond)
	defd(&c.Wait, 300*time.Millisecond)
	defd(&c.MaxWork, 270*time.Millisecond)
	defd(&c.Duration, 15*time.Second)
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	if c.Restarts == "" {
		c.Restarts = DelayedRestarts
	}
	switch {
	case c.Restarts != DelayedRestarts && c.Restarts != InstantRestarts:
		return fmt.Errorf("restarts %q: want %q or %q", c.Restarts, DelayedRestarts, InstantRestarts)
	case c.RedisPath == "":
		return errors.New("the contention campaign runs redis-server nodes: no path given")
	case c.Nodes < 1 || c.Lockers < 1 || c.Workers < 1 || c.MaxWork < 0 || c.Duration <= 0:
		return errors.New("nodes, lockers and workers must be at least 1, the duration positive")
	}
	return nil
}

// Contender is a lock implementation the contention campaign drives.
type Contender struct {
	Name string
	// Open returns one service instance's client of the nodes at addrs.
	Open func(addrs []string) (ContentionClient, error)
}

// ContentionClient is one service instance's lock client.
type ContentionClient interface {
	// Obtain takes key for ttl, waiting up to wait.
	Obtain(ctx context.Context, key string, ttl, wait time.Duration) (ContentionLock, error)
	Close()
}

// ContentionLock is a held lock.
type ContentionLock interface {
	// Deadline is when the holder stops trusting the lock.
	Deadline() time.Time
	Release(ctx context.Context)
}

// ContentionReport is what one implementation did in a contention campaign.
type ContentionReport struct {
	Contender  string
	Config     ContentionConfig
	Elapsed    time.Duration
	Obtains    int // successful
	Failures   int // obtains that returned an error, waits run out included
	Acts       int // holds long enough for the work drawn
	Faults     int
	FaultErrs  []error
	Violations []history.Violation
}

// RunContention runs the campaign with one implementation on new nodes.
func RunContention(ctx context.Context, cfg ContentionConfig, c Contender) (*ContentionReport, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	nodes := make([]*real, 0, cfg.Nodes)
	defer func() {
		for _, n := range nodes {
			n.resume()
			n.close()
		}
	}()
	addrs := make([]string, cfg.Nodes)
	for i := range addrs {
		n, err := newReal(cfg.RedisPath)
		if err != nil {
			return nil, fmt.Errorf("start node: %w", err)
		}
		nodes = append(nodes, n)
		addrs[i] = n.addr()
	}
	var clients []ContentionClient
	closeClients := sync.OnceFunc(func() {
		for _, cl := range clients {
			cl.Close()
		}
	})
	defer closeClients()
	for range cfg.Lockers {
		cl, err := c.Open(addrs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		clients = append(clients, cl)
	}

	rep := &ContentionReport{Contender: c.Name, Config: cfg}
	rec := history.NewRecorder()
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var mu sync.Mutex
	var workers, faults sync.WaitGroup
	faults.Go(func() { rep.Faults, rep.FaultErrs = contentionFaults(runCtx, cfg, nodes) })
	for w := range cfg.Lockers * cfg.Workers {
		cl := clients[w%cfg.Lockers]
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)+2))
		workers.Go(func() {
			obtains, failures, acts := contend(runCtx, cfg, cl, rec, rng, fmt.Sprintf("w%d", w))
			mu.Lock()
			rep.Obtains, rep.Failures, rep.Acts = rep.Obtains+obtains, rep.Failures+failures, rep.Acts+acts
			mu.Unlock()
		})
	}
	workers.Wait()
	rep.Elapsed = rec.Since()
	faults.Wait()
	closeClients()
	rep.Violations = rec.Check().Violations
	return rep, nil
}

// contend is one worker: obtain, work for a random part of MaxWork if the
// lock is certain to last that long, release; until ctx ends.
func contend(ctx context.Context, cfg ContentionConfig, cl ContentionClient, rec *history.Recorder, rng *rand.Rand, name string) (obtains, failures, acts int) {
	margin := cfg.TTL / 30
	for n := 0; ctx.Err() == nil; n++ {
		id := fmt.Sprintf("%s#%d", name, n)
		work := time.Duration(rng.Int64N(int64(cfg.MaxWork) + 1))
		call := rec.Since()
		lock, err := cl.Obtain(ctx, "contended", cfg.TTL, cfg.Wait)
		ret := rec.Since()
		if err != nil {
			rec.Obtain(name, id, call, ret, false, 0)
			if ctx.Err() == nil {
				failures++
				if ret-call < time.Millisecond {
					time.Sleep(time.Millisecond) // no busy loop on a quick refusal
				}
			}
			continue
		}
		obtains++
		rec.Obtain(name, id, call, ret, true, rec.At(lock.Deadline()))
		if time.Until(lock.Deadline()) > work+margin { // the holder checks its validity first
			rec.Do(id, func() { time.Sleep(work) })
			acts++
		}
		call = rec.Since()
		lock.Release(context.Background())
		rec.Release(id, call, rec.Since())
	}
	return obtains, failures, acts
}

// contentionFaults injects the schedule until ctx ends, then heals every
// node, and returns how many faults it injected.
func contentionFaults(ctx context.Context, cfg ContentionConfig, nodes []*real) (count int, errs []error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	n := len(nodes)
	budget := n - (n/2 + 1)
	var mu sync.Mutex
	busy := make([]bool, n)
	impaired := 0
	note := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	var heals sync.WaitGroup
	defer func() {
		heals.Wait()
		mu.Lock()
		errs = slices.Clone(errs) // the heals' errors too, read once they are done
		mu.Unlock()
	}()
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	for {
		gap := between(100*time.Millisecond, 250*time.Millisecond)
		if cfg.Restarts == InstantRestarts {
			gap = between(20*time.Millisecond, 80*time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return count, errs
		case <-time.After(gap):
		}
		i := rng.IntN(n)
		if cfg.Restarts == InstantRestarts {
			note(nodes[i].restart(false))
			count++
			continue
		}
		kill := rng.IntN(2) == 0
		d := between(50*time.Millisecond, 450*time.Millisecond)
		if kill {
			d = cfg.TTL + 100*time.Millisecond
		}
		mu.Lock()
		if busy[i] || impaired >= budget {
			mu.Unlock()
			continue
		}
		busy[i] = true
		impaired++
		mu.Unlock()
		count++
		if kill {
			note(nodes[i].crash())
		} else {
			_, err := nodes[i].hang()
			note(err)
		}
		heals.Go(func() {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
			if kill {
				note(nodes[i].restart(false))
			} else {
				note(nodes[i].resume())
			}
			mu.Lock()
			busy[i] = false
			impaired--
			mu.Unlock()
		})
	}
}

// String renders one report as a line of the side-by-side table.
func (r *ContentionReport) String() string {
	return fmt.Sprintf("%-26s %8d %10d %10d %8d %6d", r.Contender, r.Obtains, len(r.Violations), r.Failures, r.Acts, r.Faults)
}

// ContentionTable renders reports side by side, with the configuration.
func ContentionTable(reports []*ContentionReport) string {
	var b strings.Builder
	if len(reports) == 0 {
		return ""
	}
	c := reports[0].Config
	fmt.Fprintf(&b, "contention campaign: %d redis-server nodes, %d instances x %d workers on one key, ttl %v, wait %v, work 0-%v, %v, %s restarts, seed %d\n",
		c.Nodes, c.Lockers, c.Workers, c.TTL, c.Wait, c.MaxWork, c.Duration, c.Restarts, c.Seed)
	fmt.Fprintf(&b, "%-26s %8s %10s %10s %8s %6s\n", "implementation", "obtains", "violations", "failures", "acts", "faults")
	for _, r := range reports {
		fmt.Fprintln(&b, r)
	}
	for _, r := range reports {
		if len(r.FaultErrs) > 0 {
			fmt.Fprintf(&b, "%s: %d faults could not be applied, e.g. %v\n", r.Contender, len(r.FaultErrs), r.FaultErrs[0])
		}
	}
	return b.String()
}
