package quorumlock

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
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
	var first, waiter string
	var last <-chan struct{} = closedChan // closed once the latest attempt's calls have all returned
	giveUp := l.opts.clock.Now().Add(waitTimeout)
	if waitTimeout > 0 { // a waiter from its first attempt on: it came then
		if waiter, err = newID(); err != nil {
			return nil, err
		}
		waiter = l.id + waiter
		defer func() {
			if lock == nil {
				l.unqueue(key, waiter, last)
			}
		}()
	}
	try := func(h attemptHooks) (*Lock, time.Duration, error) {
		attempts++
		h.waiter, h.giveUp, h.landed = waiter, giveUp, &last
		return l.attempt(ctx, key, ttl, h)
	}
	lock, _, err = try(attemptHooks{note: func(v string) { first = v }})
	if err == nil || waitTimeout == 0 || !errors.Is(err, ErrNotObtained) {
		return lock, err
	}
	return l.wait(ctx, key, giveUp, waiter, first, try)
}

// wait tries again and again until giveUp: each time it is woken (a
// release, its turn among the waiters: waitroom.go), when the holder's time
// runs out, or after a backoff when nodes failed to say. It subscribes
// before its first retry, so that no release after that retry goes unseen.
func (l *Locker) wait(ctx context.Context, key string, giveUp time.Time, id, first string, try func(attemptHooks) (*Lock, time.Duration, error)) (lock *Lock, err error) {
	w := l.room.join(l.lockKey(key), id, first)
	defer func() { l.room.leave(w, lock != nil) }()
	select { // the subscription, confirmed by a node; never longer than a round
	case <-w.q.ready:
	case <-l.opts.clock.After(l.opts.nodeTimeout):
	case <-ctx.Done():
	}
	for attempt := 0; ; attempt++ {
		l.room.tried(w)
		var holder time.Duration
		lock, holder, err = try(attemptHooks{
			note: func(v string) { l.room.own(w, v) },
			ours: func(v string) bool { return l.room.owns(w, v) },
		})
		if err == nil || !errors.Is(err, ErrNotObtained) {
			return lock, err
		}
		l.room.failed(w)
		left := giveUp.Sub(l.opts.clock.Now())
		if left <= 0 {
			return nil, err
		}
		pause := l.opts.backoff(attempt, l.rnd)
		ready := w.q.ready // until a node confirms the subscription, a release may go unseen
		select {
		case <-ready:
			ready = nil
			if holder > 0 {
				// The holder's time, and a little more: the longest waiter of
				// this Locker comes as soon as the key expires, the others
				// after it had its turn, spread so that they do not all come
				// at once. Releases wake them earlier.
				pause = holder + minDrift
				if !l.room.first(w) {
					pause += l.opts.nodeTimeout + l.rnd.upTo(holder/10+time.Millisecond)
				}
			}
		default:
		}
		if err := l.sleep(ctx, w, ready, min(pause, left)); err != nil {
			return nil, fmt.Errorf("quorumlock: obtain %q: %w", key, err)
		}
	}
}

// sleep waits until w is woken and its time has come, the subscription is
// confirmed (ready closes: a release may have slipped by), or pause has
// passed; it returns ctx's error when ctx ends, ErrClosed when the Locker
// closes.
func (l *Locker) sleep(ctx context.Context, w *waiter, ready <-chan struct{}, pause time.Duration) error {
	timer := l.opts.clock.After(pause)
	for {
		var turn <-chan time.Time
		if d, ok := l.room.dueIn(w); ok {
			if d <= 0 {
				return nil
			}
			turn = l.opts.clock.After(d)
		}
		select {
		case <-ready:
			return nil
		case <-timer:
			return nil
		case <-w.wake: // woken, or its turn moved: look again
		case <-turn: // its turn, unless taken back: look again
		case <-ctx.Done():
			return ctx.Err()
		case <-l.done:
			return ErrClosed
		}
	}
}

// unqueue takes waiter out of key's waiters on every node, in the
// background, once after has closed (its last attempt's calls have all
// returned: one still on its way would list it again): it leaves without
// the lock. Close does not cut it short (it waits for it, up to the node
// timeout): a waiter left listed would be named by releases until its
// lease ran out. The caller is inside enter.
func (l *Locker) unqueue(key, waiter string, after <-chan struct{}) {
	wkey, lkey, rkey := l.waitKey(key), l.leaseKey(key), l.lockKey(key)
	l.bg.Add(1)
	go func() {
		defer l.bg.Done()
		<-after // a clean-up: bounded by the node timeout, not cancelled
		onEveryNode(context.WithoutCancel(l.closing), l, func(ctx context.Context, i int) error {
			_, err := l.eval(ctx, i, unqueueScript, wkey, lkey, rkey, waiter, "")
			return err
		})
	}()
}

// attempt obtains the lock in one or a few Redlock rounds: the same random
// value set on every node in parallel, obtained when a quorum said yes with
// validity left. With fencing, a second round writes the new token back to
// a quorum before the lock is reported obtained. When nodes in restart
// quarantine can be marked, or refused the ttl until it is announced, it
// brings them back and tries again. When the lock is not obtained, it also
// says how long until a quorum of nodes could grant it (0: unknown).
func (l *Locker) attempt(ctx context.Context, key string, ttl time.Duration, h attemptHooks) (*Lock, time.Duration, error) {
	const tries = 4  // a new deployment: mark, announce and commit, then obtain
	retried := false // after a repair that could not read every node
	for try := 1; ; try++ {
		t := l.try(ctx, key, ttl, h)
		if h.landed != nil {
			*h.landed = t.cleaned
		}
		switch {
		case t.lock != nil || l.heldElsewhere(t.res) || ctx.Err() != nil || !errors.Is(t.err, ErrNotObtained):
			l.quarantine.repairLater(t.res, ttl) // for the next caller
			return t.lock, t.retryIn, t.err
		case try == tries:
			return nil, t.retryIn, t.err
		}
		changed, again := l.quarantine.repair(ctx, t.res, ttl)
		if again && !retried { // once: a slow node under load, or one that is down
			changed, retried = true, true
		}
		if !changed {
			if ctx.Err() != nil { // it ended while the nodes were being brought back
				return nil, 0, fmt.Errorf("quorumlock: obtain %q: %w", key, ctx.Err())
			}
			return nil, t.retryIn, t.err
		}
		select { // the next try must not find this one's value
		case <-t.cleaned:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("quorumlock: obtain %q: %w", key, ctx.Err())
		}
		// Every caller that met the repair comes back when it ends: spread
		// them over a tenth of the node timeout, so that the first to come
		// takes the lock rather than all splitting the vote.
		select {
		case <-l.opts.clock.After(l.rnd.upTo(l.opts.nodeTimeout / 10)):
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("quorumlock: obtain %q: %w", key, ctx.Err())
		}
	}
}

// tried is what one try came to.
type tried struct {
	res     quorum.Result   // its acquire round
	lock    *Lock           // when obtained
	retryIn time.Duration   // when a quorum could be free; 0: unknown
	cleaned <-chan struct{} // closed once its clean-up is done
	err     error
}

// try is one attempt. When the vote split (no
// value holds a quorum of the nodes, all of which answered), the attempts
// agree on one winner: the value on the most nodes, then the smallest. The
// losers clean up at once; the winner keeps what it has and asks again for
// the rest, with the same value, for up to the node timeout. Safety does not
// rest on that agreement: a lock still needs a quorum.
func (l *Locker) try(ctx context.Context, key string, ttl time.Duration, h attemptHooks) tried {
	value, err := l.newValue()
	if err != nil {
		return tried{cleaned: closedChan, err: err}
	}
	if h.note != nil {
		h.note(value)
	}
	rkey, fkey := l.lockKey(key), l.fenceKey(key)
	var lease time.Duration // of the waiter's place among the key's waiters
	fellows := 0            // the other waiters of this Locker on the key
	if h.waiter != "" {
		lease = max(h.giveUp.Sub(l.opts.clock.Now()), 0) + l.opts.nodeTimeout
		fellows = l.room.fellows(rkey, h.waiter)
	}
	acquire := l.acquireCall(key, rkey, fkey, value, ttl, h.waiter, lease, fellows)
	seq := quorum.NewSeq(len(l.nodes))
	cfg := l.roundConfig()
	cfg.Linger = l.opts.nodeTimeout / 10
	start := l.opts.clock.Now()
	until := validUntil(start, ttl, l.opts.driftFactor) // from the first round: later ones only confirm
	landed := make([]bool, len(l.nodes))                // where our value may be
	res := l.roundWith(ctx, "obtain", key, seq, cfg, acquire)
	for pause := time.Millisecond; ; pause *= 2 {
		for i, r := range res.Replies {
			landed[i] = landed[i] || r.Vote != quorum.No
		}
		if res.Outcome != quorum.Missed || !splitWinner(res, value, l.quorum) || l.opts.clock.Now().Add(pause).Sub(start) > l.opts.nodeTimeout {
			break
		}
		select { // the losers clean up meanwhile
		case <-l.opts.clock.After(pause):
		case <-ctx.Done():
		}
		res = l.roundWith(ctx, "obtain", key, seq, cfg, acquire)
	}
	outcome := res.Outcome
	var token uint64
	var wb quorum.Result // the fencing write-back
	if outcome == quorum.Reached && l.opts.fencing {
		token, wb = l.fence(ctx, key, fkey, seq, res)
		outcome = wb.Outcome
	}
	if outcome == quorum.Reached && l.opts.clock.Now().Before(until) {
		l.taken(key, value, res)
		return tried{res: res, cleaned: closedChan, lock: &Lock{l: l, key: key, rkey: rkey, value: value, waiter: h.waiter, seq: seq, ttl: ttl, until: until, token: token}}
	}

	t := tried{res: res, cleaned: closedChan}
	if slices.Contains(landed, true) {
		t.cleaned = l.cleanup(seq, key, value, "", landed, false)
	}
	switch {
	case outcome == quorum.Canceled:
		t.err = fmt.Errorf("quorumlock: obtain %q: %w", key, ctx.Err())
	case outcome == quorum.Reached:
		t.err = fmt.Errorf("%w: %q: the round took longer than the ttl %v allows", ErrNotObtained, key, ttl)
	case wb.Outcome == quorum.Missed:
		t.err = fmt.Errorf("%w: %w", ErrNotObtained, l.quorumError("fence", key, wb))
	case l.heldElsewhere(res):
		t.retryIn, t.err = l.whenFree(res, h.ours), ErrNotObtained
	default:
		t.retryIn, t.err = l.whenFree(res, h.ours), fmt.Errorf("%w: %w", ErrNotObtained, l.quorumError("obtain", key, res))
	}
	return t
}

// splitWinner reports whether, in a round every node answered and no value
// won, value is the one the contenders agree on: on the most nodes, then
// the smallest.
func splitWinner(res quorum.Result, value string, q int) bool {
	on := map[string]int{}
	for _, r := range res.Replies {
		switch r.Vote {
		case quorum.Yes:
			on[value]++
		case quorum.No:
			on[r.Text]++
		default:
			return false // a node that did not say could hold anything
		}
	}
	best := value
	for v, c := range on {
		if c >= q {
			return false // held: not a split
		}
		if c > on[best] || c == on[best] && v < best {
			best = v
		}
	}
	return best == value && on[value] > 0
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

// whenFree estimates, from a round that missed, how long until a quorum of
// nodes could grant the lock: holders' keys and the nodes' restart
// quarantines end, earliest first, until enough nodes are free. A value
// found on too few nodes to hold a quorum, counting those that did not say,
// is a failed attempt about to be cleaned up, and so are the attempts of
// fellow waiters (ours): their nodes count as free. 0 when unknown.
func (l *Locker) whenFree(res quorum.Result, ours func(string) bool) time.Duration {
	copies := map[string]int{}
	unknown := 0
	for _, r := range res.Replies {
		switch {
		case r.Vote == quorum.No:
			copies[r.Text]++
		case r.Vote != quorum.Yes && !(r.Value > 0 && errors.Is(r.Err, ErrRestartQuarantine)):
			unknown++
		}
	}
	var busy []int64
	for _, r := range res.Replies {
		switch {
		case r.Vote == quorum.No && (ours != nil && ours(r.Text) || copies[r.Text]+unknown < l.quorum):
		case r.Vote == quorum.No && r.Value < 0:
			return 0 // no expiry reported, or no script reply
		case r.Vote == quorum.No, r.Vote == quorum.Failed && r.Value > 0 && errors.Is(r.Err, ErrRestartQuarantine):
			busy = append(busy, r.Value)
		}
	}
	k := l.quorum - (len(l.nodes) - len(busy))
	if k < 1 || k > len(busy) {
		return 0
	}
	slices.Sort(busy)
	// No lock of ours lasts longer than the maximum ttl; a foreign key may,
	// and must not overflow the waiter's pause.
	return time.Duration(min(busy[k-1], l.opts.maxTTL.Milliseconds())) * time.Millisecond
}

// attemptHooks let a waiter follow its attempts: note learns an attempt's
// value before its round; ours tells a fellow waiter's value; landed, when
// not nil, is set to each try's channel that closes once its calls have all
// returned. waiter is the caller's id among the key's waiters on the nodes
// ("" when it does not wait), until giveUp.
type attemptHooks struct {
	note   func(value string)
	ours   func(value string) bool
	landed *<-chan struct{}
	waiter string
	giveUp time.Time
}

// taken follows the obtain of a waiter: where the key still has waiters of
// other Lockers, it tells them that value took the lock, so that the turns still
// to come are taken back (waitroom.go), on one node (every Locker
// subscribes on every node: one is enough; when that one fails to say, the
// turns come and find the lock taken), in the background. (A node that did
// not grant the lock may still list the caller among the waiters: its
// release takes it out.)
func (l *Locker) taken(key, value string, res quorum.Result) {
	for i, r := range res.Replies {
		if r.Vote == quorum.Yes && r.Value > 0 {
			l.bg.Add(1)
			go func() {
				defer l.bg.Done()
				ctx, cancel := context.WithTimeout(l.closing, l.opts.nodeTimeout)
				defer cancel()
				_, _ = l.eval(ctx, i, unqueueScript, l.waitKey(key), l.leaseKey(key), l.lockKey(key), "", value)
			}()
			return
		}
	}
}

// cleanup removes value, in the background, from the nodes in only (all
// when nil), announcing it to waiters when announce is set (a lock that was
// held), and closes done once every node's call has returned. It cannot be
// cancelled, and on each node it runs after the lock's previous call there.
// The caller is inside enter.
func (l *Locker) cleanup(seq *quorum.Seq, key, value, waiter string, only []bool, announce bool) (done <-chan struct{}) {
	d := make(chan struct{})
	l.bg.Add(1) // the caller is inside enter, so the count is positive
	go func() {
		defer l.bg.Done()
		defer close(d)
		l.round(context.Background(), "cleanup", "", seq, l.releaseCall(key, value, waiter, only, announce))
		seq.Wait() // done means landed, not decided
	}()
	return d
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

// newID returns 16 random bytes, base64url.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("quorumlock: random value: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// newValue returns the lock's identity on every node: the owner's name and
// 16 random bytes.
func (l *Locker) newValue() (string, error) {
	id, err := newID()
	if err != nil {
		return "", err
	}
	return l.opts.owner + "/" + id, nil
}

// backoff returns the pause before attempt+1: random in [d/2, d] with
// d = min * 2^attempt, capped at max.
func (o *options) backoff(attempt int, rnd *random) time.Duration {
	d := o.minBackoff
	for range attempt {
		if d >= o.maxBackoff/2 {
			d = o.maxBackoff
			break
		}
		d *= 2
	}
	d = min(d, o.maxBackoff)
	return d/2 + rnd.upTo(d/2)
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
