package sim

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/history"
)

// fenced is a fenced obtain: when its lease began, and its token.
type fenced struct {
	at    time.Duration
	token uint64
	id    string
}

// work is one worker of Locker c: until ctx ends, it obtains a key, holds
// it for a while (acting on the resource, asking its TTL, refreshing it to
// longer and shorter ttls) and releases it or lets it expire. Its choices
// come from r alone.
func (w *world) work(ctx context.Context, c int, name string, r *rand.Rand) {
	l := w.lockers[c]
	for ctx.Err() == nil {
		gap := 200 * time.Millisecond
		if w.contention {
			gap = 20 * time.Millisecond
		}
		time.Sleep(dur(r, gap))
		key := w.keys[r.IntN(len(w.keys))]
		ttl := w.ttlFor(c, w.obtainTTLs[r.IntN(len(w.obtainTTLs))])
		var wait time.Duration
		if r.IntN(5) >= 2 {
			wait = dur(r, 1500*time.Millisecond)
		}
		octx, cancel := context.WithCancel(context.Background())
		if r.IntN(7) == 0 { // cancelled mid-call
			time.AfterFunc(dur(r, 300*time.Millisecond), cancel) // after the call, it cancels nothing
		}
		call := time.Now()
		lock, err := l.ObtainContext(octx, key, ttl, wait)
		ret := time.Now()
		cancel()
		if err != nil {
			w.record(key, history.Obtain{Client: name, ID: name + "@" + call.String(), Call: w.since(call), Ret: w.since(ret)})
			w.logf("%s obtain %s ttl %v wait %v: %v", name, key, ttl, wait, short(err))
			if errors.Is(err, quorumlock.ErrClosed) {
				return
			}
			continue
		}
		id := name + "/" + lock.Key() + "/" + ret.String()
		w.record(key, history.Obtain{Client: name, ID: id, Call: w.since(call), Ret: w.since(ret), OK: true, ValidUntil: w.since(lock.Deadline())})
		w.logf("%s obtained %s ttl %v token %d valid %v", name, key, ttl, lock.Fence(), lock.Deadline().Sub(ret))
		if w.fencing {
			w.mu.Lock()
			w.tokens[key] = append(w.tokens[key], fenced{w.since(ret), lock.Fence(), id})
			w.obtains++
			w.mu.Unlock()
		} else {
			w.mu.Lock()
			w.obtains++
			w.mu.Unlock()
		}
		w.trust(id, name, key, lock)
		w.hold(c, name, id, key, lock, ttl, r)
	}
}

// holdSteps are what a holder may do between its obtain and its release;
// each schedule's holders do some of them (run.go).
var holdSteps = []string{"act", "ttl", "refresh", "sleep", "use-up", "keepalive"}

// hold is what a holder does with its lock. After a refresh that failed
// without losing the lock, it may go on trusting Deadline, as the API
// allows: the validity is then the earlier of the old and the new ttl's.
func (w *world) hold(c int, name, id, key string, lock *quorumlock.Lock, ttl time.Duration, r *rand.Rand) {
	ttls := refreshTTLs
	if w.shorten { // refreshes only to ttls below the obtain's, where there are
		ttls = ttls[:max(1, slices.Index(ttls, ttl))]
	}
	steps := 1 + r.IntN(4)
	if w.contention { // a brief hold: act, then release
		w.act(name, id, key, lock, false)
		steps = 0
	}
	for range steps {
		step := w.steps[r.IntN(len(w.steps))]
		switch step {
		case "act": // on the resource, after checking its validity (rule 4)
			w.act(name, id, key, lock, w.cfg.Pauses && r.IntN(3) == 0)
		case "ttl":
			d, err := lock.TTLContext(context.Background())
			w.logf("%s ttl %s: %v %v", name, key, d, short(err))
		case "refresh":
			ttl := w.ttlFor(c, ttls[r.IntN(len(ttls))])
			call := time.Now()
			err := lock.RefreshContext(context.Background(), ttl)
			ret := time.Now()
			// A holder may go on after a refresh that failed without losing
			// the lock, trusting Deadline: in the history, that refresh
			// gave the validity Deadline says.
			trusts := err == nil || !errors.Is(err, quorumlock.ErrLockNotHeld) && r.IntN(2) == 0
			w.record(key, history.Refresh{ID: id, Call: w.since(call), Ret: w.since(ret), OK: trusts, ValidUntil: w.since(lock.Deadline())})
			w.logf("%s refresh %s to %v: %v", name, key, ttl, short(err))
			if !trusts {
				w.distrust(id)
				return // it no longer trusts the lock
			}
			if err != nil { // it trusts Deadline, and works until that nearly ends
				time.Sleep(max(time.Until(lock.Deadline())-dur(r, 20*time.Millisecond), 0))
			}
		case "sleep":
			time.Sleep(dur(r, ttls[0]))
		case "use-up": // work on until the validity nearly ends
			time.Sleep(max(time.Until(lock.Deadline())-dur(r, 50*time.Millisecond), 0))
		case "keepalive":
			if !w.keepAlive(name, id, key, lock, r) {
				w.distrust(id)
				return // lost: it no longer trusts the lock
			}
		}
	}
	if r.IntN(5) == 0 {
		w.logf("%s lets %s expire", name, key)
		return
	}
	w.distrust(id)
	call := time.Now()
	err := lock.ReleaseContext(context.Background())
	w.record(key, history.Release{ID: id, Call: w.since(call), Ret: w.since(time.Now())})
	w.logf("%s release %s: %v", name, key, short(err))
}

// keepAlive holds the lock for a while with KeepAlive refreshing it in the
// background, acting now and then. Before each act it reads Deadline, the
// validity KeepAlive's refreshes gave: in the history, a refresh that
// returned then. It reports whether the lock was still held at the end.
func (w *world) keepAlive(name, id, key string, lock *quorumlock.Lock, r *rand.Rand) bool {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := lock.KeepAlive(ctx); err != nil {
		w.logf("%s keepalive %s: %v", name, key, short(err))
		return !errors.Is(err, quorumlock.ErrLockNotHeld)
	}
	w.logf("%s keepalive %s", name, key)
	// The holder watches Lost all along: from the moment it closes, it no
	// longer trusts the lock (in the history, a refresh that failed then).
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-lock.Lost():
			now := w.since(time.Now())
			w.record(key, history.Refresh{ID: id, Call: now, Ret: now})
			w.distrust(id)
			w.logf("%s lost %s under keepalive", name, key)
		case <-ctx.Done():
		}
	}()
	defer func() { stop(); <-watched }()
	for range 1 + r.IntN(3) {
		time.Sleep(dur(r, 2*refreshTTLs[0]))
		until := lock.Deadline()
		select {
		case <-lock.Lost():
			return false
		default:
		}
		now := w.since(time.Now())
		w.record(key, history.Refresh{ID: id, Call: now, Ret: now, OK: true, ValidUntil: w.since(until)})
		w.act(name, id, key, lock, false)
	}
	return true
}

// act is guarded work on the key's resource: a holder checks that its
// validity lasts, then acts at once (inside the model); a paused one acts
// after its validity ended, unchecked (outside). With fencing, the
// resource takes the write only with a token no lower than any it took.
func (w *world) act(name, id, key string, lock *quorumlock.Lock, paused bool) {
	const work = time.Millisecond // an act lasts this long
	if paused {
		time.Sleep(time.Until(lock.Deadline()) + time.Duration(1+w.rngFor(id)%200)*time.Millisecond)
	} else if time.Until(lock.Deadline()) <= work {
		return
	}
	start := w.since(time.Now())
	time.Sleep(work)
	at := w.since(time.Now())
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.hist[key]
	h.Acts = append(h.Acts, history.Act{ID: id, Start: start, End: at})
	if w.fencing {
		ok := lock.Fence() >= w.store[key]
		if ok {
			w.store[key] = lock.Fence()
		}
		h.Writes = append(h.Writes, history.Write{ID: id, Token: lock.Fence(), At: start, Accepted: ok})
	}
}

// rngFor is a number derived from s (a pause's length).
func (w *world) rngFor(s string) uint64 {
	var h uint64 = w.seed
	for _, b := range []byte(s) {
		h = h*1099511628211 ^ uint64(b)
	}
	return h
}

// record adds an event to key's history.
func (w *world) record(key string, ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.hist[key]
	switch e := ev.(type) {
	case history.Obtain:
		h.Obtains = append(h.Obtains, e)
	case history.Refresh:
		h.Refreshes = append(h.Refreshes, e)
	case history.Release:
		h.Releases = append(h.Releases, e)
	}
}

// short is an error's text, or "ok".
func short(err error) string {
	if err == nil {
		return "ok"
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// dur is a random duration in [0, max), to the nanosecond: no two choices
// of a schedule fall on one instant, where the order of goroutines would
// decide.
func dur(r *rand.Rand, max time.Duration) time.Duration { return time.Duration(r.Int64N(int64(max))) }

// ttlFor is ttl, or the next one Locker c accepts: more than twice its
// node timeout.
func (w *world) ttlFor(c int, ttl time.Duration) time.Duration {
	for _, t := range refreshTTLs {
		if ttl > 2*w.timeout[c] {
			break
		}
		ttl = max(ttl, t)
	}
	return ttl
}
