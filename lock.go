package quorumlock

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/quorumlock/quorumlock/quorum"
)

// A Lock is a lock obtained from a Locker. It is safe for concurrent use.
// Its methods are safe on a nil *Lock, which holds nothing.
type Lock struct {
	l      *Locker
	key    string // as the caller named it
	rkey   string // on the nodes, with the prefix
	value  string // this lock's random identity
	waiter string // the id its Obtain waited under on the nodes; "" when it did not wait
	token  uint64 // fencing token; 0 without fencing

	opMu sync.Mutex  // serialises the lock's rounds
	seq  *quorum.Seq // orders those rounds on each node; guarded by opMu

	mu      sync.Mutex
	ttl     time.Duration // of the latest grant, for the drift allowance
	until   time.Time     // end of validity on the local monotonic clock
	done    bool          // released, or known lost
	watch   *watch        // for Lost and Context; nil until asked
	keeping bool          // KeepAlive runs
}

// Key returns the name the lock was obtained under.
func (k *Lock) Key() string {
	if k == nil {
		return ""
	}
	return k.key
}

// Fence returns the lock's fencing token: greater than every token handed
// out before for this key by any client of the same nodes (see WithFencing
// and docs/safety.md). Send it with every write to the resource the lock
// guards, and have the resource reject a token lower than one it has seen.
// It is 0 when the Locker was made without WithFencing.
func (k *Lock) Fence() uint64 {
	if k == nil {
		return 0
	}
	return k.token
}

// Deadline returns the moment, on the Locker's clock, after which the lock
// is no longer certain to be held: the validity granted by the last Obtain
// or Refresh (ttl less the round's elapsed time and the drift allowance),
// and no later than the moment the lock was released or lost. Unlike TTL it
// asks no node. The zero time for a nil lock.
func (k *Lock) Deadline() time.Time {
	if k == nil {
		return time.Time{}
	}
	_, until, _ := k.state()
	return until
}

// Release releases the lock on every node where it is still held. It never
// deletes another holder's lock, returns within the node timeout even when
// nodes hang, and may be called more than once. ReleaseContext returns the error.
func (k *Lock) Release() {
	if err := k.ReleaseContext(context.Background()); err != nil && k != nil {
		k.l.logFailure("release", k.key, err)
	}
}

// ReleaseContext releases the lock on every node where it still holds its
// value. The deletes go through even if ctx is cancelled: a release is
// bounded by the node timeout instead. It returns nil once a quorum let go,
// ErrLockNotHeld if the lock had already expired, been lost or been released,
// a *QuorumError if too many nodes failed to tell.
func (k *Lock) ReleaseContext(ctx context.Context) error {
	if k == nil {
		return ErrLockNotHeld
	}
	k.opMu.Lock()
	defer k.opMu.Unlock()
	_, _, done := k.state()
	if done {
		return ErrLockNotHeld
	}
	k.ended(errReleased)
	if err := k.l.enter(); err != nil {
		return err
	}
	defer k.l.bg.Done()
	if ctx == nil {
		ctx = context.Background()
	}
	res := k.l.round(context.WithoutCancel(ctx), "release", k.key, k.seq, k.l.releaseCall(k.key, k.value, k.waiter, nil, true))
	switch {
	case res.Outcome == quorum.Reached:
		return nil
	case k.l.heldElsewhere(res):
		return ErrLockNotHeld
	}
	return k.l.quorumError("release", k.key, res)
}

// TTL returns how long the lock is still certain to be held: the smallest
// remaining time on a quorum of nodes, less the time the question took and
// the clock-drift allowance, and never more than the local validity. It
// returns 0 once the lock is released, expired or lost, or when a quorum
// cannot be asked. TTLContext returns the error.
func (k *Lock) TTL() time.Duration {
	d, _ := k.TTLContext(context.Background())
	return d
}

// TTLContext is TTL with a context and an error: ErrLockNotHeld when the lock
// is released, expired or lost; a *QuorumError when too many nodes failed to
// answer; the context's error when ctx ends first.
func (k *Lock) TTLContext(ctx context.Context) (time.Duration, error) {
	if k == nil {
		return 0, ErrLockNotHeld
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// Ordered after the lock's earlier calls on each node, so that no node
	// answers from before a Refresh that is still landing there.
	k.opMu.Lock()
	defer k.opMu.Unlock()
	ttl, until, done := k.state()
	clock := k.l.opts.clock
	start := clock.Now()
	if done || !start.Before(until) {
		return 0, ErrLockNotHeld
	}
	if err := k.l.enter(); err != nil {
		return 0, err
	}
	defer k.l.bg.Done()
	cfg := k.l.roundConfig()
	cfg.Settled = func(replies []quorum.Reply, pending int) bool {
		// Wait for late nodes only while they could still move the answer.
		return pending < cfg.Quorum && quorumTh(replies, cfg.Quorum-pending)-quorumTh(replies, cfg.Quorum) <= minDrift.Milliseconds()
	}
	res := k.l.roundWith(ctx, "ttl", k.key, k.seq, cfg, k.l.ttlCall(k.rkey, k.value))
	now := clock.Now()
	switch {
	case res.Outcome == quorum.Canceled:
		return 0, fmt.Errorf("quorumlock: ttl %q: %w", k.key, ctx.Err())
	case res.Outcome == quorum.Missed && k.l.heldElsewhere(res):
		return 0, ErrLockNotHeld
	case res.Outcome == quorum.Missed:
		return 0, k.l.quorumError("ttl", k.key, res)
	}
	// The quorum-th largest remaining time is when fewer than a quorum
	// will still hold the lock.
	left := time.Duration(quorumTh(res.Replies, k.l.quorum)) * time.Millisecond
	d := min(left-now.Sub(start)-drift(ttl, k.l.opts.driftFactor), until.Sub(now))
	if d <= 0 {
		return 0, ErrLockNotHeld
	}
	return d, nil
}

// Refresh sets the lock's remaining time to ttl on a quorum of nodes. It
// reports false once the lock is lost; RefreshContext returns the error.
func (k *Lock) Refresh(ttl time.Duration) bool {
	if err := k.RefreshContext(context.Background(), ttl); err != nil {
		if k != nil {
			k.l.logFailure("refresh", k.key, err)
		}
		return false
	}
	return true
}

// RefreshContext sets the lock's remaining time to ttl where it still holds
// it, and takes it again on nodes that lost it (a restart, an eviction) while
// it is still valid on a quorum. It succeeds only if a quorum agreed before
// the old validity ran out. A shorter ttl shortens the validity (Deadline,
// TTL) but not the nodes' time for the key, which a refresh only lengthens
// (a refresh's call may reach a node after a later one's): others get the
// key once that passes, or at once after Release. Errors: ErrLockNotHeld
// once the lock is lost (it is then removed from every node); a
// *QuorumError when too many nodes failed, or the context's error when ctx
// ended during the round: the lock then stays valid until the earlier of
// its old deadline and the new ttl's; ErrInvalidTTL.
func (k *Lock) RefreshContext(ctx context.Context, ttl time.Duration) error {
	if k == nil {
		return ErrLockNotHeld
	}
	if err := k.l.checkTTL(ttl); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	k.opMu.Lock()
	defer k.opMu.Unlock()
	_, oldUntil, done := k.state()
	if done {
		return ErrLockNotHeld
	}
	if err := k.l.enter(); err != nil {
		return err
	}
	defer k.l.bg.Done()
	clock := k.l.opts.clock
	start := clock.Now()
	if !start.Before(oldUntil) {
		k.lose()
		return ErrLockNotHeld
	}
	if ctx.Err() != nil { // nothing sent: the lock stays as it was
		return fmt.Errorf("quorumlock: refresh %q: %w", k.key, ctx.Err())
	}
	res := k.l.round(ctx, "refresh", k.key, k.seq, k.l.refreshCall(k.rkey, k.value, ttl))
	shortest := validUntil(start, ttl, k.l.opts.driftFactor) // where the first round landed
	if _, raise := needs(res); raise && res.Outcome == quorum.Missed && k.l.quarantine.raise(ctx, ttl) {
		// Nodes refused a ttl longer than they were told of; now announced.
		start = clock.Now()
		res = k.l.round(ctx, "refresh", k.key, k.seq, k.l.refreshCall(k.rkey, k.value, ttl))
	}
	now := clock.Now()
	until := validUntil(start, ttl, k.l.opts.driftFactor)
	switch {
	case res.Outcome == quorum.Reached && now.Before(oldUntil) && now.Before(until):
		if k.renew(ttl, until, now) {
			return nil
		}
		// Lost meanwhile (its validity ran out as the round ended): the
		// nodes now hold it for the new ttl, and nobody will release it.
		k.l.cleanup(k.seq, k.key, k.value, k.waiter, nil, true)
		return ErrLockNotHeld
	case res.Outcome == quorum.Canceled:
		k.shorten(shortest)
		return fmt.Errorf("quorumlock: refresh %q: %w", k.key, ctx.Err())
	case res.Outcome == quorum.Missed && !k.l.heldElsewhere(res) && now.Before(oldUntil):
		k.shorten(shortest)
		return k.l.quorumError("refresh", k.key, res)
	}
	k.lose()
	return ErrLockNotHeld
}

// renew records the validity a successful refresh granted, unless the lock
// was lost meanwhile; it reports whether it did.
func (k *Lock) renew(ttl time.Duration, until, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done {
		return false
	}
	k.ttl, k.until = ttl, until
	if k.watch != nil && k.watch.timer != nil {
		k.watch.timer.Reset(until.Sub(now))
	}
	return true
}

// shorten follows a refresh that did not succeed but may have landed on
// some nodes: where it landed, the lock now expires at the refresh's ttl.
// The validity becomes the earlier of the old one and the refresh's.
func (k *Lock) shorten(until time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done || !until.Before(k.until) {
		return
	}
	k.until = until
	if k.watch != nil && k.watch.timer != nil {
		k.watch.timer.Reset(until.Sub(k.l.opts.clock.Now()))
	}
}

// state returns a consistent snapshot of the mutable fields.
func (k *Lock) state() (ttl time.Duration, until time.Time, done bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ttl, k.until, k.done
}

// lose marks the lock lost and removes it from every node, in the
// background. The caller holds opMu and is inside enter.
func (k *Lock) lose() {
	_, until, _ := k.state()
	cause := errGone
	if !k.l.opts.clock.Now().Before(until) {
		cause = errExpired
	}
	k.ended(cause)
	k.l.cleanup(k.seq, k.key, k.value, k.waiter, nil, true)
}

// quorumTh returns the k-th largest value among the yes replies, or -1
// when fewer than k said yes.
func quorumTh(replies []quorum.Reply, k int) int64 {
	vals := make([]int64, 0, len(replies))
	for _, r := range replies {
		if r.Vote == quorum.Yes {
			vals = append(vals, r.Value)
		}
	}
	if k < 1 || k > len(vals) {
		return -1
	}
	slices.Sort(vals)
	return vals[len(vals)-k]
}
