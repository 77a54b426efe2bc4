package quorumlock

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// waitRoom tells waiting Obtain calls when a lock they wait for is released.
// A release announces itself on every node, on a channel named like the key,
// with the lock's value as the message. The room keeps one pub/sub
// connection per node, opened with the first waiter and shared by all keys,
// subscribes to a key while it has waiters, and wakes one waiter per
// release (the longest waiting), so that many waiters on one key do not
// stampede. Expiry announces nothing: waiters also sleep until the holder's
// remaining time.
type waitRoom struct {
	l *Locker

	mu     sync.Mutex
	keys   map[string]*keyQueue // by channel (the key on the nodes)
	subs   []*redis.PubSub      // per node; nil until the first waiter
	closed bool
	read   sync.WaitGroup // the per-node readers
}

// keyQueue is the waiters of one key, first come first served.
type keyQueue struct {
	waiters []*waiter
	last    string        // value of the last release that woke someone
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
		r.keys = map[string]*keyQueue{}
	}
	q := r.keys[rkey]
	if q == nil {
		q = &keyQueue{ready: make(chan struct{})}
		r.keys[rkey] = q
		r.subscribe(rkey, true)
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

// leave takes w out of its queue. A wake-up it did not use goes to the
// next waiter; the last waiter out unsubscribes.
func (r *waitRoom) leave(w *waiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := w.q
	for i, o := range q.waiters {
		if o == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			break
		}
	}
	if len(q.waiters) == 0 {
		if r.keys[w.rkey] == q {
			delete(r.keys, w.rkey)
			r.subscribe(w.rkey, false)
		}
		return
	}
	select {
	case <-w.wake:
		wakeOne(q)
	default:
	}
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

// subscribe (or unsubscribe) the channel on every node, in the background:
// a hung node must not hold up a waiter. The caller holds r.mu.
func (r *waitRoom) subscribe(channel string, on bool) {
	if r.closed {
		return
	}
	if r.subs == nil {
		r.open()
	}
	for _, ps := range r.subs {
		r.l.bg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), r.l.opts.nodeTimeout)
			defer cancel()
			if on {
				ps.Subscribe(ctx, channel)
			} else {
				ps.Unsubscribe(ctx, channel)
			}
		})
	}
}

// open starts one pub/sub connection and its reader per node. The caller
// holds r.mu.
func (r *waitRoom) open() {
	r.subs = make([]*redis.PubSub, len(r.l.nodes))
	for i, n := range r.l.nodes {
		ps := n.client.Subscribe(context.Background())
		r.subs[i] = ps
		msgs := ps.ChannelWithSubscriptions()
		r.read.Go(func() {
			for m := range msgs {
				r.receive(m)
			}
		})
	}
}

// receive handles one message from a node: a confirmed subscription, or a
// release to pass on.
func (r *waitRoom) receive(m any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch m := m.(type) {
	case *redis.Subscription:
		if q := r.keys[m.Channel]; q != nil && m.Kind == "subscribe" && !q.readied {
			q.readied = true
			close(q.ready)
		}
	case *redis.Message:
		q := r.keys[m.Channel]
		if q == nil || m.Payload == q.last || ownedBy(q, m.Payload) {
			return // nobody waits, another node announced the same release, or a waiter's own clean-up
		}
		q.last = m.Payload
		wakeOne(q)
	}
}

// close ends every subscription and waits for the readers. Waiters are gone:
// Close waited for them.
func (r *waitRoom) close() {
	r.mu.Lock()
	r.closed = true
	subs := r.subs
	r.subs = nil
	r.mu.Unlock()
	for _, ps := range subs {
		ps.Close()
	}
	r.read.Wait()
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
