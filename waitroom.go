package quorumlock

import (
	"sync"
	"time"
)

// waitRoom tells waiting Obtain calls when a lock they wait for is released.
// A release announces itself on every node, on a channel named like the key,
// with the lock's value as the message. The room keeps one subscriber per
// node (subscriber.go), subscribed to a key's channel while the key has
// waiters and a little longer, and wakes one waiter per release (the
// longest waiting), so that many waiters on one key do not stampede.
// Expiry announces nothing: waiters also sleep until the holder's remaining
// time.
type waitRoom struct {
	l *Locker

	mu     sync.Mutex
	keys   map[string]*keyQueue // by channel (the key on the nodes)
	idle   map[string]time.Time // channels without waiters, since when
	subs   []*subscriber        // per node; nil until the first waiter
	closed bool
	linger time.Duration  // how long a channel stays subscribed without waiters
	work   sync.WaitGroup // the subscribers' workers
	read   sync.WaitGroup // the subscribers' readers
}

// defaultLinger is how long a channel stays subscribed after its last
// waiter left, so that a key contended again soon needs no new subscription.
const defaultLinger = 10 * time.Second

// keyQueue is the waiters of one key, first come first served.
type keyQueue struct {
	waiters []*waiter
	ready   chan struct{} // closed once a node confirmed the subscription
	readied bool
}

// waiter is one waiting Obtain call.
type waiter struct {
	rkey string
	q    *keyQueue
	wake chan struct{} // a release was announced; capacity 1
	own  string        // the value of its latest attempt, whose clean-up announces nothing to wait for
}

// join puts a waiter in the queue of rkey, subscribing on every node when
// it is the first. own is the value of its attempt so far.
func (r *waitRoom) join(rkey, own string) *waiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys, r.idle = map[string]*keyQueue{}, map[string]time.Time{}
	}
	q := r.keys[rkey]
	if q == nil {
		q = &keyQueue{ready: make(chan struct{})}
		r.keys[rkey] = q
		delete(r.idle, rkey)
		if r.subs == nil && !r.closed {
			r.open()
		}
		for _, s := range r.subs {
			if s.confirmed(rkey) { // still subscribed from earlier waiters
				r.markReady(q)
			}
			s.kick()
		}
	}
	w := &waiter{rkey: rkey, q: q, wake: make(chan struct{}, 1), own: own}
	q.waiters = append(q.waiters, w)
	return w
}

// own records the value of w's next attempt: when that attempt fails, its
// clean-up announces a release that is not worth waking anyone for.
func (r *waitRoom) own(w *waiter, value string) {
	r.mu.Lock()
	w.own = value
	r.mu.Unlock()
}

// leave takes w out of its queue, obtained telling whether it got the
// lock. A wake-up it did not use goes to the next waiter, and so does a
// wake-up when the first waiter leaves without the lock: the next one is
// first now, and comes at the holder's expiry rather than after it (a
// holder's release wakes it anyway). When the last waiter leaves, the
// channel goes idle.
func (r *waitRoom) leave(w *waiter, obtained bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := w.q
	wasFirst := false
	for i, o := range q.waiters {
		if o == w {
			wasFirst = i == 0
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			break
		}
	}
	if len(q.waiters) == 0 {
		if r.keys[w.rkey] == q {
			delete(r.keys, w.rkey)
			r.idle[w.rkey] = time.Now()
			for _, s := range r.subs {
				s.kick() // to let channels idle for long go
			}
		}
		return
	}
	select {
	case <-w.wake:
		wakeOne(q)
	default:
		if wasFirst && !obtained {
			wakeOne(q)
		}
	}
}

// forget drops an idle channel once no node is subscribed to it any more.
// The caller holds r.mu.
func (r *waitRoom) forget(channel string) {
	for _, s := range r.subs {
		if s.sent[channel] {
			return
		}
	}
	delete(r.idle, channel)
}

// wakeOne wakes the longest waiter that has no wake-up pending.
func wakeOne(q *keyQueue) {
	for _, w := range q.waiters {
		select {
		case w.wake <- struct{}{}:
			return
		default:
		}
	}
}

// markReady records that a node confirmed q's subscription. The caller
// holds r.mu.
func (r *waitRoom) markReady(q *keyQueue) {
	if !q.readied {
		q.readied = true
		close(q.ready)
	}
}

// released passes on a release announced on channel: it wakes the longest
// waiter, unless a waiter woken earlier has not tried yet (every node
// announces a release: one wake-up at a time is enough, and no stampede),
// nobody waits, or it is the clean-up of a waiter's own failed attempt. A
// woken waiter that finds the lock still held on some nodes (their release
// had not landed yet) is woken again by their announcements.
func (r *waitRoom) released(channel, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.keys[channel]
	if q == nil || ownedBy(q, value) {
		return
	}
	for _, w := range q.waiters {
		if len(w.wake) > 0 {
			return
		}
	}
	wakeOne(q)
}

// first reports whether w is the longest waiter of its key.
func (r *waitRoom) first(w *waiter) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(w.q.waiters) > 0 && w.q.waiters[0] == w
}

// owns reports whether value is that of an attempt of one of the waiters
// of w's key.
func (r *waitRoom) owns(w *waiter, value string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ownedBy(w.q, value)
}

// ownedBy reports whether value is that of a waiter's own attempt.
func ownedBy(q *keyQueue, value string) bool {
	for _, w := range q.waiters {
		if w.own == value {
			return true
		}
	}
	return false
}

// close stops the subscribers and waits for them. Waiters are gone: Close
// waited for them.
func (r *waitRoom) close() {
	r.mu.Lock()
	r.closed = true
	subs := r.subs
	for _, s := range subs {
		close(s.kicks)
	}
	r.mu.Unlock()
	r.work.Wait() // nothing more is sent
	for _, s := range subs {
		s.ps.Close()
	}
	r.read.Wait() // the readers end with their connection
}
