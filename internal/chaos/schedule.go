package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// scheduler injects faults from the mix at random, reproducibly from the
// seed, keeping at most a minority of nodes impaired by faults inside the
// safety model. Every fault heals itself, early when the campaign ends.
type scheduler struct {
	c     *Cluster
	cfg   Config
	rng   *rand.Rand // used by the scheduling goroutine only
	pause func(client int)
	logf  func(format string, args ...any)

	mu         sync.Mutex
	busyNode   []bool
	busyClient []bool
	impaired   int
	counts     map[Kind]int
	errs       []error

	wg sync.WaitGroup
}

func newScheduler(c *Cluster, cfg Config, pause func(int), logf func(string, ...any)) *scheduler {
	return &scheduler{
		c: c, cfg: cfg, pause: pause, logf: logf,
		rng:        rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		busyNode:   make([]bool, c.Len()),
		busyClient: make([]bool, cfg.Lockers),
		counts:     map[Kind]int{},
	}
}

// run injects faults until ctx ends, then waits for every fault to heal.
func (s *scheduler) run(ctx context.Context) {
	defer s.wg.Wait()
	if len(s.cfg.Faults) == 0 {
		<-ctx.Done()
		return
	}
	for {
		gap := s.cfg.FaultEvery/2 + time.Duration(s.rng.Int64N(int64(s.cfg.FaultEvery)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
		s.inject(ctx, s.cfg.Faults[s.rng.IntN(len(s.cfg.Faults))])
	}
}

// hold draws how long a fault lasts: between lo and hi.
func (s *scheduler) hold(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)+1))
}

// inject starts one fault of kind k if a node or client is free for it.
func (s *scheduler) inject(ctx context.Context, k Kind) {
	n, q, ttl := s.c.Len(), s.c.Len()/2+1, s.cfg.TTL
	switch k {
	case Pause:
		s.count(k)
		s.pause(s.rng.IntN(s.cfg.Clients))
		return
	case PartitionMinority, PartitionMajority:
		client := s.rng.IntN(s.cfg.Lockers)
		size := 1 + s.rng.IntN(n-q)
		if k == PartitionMajority {
			size = q + s.rng.IntN(n-q+1)
		}
		if n == 1 || !s.claimClient(client) {
			return
		}
		nodes := s.rng.Perm(n)[:size]
		d := s.hold(ttl/4, 2*ttl)
		s.count(k)
		s.logf("%s: client %d from nodes %v for %v", k, client, nodes, d)
		s.goHeal(ctx, d, func() { s.c.Partition(client, nodes, true) }, func() {
			s.c.Partition(client, nodes, false)
			s.releaseClient(client)
		})
		return
	}

	i := s.rng.IntN(n)
	if !s.claimNode(i, k.impairs() && k.IsInside(), n-q) {
		return
	}
	s.count(k)
	done := func() { s.releaseNode(i, k.impairs() && k.IsInside()) }
	switch k {
	case CrashRestart:
		d := s.hold(ttl/10, ttl)
		s.logf("%s: node %d down for %v", k, i, d)
		s.goHeal(ctx, d, func() { s.note(s.c.Crash(i)) }, func() { s.note(s.c.Restart(i, true)); done() })
	case CrashDelayed:
		d := s.cfg.TTL + s.hold(ttl/10, ttl/2) // longer than the longest ttl
		s.logf("%s: node %d down for %v, back empty", k, i, d)
		s.goHeal(context.WithoutCancel(ctx), d, func() { s.note(s.c.Crash(i)) }, func() {
			s.note(s.c.Restart(i, false))
			if !s.cfg.NoQuarantine {
				// Back without its data, the node is quarantined for the
				// longest ttl since it started: it is still out of the
				// quorum, and counts against the budget.
				s.wg.Go(func() {
					time.Sleep(s.cfg.TTL + s.cfg.NodeTimeout)
					done()
				})
				return
			}
			done()
		})
	case Hang:
		d := s.hold(ttl/10, ttl)
		s.logf("%s: node %d for %v", k, i, d)
		s.goHeal(ctx, d, func() { s.note(s.c.Hang(i)) }, func() { s.note(s.c.Resume(i)); done() })
	case SlowAbove, SlowBelow:
		lat := 2 * s.cfg.NodeTimeout
		if k == SlowBelow {
			lat = s.cfg.NodeTimeout / 4
		}
		d := s.hold(ttl/10, ttl)
		s.logf("%s: node %d +%v for %v", k, i, lat, d)
		s.goHeal(ctx, d, func() { s.c.Slow(i, lat) }, func() { s.c.Slow(i, 0); done() })
	case RestartInstant:
		s.logf("%s: node %d", k, i)
		s.note(s.c.Crash(i))
		s.note(s.c.Restart(i, false))
		done()
	case ClockJump:
		s.logf("%s: node %d +%v", k, i, ttl)
		s.note(s.c.JumpClock(i, ttl))
		done()
	}
}

// goHeal applies a fault now and heals it after d, or as soon as ctx ends.
func (s *scheduler) goHeal(ctx context.Context, d time.Duration, apply, heal func()) {
	apply()
	s.wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
		heal()
	})
}

func (s *scheduler) claimNode(i int, impairs bool, budget int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busyNode[i] || impairs && s.impaired >= budget {
		return false
	}
	s.busyNode[i] = true
	if impairs {
		s.impaired++
	}
	return true
}

func (s *scheduler) releaseNode(i int, impairs bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busyNode[i] = false
	if impairs {
		s.impaired--
	}
}

func (s *scheduler) claimClient(c int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busyClient[c] {
		return false
	}
	s.busyClient[c] = true
	return true
}

func (s *scheduler) releaseClient(c int) {
	s.mu.Lock()
	s.busyClient[c] = false
	s.mu.Unlock()
}

func (s *scheduler) count(k Kind) {
	s.mu.Lock()
	s.counts[k]++
	s.mu.Unlock()
}

// note keeps an error of the fault machinery itself for the report.
func (s *scheduler) note(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	s.errs = append(s.errs, fmt.Errorf("fault injection: %w", err))
	s.mu.Unlock()
}
