package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/history"
)

// worker is one client: it obtains, acts while its lock is valid, refreshes
// when it runs short, and releases, recording everything.
type worker struct {
	id      int
	name    string
	locker  *quorumlock.Locker
	recs    map[string]*history.Recorder // one history per key: mutual exclusion is per key
	stores  map[string]*fencedStore      // with fencing: the resource each key guards
	clock   *history.Recorder            // the campaign's clock, for latencies and gaps
	cfg     Config
	keys    []string
	private bool // its key is its own: obtain latency is the round's, not contention's
	rng     *rand.Rand
	pause   atomic.Bool // set by the Pause fault: act once past validity

	mu        sync.Mutex
	latencies []time.Duration // successful obtains on a private key
	obtainAt  []time.Duration // when each obtain succeeded
	failures  map[string]int
	acts      int
}

func (w *worker) run(ctx context.Context) {
	for n := 0; ctx.Err() == nil; n++ {
		key := w.keys[w.rng.IntN(len(w.keys))]
		rec := w.recs[key]
		id := fmt.Sprintf("%s#%d", w.name, n)
		call := rec.Since()
		began := w.clock.Since()
		lock, err := w.locker.ObtainContext(ctx, key, w.cfg.TTL, w.cfg.Wait)
		ret := rec.Since()
		if err != nil {
			rec.Obtain(w.name, id, call, ret, false, 0)
			if ctx.Err() == nil {
				w.fail(err)
				time.Sleep(w.cfg.TTL / 20) // a client that cannot reach a quorum does not spin
			}
			continue
		}
		rec.Obtain(w.name, id, call, ret, true, rec.At(lock.Deadline()))
		ended := w.clock.Since()
		w.mu.Lock()
		w.obtainAt = append(w.obtainAt, ended)
		if w.private {
			w.latencies = append(w.latencies, ended-began)
		}
		w.mu.Unlock()
		w.hold(rec, w.stores[key], lock, id)
	}
}

// hold acts one to three times under the lock, each time only when the
// lock is certain to outlast the act by a safety margin, refreshing when
// it is not; then it releases. A paused worker acts once past validity.
func (w *worker) hold(rec *history.Recorder, store *fencedStore, lock *quorumlock.Lock, id string) {
	defer func() {
		call := rec.Since()
		lock.ReleaseContext(context.Background())
		rec.Release(id, call, rec.Since())
	}()
	margin := w.cfg.TTL / 3
	for range 1 + w.rng.IntN(3) {
		act := time.Duration(1+w.rng.IntN(5)) * time.Millisecond
		if w.rng.IntN(5) == 0 { // now and then a longer job, which needs refreshes
			time.Sleep(w.cfg.TTL/4 + time.Duration(w.rng.Int64N(int64(w.cfg.TTL/4))))
		}
		if w.pause.CompareAndSwap(true, false) {
			time.Sleep(time.Until(lock.Deadline()) + w.cfg.TTL/2) // a GC pause, a SIGSTOP
			w.act(rec, store, lock, id, act)
			return
		}
		if time.Until(lock.Deadline()) < act+margin {
			call := rec.Since()
			err := lock.RefreshContext(context.Background(), w.cfg.TTL)
			rec.Refresh(id, call, rec.Since(), err == nil, rec.At(lock.Deadline()))
			if err != nil {
				w.fail(err)
				return
			}
		}
		if time.Until(lock.Deadline()) < act+margin {
			return
		}
		w.act(rec, store, lock, id, act)
	}
}

// act does the guarded work: with fencing, a write to the key's store
// carrying the lock's token, then d of work.
func (w *worker) act(rec *history.Recorder, store *fencedStore, lock *quorumlock.Lock, id string, d time.Duration) {
	start := rec.Since()
	if store != nil {
		store.write(id, lock.Fence())
	}
	time.Sleep(d)
	rec.Act(id, start, rec.Since())
	w.mu.Lock()
	w.acts++
	w.mu.Unlock()
}

// fail counts an error by its kind.
func (w *worker) fail(err error) {
	kind := "other"
	var qe *quorumlock.QuorumError
	switch {
	case errors.As(err, &qe):
		kind = "quorum unreachable"
	case errors.Is(err, quorumlock.ErrNotObtained):
		kind = "held elsewhere"
	case errors.Is(err, quorumlock.ErrLockNotHeld):
		kind = "lock lost"
	}
	w.mu.Lock()
	w.failures[kind]++
	w.mu.Unlock()
}
