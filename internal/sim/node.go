package sim

import (
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// epoch is the nodes' wall clock at the start of every run.
var epoch = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// node is one simulated Redis server: a miniredis whose clock runs at its
// own rate (drift) and may jump, and which can crash and come back.
type node struct {
	m     *miniredis.Miniredis
	sc    *scripts  // its EVAL and EVALSHA
	start time.Time // the bubble's time when the run began

	mu    sync.Mutex
	rate  float64       // its clock's speed: 1 + drift
	jump  time.Duration // added to its clock (outside the model)
	down  bool
	since time.Time // virtual time of the last rate change
	at    time.Duration
}

func newNode(rate float64) *node {
	m := miniredis.NewMiniRedis()
	now := time.Now()
	n := &node{m: m, sc: newScripts(m), start: now, rate: rate, since: now}
	m.SetTime(epoch)
	m.ClockTTL(true)
	return n
}

// clock returns the node's wall clock now. The caller holds n.mu.
func (n *node) clock() time.Time {
	now := time.Now()
	return epoch.Add(n.at + time.Duration(float64(now.Sub(n.since))*n.rate) + n.jump)
}

// tick brings the node's clock up to now, before a command reaches it.
func (n *node) tick() {
	n.mu.Lock()
	t := n.clock()
	n.mu.Unlock()
	n.sc.mu.Lock() // not in the middle of a script
	n.m.SetTime(t)
	n.sc.mu.Unlock()
}

// has reports whether the node holds key now, by its own clock.
func (n *node) has(key string) bool {
	n.tick()
	n.sc.mu.Lock() // not in the middle of a script
	defer n.sc.mu.Unlock()
	return n.m.Exists(key)
}

// flush empties the node, between two scripts.
func (n *node) flush() {
	n.sc.mu.Lock()
	n.m.FlushAll()
	n.sc.mu.Unlock()
}

// restarted is what every restart does, with or without the data: the
// node forgets its scripts.
func (n *node) restarted() { n.sc.forget() }

// setRate changes the speed of the node's clock from now on.
func (n *node) setRate(rate float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	n.at += time.Duration(float64(now.Sub(n.since)) * n.rate)
	n.since, n.rate = now, rate
}

// jumpBy moves the node's clock by d at once.
func (n *node) jumpBy(d time.Duration) {
	n.mu.Lock()
	n.jump += d
	n.mu.Unlock()
	n.tick()
}

func (n *node) up() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.down
}

func (n *node) setDown(down bool) {
	n.mu.Lock()
	n.down = down
	n.mu.Unlock()
}
