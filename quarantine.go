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
	only := func(nodes []int, fn func(ctx context.Context, i int) bool) []bool {
		done, ok := onEveryNode(ctx, l, func(ctx context.Context, i int) bool {
			return slices.Contains(nodes, i) && fn(ctx, i)
		})
		for i := range done {
			done[i] = done[i] && ok[i]
		}
		return done
	}
	all := make([]int, len(l.nodes))
	for i := range all {
		all[i] = i
	}
	if _, _, seen := l.marked(); !seen {
		// Ask every node, not only those that answered the round in time.
		only(all, l.readMarker)
	}
	longest, age, seen := l.marked()
	longest = max(longest, ttl)
	mark := func(ctx context.Context, i int) bool { return l.mark(ctx, i, longest) == nil }
	if !seen { // fresh nodes: mark them all
		return slices.Contains(only(all, mark), true)
	}

	// A node lost nothing if it was up before the oldest marker was made.
	// Both figures are whole seconds, hence the second of margin; a node
	// that cannot tell its uptime (0) is taken to have just started.
	ups, _ := onEveryNode(ctx, l, func(ctx context.Context, i int) time.Duration {
		if !slices.Contains(missing, i) {
			return 0
		}
		return uptime(ctx, l.nodes[i].client)
	})
	var fresh, suspects []int
	for _, i := range missing {
		if ups[i] >= age+time.Second {
			fresh = append(fresh, i)
		} else {
			suspects = append(suspects, i)
		}
	}
	if len(suspects) > 0 {
		time.Sleep(2 * l.opts.nodeTimeout) // time for a racing client to mark them
		back := only(suspects, l.readMarker)
		for _, i := range suspects {
			if !back[i] {
				l.quarantine(i, ups[i], longest)
			}
		}
	}
	return slices.Contains(only(fresh, mark), true)
}

// quarantine makes node i, up for up, abstain until longest has passed
// since it started.
func (l *Locker) quarantine(i int, up, longest time.Duration) {
	n := &l.nodes[i]
	left := longest - up + time.Second // uptime is in whole seconds
	n.quarantine.set(l.opts.clock.Now().Add(left))
	l.opts.logger.Warn("quorumlock: a node restarted without its data: it grants no lock until the longest ttl has passed since its start",
		"node", n.addr, "uptime", up, "longest_ttl", longest, "abstains_for", left)
	l.hooks.nodeEvent(NodeEvent{Op: "quarantine", Node: i, Addr: n.addr, Err: ErrRestartQuarantine})
}

// readMarker reads node i's marker, notes what it says, and reports whether
// it is there.
func (l *Locker) readMarker(ctx context.Context, i int) bool {
	v, err := l.eval(ctx, i, readMarkerScript, l.markerKey())
	r, ok := v.([]any)
	if err != nil || !ok || len(r) != 2 || asInt(r[0]) < 0 {
		return false
	}
	l.noteMarker(asInt(r[0]), time.Duration(asInt(r[1]))*time.Second)
	return true
}

// mark writes node i's marker where it is missing.
func (l *Locker) mark(ctx context.Context, i int, longest time.Duration) error {
	_, err := l.eval(ctx, i, markScript, l.markerKey(), strconv.FormatInt(longest.Milliseconds(), 10))
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
