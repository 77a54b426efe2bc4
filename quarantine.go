package quorumlock

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/quorum"
)

// ErrRestartQuarantine is the error of a node that came back from a restart
// without its data and abstains from granting locks until the longest ttl
// ever granted through the nodes has passed since it started: the locks it
// forgot have expired by then. It still answers releases.
var ErrRestartQuarantine = errors.New("quorumlock: node restarted without its data: in restart quarantine")

// errNoMarker is the answer of a node whose marker is missing.
var errNoMarker = errors.New("the node's marker is missing: it may have restarted without its data")

// markerState is what the Locker learnt of the nodes' markers: the longest
// ttl they granted, and when the oldest of them was made.
type markerState struct {
	mu       sync.Mutex
	longest  time.Duration
	oldest   time.Time // on the Locker's clock; zero: no marker seen
	observed bool
}

// noteMarker keeps what a node said of its marker: the longest ttl granted
// through it (ms; negative: no marker) and the marker's age.
func (l *Locker) noteMarker(longestMS int64, age time.Duration) {
	if longestMS < 0 {
		return
	}
	made := l.opts.clock.Now().Add(-age)
	m := &l.markers
	m.mu.Lock()
	defer m.mu.Unlock()
	m.longest = max(m.longest, time.Duration(longestMS)*time.Millisecond)
	if !m.observed || made.Before(m.oldest) {
		m.oldest, m.observed = made, true
	}
}

// marked reports the longest ttl granted and the age of the oldest marker,
// and whether any marker was seen.
func (l *Locker) marked() (longest, age time.Duration, seen bool) {
	m := &l.markers
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.longest, l.opts.clock.Now().Sub(m.oldest), m.observed
}

// quarantine is a node's restart-quarantine state.
type quarantine struct {
	mu    sync.Mutex
	until time.Time // abstains until then; zero: it does not
}

// abstains reports whether the node must not grant a lock now, and whether
// its quarantine just ended, so that its marker must be written first.
func (q *quarantine) abstains(now time.Time) (abstain, ended bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.until.IsZero() {
		return false, false
	}
	return now.Before(q.until), !now.Before(q.until)
}

func (q *quarantine) set(until time.Time) {
	q.mu.Lock()
	q.until = until
	q.mu.Unlock()
}

// checkMarkers looks at the nodes that refused because their marker is
// missing, and reports whether it marked any (the caller tries again).
//
// When no node has a marker, the nodes are fresh (a new deployment): it
// marks them all. Otherwise each such node is asked how long it has been
// up: if it was up (by a second's margin) before the oldest marker was
// made, it has lost nothing and is marked. Else it is given a moment, two
// node timeouts, for a client marking fresh nodes at the same time (the
// first locks of a new deployment, taken at once by several clients) to
// reach it; if its marker is still missing, it may have restarted without
// its data, and it abstains until the longest ttl has passed since it
// started.
func (l *Locker) checkMarkers(ctx context.Context, res quorum.Result, ttl time.Duration) bool {
	var missing []int
	for i, r := range res.Replies {
		if r.Vote == quorum.Failed && errors.Is(r.Err, errNoMarker) {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return false
	}
	ctx = context.WithoutCancel(ctx)
	if _, _, seen := l.marked(); !seen {
		// Ask every node, not only those that answered the round in time.
		l.forEachNode(ctx, func(nctx context.Context, i int) { l.readMarker(nctx, i) })
	}
	longest, age, seen := l.marked()
	longest = max(longest, ttl)
	if !seen { // fresh nodes: mark them all
		missing = missing[:0]
		for i := range l.nodes {
			missing = append(missing, i)
		}
	}
	var mu sync.Mutex
	markedAny := false
	l.forEachNode(ctx, func(nctx context.Context, i int) {
		if !slices.Contains(missing, i) {
			return
		}
		n := &l.nodes[i]
		// The node lost nothing if it was up before the oldest marker was
		// made. Both figures are whole seconds, hence the second of margin;
		// a node that cannot tell its uptime (0) is taken to have just started.
		up := uptime(nctx, n.client)
		if seen && up < age+time.Second {
			time.Sleep(2 * l.opts.nodeTimeout)
			rctx, cancel := context.WithTimeout(ctx, l.opts.nodeTimeout)
			present := l.readMarker(rctx, i)
			cancel()
			if present {
				return // a racing client marked it: fresh after all
			}
			left := longest - up + time.Second // uptime is in whole seconds
			n.quarantine.set(l.opts.clock.Now().Add(left))
			l.opts.logger.Warn("quorumlock: a node restarted without its data: it grants no lock until the longest ttl has passed since its start",
				"node", n.addr, "uptime", up, "longest_ttl", longest, "abstains_for", left)
			l.hooks.nodeEvent(NodeEvent{Op: "quarantine", Node: i, Addr: n.addr, Err: ErrRestartQuarantine})
			return
		}
		if err := l.mark(nctx, i, longest); err != nil {
			l.opts.logger.Debug("quorumlock: marking a node failed", "node", n.addr, "err", err)
			return
		}
		mu.Lock()
		markedAny = true
		mu.Unlock()
	})
	return markedAny
}

// forEachNode runs fn on every node in parallel, each with the node
// timeout, and waits.
func (l *Locker) forEachNode(ctx context.Context, fn func(ctx context.Context, i int)) {
	var wg sync.WaitGroup
	for i := range l.nodes {
		wg.Go(func() {
			nctx, cancel := context.WithTimeout(ctx, l.opts.nodeTimeout)
			defer cancel()
			fn(nctx, i)
		})
	}
	wg.Wait()
}

// readMarker reads node i's marker, notes what it says, and reports whether
// it is there.
func (l *Locker) readMarker(ctx context.Context, i int) bool {
	conn, err := l.nodes[i].pool.Get(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	v, err := conn.Eval(readMarkerScript, l.markerKey())
	r, ok := v.([]any)
	if err != nil || !ok || len(r) != 2 || asInt(r[0]) < 0 {
		return false
	}
	l.noteMarker(asInt(r[0]), time.Duration(asInt(r[1]))*time.Second)
	return true
}

// mark writes node i's marker where it is missing.
func (l *Locker) mark(ctx context.Context, i int, longest time.Duration) error {
	conn, err := l.nodes[i].pool.Get(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Eval(markScript, l.markerKey(), strconv.FormatInt(longest.Milliseconds(), 10))
	return err
}

// uptime asks a node how long it has been up; 0 when it cannot tell.
func uptime(ctx context.Context, c redis.UniversalClient) time.Duration {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "uptime_in_seconds:"); ok {
			if s, err := strconv.ParseInt(v, 10, 64); err == nil {
				return time.Duration(s) * time.Second
			}
		}
	}
	return 0
}
