package sim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quorumlock/quorumlock"
)

// The exposure judge (docs/safety.md, *Mutual exclusion*): while a holder
// trusts its lock, fewer than a quorum of nodes could grant the key to
// another client before its Deadline. A node could when the key is absent
// there (gone by the node's own clock) and the node grants: its marker is
// marked, and its restart quarantine is over or ends before the Deadline
// (with the quarantine off, any node without the key); or when the key
// there expires before the Deadline, by the node's clock at its rate. The
// history checker finds two holders only when a second client happens to
// obtain in the window; this judge finds the window, from the moment the
// nodes' state opens it.

// trusted is a lock its holder trusts.
type trusted struct {
	name, key string
	lock      *quorumlock.Lock
}

// trust records that the holder name trusts lock, id in the history, from
// now until its Deadline or distrust.
func (w *world) trust(id, name, key string, lock *quorumlock.Lock) {
	w.mu.Lock()
	w.trusted[id] = trusted{name, key, lock}
	w.mu.Unlock()
}

// distrust records that the holder of id no longer trusts its lock: it
// releases it, or a refresh failed and it gave up on it, or it was lost.
func (w *world) distrust(id string) {
	w.mu.Lock()
	delete(w.trusted, id)
	w.mu.Unlock()
}

// watchExposure checks every trusted lock's exposure each few virtual
// milliseconds, until ctx ends.
func (w *world) watchExposure(ctx context.Context) {
	const every = 3 * time.Millisecond
	for ctx.Err() == nil {
		time.Sleep(every)
		w.mu.Lock()
		ids := slices.Sorted(maps.Keys(w.trusted))
		locks := make([]trusted, len(ids))
		for i, id := range ids {
			locks[i] = w.trusted[id]
		}
		w.mu.Unlock()
		for i, t := range locks {
			if !w.exposed(t) {
				w.distrust(ids[i]) // its Deadline passed, or it was found exposed
			}
		}
	}
}

// exposed checks the exposure of t's key while its holder trusts it, and
// records a violation when a quorum could grant the key. It reports false
// once t's Deadline has passed, or it recorded the violation (once per
// lock).
func (w *world) exposed(t trusted) bool {
	const margin = time.Millisecond // an act's length: the holder trusts the lock that long
	left := time.Until(t.lock.Deadline())
	switch {
	case left <= 0:
		return false // no refresh can succeed now: its trust is over
	case left <= margin:
		return true // too late to act on; a refresh may still move Deadline on
	}
	var open []string
	for i, nd := range w.nodes {
		if why := nd.grantsWithin(keyPrefix+"lock:{"+t.key+"}", !w.cfg.InstantRestarts, left-margin); why != "" {
			open = append(open, fmt.Sprintf("node %d %s", i, why))
		}
	}
	if q := len(w.nodes)/2 + 1; len(open) >= q {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.exposures = append(w.exposures, fmt.Sprintf("key %s: %s trusts its lock for %v more at %v, and %d nodes could grant the key to another client before then, quorum %d: %s",
			t.key, t.name, left, w.since(time.Now()), len(open), q, strings.Join(open, "; ")))
		return false // once per lock
	}
	return true
}

// grantsWithin says why the node could grant rkey to a client within d
// ("" when it could not), if nothing changes on it meanwhile: the key is
// absent, or expires within d by the node's clock at its rate, and with
// the quarantine on the node's marker is marked and its quarantine ends
// within d.
func (n *node) grantsWithin(rkey string, quarantine bool, d time.Duration) string {
	n.tick()
	n.mu.Lock()
	nowMS, rate := n.clock().UnixMilli(), n.rate
	n.mu.Unlock()
	real := func(ms int64) time.Duration { // node ms from now, in the bubble's time
		return time.Duration(float64(ms) * float64(time.Millisecond) / rate)
	}
	n.sc.mu.Lock() // not in the middle of a script
	defer n.sc.mu.Unlock()
	if n.m.Exists(rkey) {
		if ttl := n.m.TTL(rkey); ttl > 0 && time.Duration(float64(ttl)/rate) < d {
			return fmt.Sprintf("holds the key for %v only", ttl.Round(time.Microsecond))
		}
		return ""
	}
	if !quarantine {
		return "lacks the key"
	}
	marker, err := n.m.Get(keyPrefix + "node")
	if err != nil || strings.HasPrefix(marker, "p:") {
		return "" // absent or pending: it grants nothing
	}
	// C:A:G:run:proof, G the end of its quarantine in the node's ms.
	f := strings.SplitN(marker, ":", 5)
	if len(f) < 4 {
		return ""
	}
	g, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || real(g-nowMS) >= d {
		return ""
	}
	return fmt.Sprintf("lacks the key, marked %s", strings.Join(f[:3], ":"))
}
