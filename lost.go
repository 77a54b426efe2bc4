package quorumlock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// The causes a lock's Context reports, all matching ErrLockNotHeld.
var (
	errReleased = fmt.Errorf("%w: released", ErrLockNotHeld)
	errExpired  = fmt.Errorf("%w: its validity ran out", ErrLockNotHeld)
	errGone     = fmt.Errorf("%w: lost on a quorum of nodes", ErrLockNotHeld)
)

// watch tells of the moment a lock can no longer be trusted.
type watch struct {
	ctx    context.Context // done at that moment, with the cause
	cancel context.CancelCauseFunc
	timer  *time.Timer // fires when the validity runs out

	mu       sync.Mutex
	children map[*context.CancelCauseFunc]struct{} // of Context, cancelled before ctx
}

// add registers a child's cancel, or calls it at once when the lock is
// already lost; it returns a function that forgets it.
func (w *watch) add(cancel context.CancelCauseFunc) (forget func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		cancel(context.Cause(w.ctx))
		return func() {}
	}
	if w.children == nil {
		w.children = map[*context.CancelCauseFunc]struct{}{}
	}
	key := &cancel
	w.children[key] = struct{}{}
	return func() {
		w.mu.Lock()
		delete(w.children, key)
		w.mu.Unlock()
	}
}

// end cancels the children, then the watch itself: by the time Lost() is
// closed, every Context is done.
func (w *watch) end(cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.children {
		(*c)(cause)
	}
	w.children = nil
	w.cancel(cause)
}

// Lost returns a channel that is closed when the lock can no longer be
// trusted: its validity ran out (without a Refresh, or KeepAlive, in time),
// a refresh found it gone from a quorum, or it was released.
func (k *Lock) Lost() <-chan struct{} {
	if k == nil {
		return closedChan
	}
	return k.watching().Done()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Context returns a context derived from parent that is cancelled when the
// lock can no longer be trusted (see Lost), so that the work it guards
// stops; context.Cause tells why, matching ErrLockNotHeld.
func (k *Lock) Context(parent context.Context) context.Context {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancelCause(parent)
	if k == nil {
		cancel(ErrLockNotHeld)
		return ctx
	}
	k.watching()
	k.mu.Lock()
	w := k.watch
	k.mu.Unlock()
	forget := w.add(cancel)
	context.AfterFunc(ctx, forget) // the parent ended first: let go of it
	return ctx
}

// KeepAlive refreshes the lock to its ttl every third of it, in the
// background, until it is released or lost, ctx ends, or the Locker closes.
// A refresh that fails because nodes did not answer is retried sooner; the
// lock is lost (Lost closes) if a quorum no longer holds it or its validity
// runs out first. Calling it again while it runs does nothing.
func (k *Lock) KeepAlive(ctx context.Context) error {
	if k == nil {
		return ErrLockNotHeld
	}
	if ctx == nil {
		ctx = context.Background()
	}
	k.mu.Lock()
	done, keeping := k.done, k.keeping
	k.keeping = true
	k.mu.Unlock()
	switch {
	case done:
		return ErrLockNotHeld
	case keeping:
		return nil
	}
	w := k.watching()
	if err := k.l.enter(); err != nil {
		return err
	}
	go func() {
		defer k.l.bg.Done()
		defer func() {
			k.mu.Lock()
			k.keeping = false
			k.mu.Unlock()
		}()
		retry := false
		for {
			ttl, _, _ := k.state()
			pause := ttl / 3
			if retry {
				pause = ttl / 10
			}
			select {
			case <-k.l.opts.clock.After(pause):
			case <-w.Done():
				return
			case <-ctx.Done():
				return
			case <-k.l.done:
				return
			}
			err := k.RefreshContext(ctx, ttl)
			if errors.Is(err, ErrLockNotHeld) || errors.Is(err, ErrClosed) {
				return
			}
			retry = err != nil
		}
	}()
	return nil
}

// watching returns the lock's loss context, starting the watch on first use.
func (k *Lock) watching() context.Context {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.watch == nil {
		ctx, cancel := context.WithCancelCause(context.Background())
		k.watch = &watch{ctx: ctx, cancel: cancel}
		if k.done {
			cancel(errReleased)
		} else {
			k.watch.timer = time.AfterFunc(k.until.Sub(k.l.opts.clock.Now()), k.expire)
		}
	}
	return k.watch.ctx
}

// expire runs when the validity should have run out: unless a refresh moved
// it, the lock is lost.
func (k *Lock) expire() {
	k.mu.Lock()
	if left := k.until.Sub(k.l.opts.clock.Now()); left > 0 && !k.done {
		k.watch.timer.Reset(left)
		k.mu.Unlock()
		return
	}
	k.mu.Unlock()
	k.ended(errExpired)
}

// ended records that the lock can no longer be trusted, for the cause. The
// caller does not hold k.mu.
func (k *Lock) ended(cause error) {
	k.mu.Lock()
	k.done = true
	// A holder that checks Deadline before acting must not act on it now
	// (docs/safety.md, rule 4).
	k.until = minTime(k.until, k.l.opts.clock.Now())
	w := k.watch
	k.mu.Unlock()
	if w == nil {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.ctx.Err() == nil && cause != errReleased {
		k.l.hooks.lost(LostEvent{Key: k.key, Cause: cause})
	}
	w.end(cause)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
