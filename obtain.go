package quorumlock

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"time"

	"github.com/quorumlock/quorumlock/quorum"
)

// Obtain tries to obtain the lock named key for ttl, waiting up to
// waitTimeout for it to become free (0: one attempt). It reports false when
// the lock is held by another client, the wait ran out, or an error occurred;
// errors are logged. It is the seed's call; ObtainContext returns the error.
func (l *Locker) Obtain(key string, ttl, waitTimeout time.Duration) (*Lock, bool) {
	lock, err := l.ObtainContext(context.Background(), key, ttl, waitTimeout)
	if err != nil {
		l.logFailure("obtain", key, err)
		return nil, false
	}
	return lock, true
}

// ObtainContext obtains the lock named key for ttl on a quorum of nodes,
// waiting for up to waitTimeout (0: one attempt; it may exceed ttl) or until
// ctx ends. A waiter tries again as soon as a release is announced on any
// node, when the holder's time runs out, or after a jittered backoff when
// nodes failed to answer. Errors: ErrNotObtained when the lock
// stays held elsewhere (wrapping a *QuorumError when nodes failed), the
// context's error when ctx ends first, ErrInvalidKey, ErrInvalidTTL or
// ErrInvalidWait for bad arguments, ErrClosed after Close. Whatever an
// unsuccessful attempt may have set on a node is removed again.
func (l *Locker) ObtainContext(ctx context.Context, key string, ttl, waitTimeout time.Duration) (lock *Lock, err error) {
	if err := l.checkArgs(key, ttl); err != nil {
		return nil, err
	}
	if waitTimeout < 0 {
		return nil, fmt.Errorf("%w: %v is negative", ErrInvalidWait, waitTimeout)
	}
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrInvalidConfig)
	}
	if err := l.enter(); err != nil {
		return nil, err
	}
	defer l.bg.Done()

	began, attempts := time.Now(), 0
	defer func() {
		l.hooks.obtain(ObtainEvent{Key: key, Err: err, Took: time.Since(began), Attempts: attempts})
	}()
	var first string
	try := func(h attemptHooks) (*Lock, time.Duration, error) {
		attempts++
		return l.attempt(ctx, key, ttl, h)
	}
	giveUp := l.opts.clock.Now().Add(waitTimeout)
	lock, _, err = try(attemptHooks{note: func(v string) { first = v }})
	if err == nil || waitTimeout == 0 || !errors.Is(err, ErrNotObtained) {
		return lock, err
	}
	return l.wait(ctx, key, giveUp, first, try)
}

// wait tries again and again until giveUp: each time a release of the lock
// is announced, when the holder's time runs out, or after a backoff when
// nodes failed to say. It subscribes before its first retry, so that no
// release after that retry goes unseen.
func (l *Locker) wait(ctx context.Context, key string, giveUp time.Time, first string, try func(attemptHooks) (*Lock, time.Duration, error)) (*Lock, error) {
	w := l.room.join(l.lockKey(key), first)
	defer l.room.leave(w)
	select { // the subscription, confirmed by a node; never longer than a round
	case <-w.q.ready:
	case <-l.opts.clock.After(l.opts.nodeTimeout):
	case <-ctx.Done():
	}
	for attempt := 0; ; attempt++ {
		lock, holder, err := try(attemptHooks{
			note: func(v string) { l.room.own(w, v) },
			ours: func(v string) bool { return l.room.owns(w, v) },
		})
		if err == nil || !errors.Is(err, ErrNotObtained) {
			return lock, err
		}
		left := giveUp.Sub(l.opts.clock.Now())
		if left <= 0 {
			return nil, err
		}
		pause := l.opts.backoff(attempt)
		ready := w.q.ready // until a node confirms the subscription, a release may go unseen
		select {
		case <-ready:
			ready = nil
			if holder > 0 {
				// The holder's time, and a little more, spread so that waiters
				// do not all come at once. Releases wake us earlier.
				pause = holder + minDrift + mrand.N(holder/10+time.Millisecond)
			}
		default:
		}
		select {
		case <-ready: // subscribed just now: a release may have slipped by, try again
		case <-w.wake:
		case <-l.opts.clock.After(min(pause, left)):
		case <-ctx.Done():
			return nil, fmt.Errorf("quorumlock: obtain %q: %w", key, ctx.Err())
		case <-l.done:
			return nil, ErrClosed
		}
	}
}

// attempt runs one Redlock round: the same random value SET NX PX on every
// node in parallel, obtained when a quorum said yes with validity left.
// With fencing, a second round writes the new token back to a quorum before
// the lock is reported obtained. When the lock is held elsewhere, it also
// says how long until enough of the holder's keys expire for a quorum to be
// free (0: unknown).
func (l *Locker) attempt(ctx context.Context, key string, ttl time.Duration, h attemptHooks) (*Lock, time.Duration, error) {
	for tries := 1; ; tries++ {
		lock, left, err, marked := l.round1(ctx, key, ttl, h)
		if lock != nil || !marked || tries == 3 {
			return lock, left, err
		}
		// Nodes that had not been used were marked just now: once more.
	}
}

// round1 is one attempt; marked reports that it found nodes never used
// before, and marked them.
func (l *Locker) round1(ctx context.Context, key string, ttl time.Duration, h attemptHooks) (lock *Lock, left time.Duration, err error, marked bool) {
	value, err := l.newValue()
	if err != nil {
		return nil, 0, err, false
	}
	if h.note != nil {
		h.note(value)
	}
	rkey, fkey := l.lockKey(key), l.fenceKey(key)
	seq := quorum.NewSeq(len(l.nodes))
	start := l.opts.clock.Now()
	res := l.round(ctx, "obtain", key, seq, l.acquireCall(rkey, fkey, value, ttl))
	marked = l.checkMarkers(ctx, res, ttl)
	until := validUntil(start, ttl, l.opts.driftFactor)
	var token uint64
	var wb quorum.Result // the fencing write-back
	if res.Outcome == quorum.Reached && l.opts.fencing {
		token, wb = l.fence(ctx, key, fkey, seq, res)
		res.Outcome = wb.Outcome // the clean-up below follows the acquire's votes
	}
	if res.Outcome == quorum.Reached && l.opts.clock.Now().Before(until) {
		return &Lock{l: l, key: key, rkey: rkey, value: value, seq: seq, ttl: ttl, until: until, token: token}, 0, nil, false
	}

	if only := mayHaveLanded(res); only != nil {
		l.cleanup(seq, rkey, value, only)
	}
	switch {
	case res.Outcome == quorum.Canceled:
		return nil, 0, fmt.Errorf("quorumlock: obtain %q: %w", key, ctx.Err()), false
	case res.Outcome == quorum.Reached:
		return nil, 0, fmt.Errorf("%w: %q: the round took longer than the ttl %v allows", ErrNotObtained, key, ttl), false
	case wb.Outcome == quorum.Missed:
		return nil, 0, fmt.Errorf("%w: %w", ErrNotObtained, l.quorumError("fence", key, wb)), false
	case l.heldElsewhere(res):
		return nil, l.holderLeft(res, h.ours), ErrNotObtained, false
	}
	return nil, 0, fmt.Errorf("%w: %w", ErrNotObtained, l.quorumError("obtain", key, res)), marked
}

// fence picks the lock's token, one more than the highest counter of the
// nodes that granted the lock, and raises the counters of a quorum of those
// same nodes to it: only there does the next holder's read come after the
// write (docs/safety.md). It returns the token and the write-back's round.
func (l *Locker) fence(ctx context.Context, key, fkey string, seq *quorum.Seq, res quorum.Result) (uint64, quorum.Result) {
	var highest int64
	granted := make([]bool, len(res.Replies))
	for i, r := range res.Replies {
		if r.Vote == quorum.Yes {
			highest = max(highest, r.Extra)
			granted[i] = true
		}
	}
	token := uint64(highest) + 1
	return token, l.round(ctx, "fence", key, seq, l.fenceCall(fkey, token, granted))
}

// holderLeft estimates, from the remaining times the holder's nodes gave,
// how long until a quorum of nodes could be free: with f nodes not held, the
// (q-f)-th earliest expiry among the held ones. Nodes held by ours (the
// failed attempts of fellow waiters, which clean up at once) count as free.
// 0 when unknown.
func (l *Locker) holderLeft(res quorum.Result, ours func(string) bool) time.Duration {
	var held []int64
	for _, r := range res.Replies {
		if r.Vote == quorum.No {
			if ours != nil && ours(r.Text) {
				continue
			}
			if r.Value < 0 {
				return 0 // no expiry reported, or no script reply
			}
			held = append(held, r.Value)
		}
	}
	k := l.quorum - (len(l.nodes) - len(held))
	if k < 1 || k > len(held) {
		return 0
	}
	slices.Sort(held)
	// No lock of ours lasts longer than the maximum ttl; a foreign key may,
	// and must not overflow the waiter's pause.
	return time.Duration(min(held[k-1], l.opts.maxTTL.Milliseconds())) * time.Millisecond
}

// attemptHooks let a waiter follow its attempts: note learns an attempt's
// value before its round; ours tells a fellow waiter's value.
type attemptHooks struct {
	note func(value string)
	ours func(value string) bool
}

// cleanup removes value, in the background, from the nodes in only (all
// when nil). It cannot be cancelled, and on each node it runs after the
// lock's previous call there. The caller is inside enter.
func (l *Locker) cleanup(seq *quorum.Seq, rkey, value string, only []bool) {
	l.bg.Add(1) // the caller is inside enter, so the count is positive
	go func() {
		defer l.bg.Done()
		l.round(context.Background(), "cleanup", "", seq, l.releaseCall(rkey, value, only))
	}()
}

// mayHaveLanded marks the nodes where a failed attempt may have set its
// value: all but those that answered no. It returns nil when there are none.
func mayHaveLanded(res quorum.Result) []bool {
	only := make([]bool, len(res.Replies))
	some := false
	for i, r := range res.Replies {
		only[i] = r.Vote != quorum.No
		some = some || only[i]
	}
	if !some {
		return nil
	}
	return only
}

// checkArgs rejects a key or ttl no lock can be made of.
func (l *Locker) checkArgs(key string, ttl time.Duration) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	return l.checkTTL(ttl)
}

// checkTTL rejects a ttl that is not positive, not whole milliseconds (the
// nodes keep milliseconds), beyond the maximum, or too short for the node
// timeout.
func (l *Locker) checkTTL(ttl time.Duration) error {
	switch {
	case ttl < time.Millisecond:
		return fmt.Errorf("%w: %v is less than 1ms", ErrInvalidTTL, ttl)
	case ttl%time.Millisecond != 0:
		return fmt.Errorf("%w: %v is not a whole number of milliseconds", ErrInvalidTTL, ttl)
	case ttl > l.opts.maxTTL:
		return fmt.Errorf("%w: %v is longer than the maximum %v (WithMaxTTL; KeepAlive holds a lock longer)", ErrInvalidTTL, ttl, l.opts.maxTTL)
	case ttl <= 2*l.opts.nodeTimeout:
		return fmt.Errorf("%w: %v is too short for the node timeout %v (ttl must exceed twice the node timeout)", ErrInvalidTTL, ttl, l.opts.nodeTimeout)
	}
	return nil
}

// newValue returns the lock's identity on every node: the owner's name and
// 16 random bytes.
func (l *Locker) newValue() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("quorumlock: random value: %w", err)
	}
	return l.opts.owner + "/" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// backoff returns the pause before attempt+1: random in [d/2, d] with
// d = min * 2^attempt, capped at max.
func (o *options) backoff(attempt int) time.Duration {
	d := o.minBackoff
	for range attempt {
		if d >= o.maxBackoff/2 {
			d = o.maxBackoff
			break
		}
		d *= 2
	}
	d = min(d, o.maxBackoff)
	return d/2 + mrand.N(d/2+1)
}

// logFailure logs an error a bool form swallows: at debug level when the
// lock was merely held elsewhere, as a warning otherwise.
func (l *Locker) logFailure(op, key string, err error) {
	level := slog.LevelWarn
	var qe *QuorumError
	if errors.Is(err, ErrNotObtained) && !errors.As(err, &qe) || errors.Is(err, ErrLockNotHeld) {
		level = slog.LevelDebug
	}
	l.opts.logger.Log(context.Background(), level, "quorumlock: "+op+" failed", "key", key, "err", err)
}
