package quorumlock

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// waitRoom tells waiting Obtain calls when a lock they wait for is released.
// A release announces itself on every node, on a channel named like the key,
// with the lock's value as the message and the ids of the key's first
// waiters on that node, in the order they came (scripts.go): waiters of
// every Locker register there with their failed attempts. The room keeps
// one subscriber per node (subscriber.go), subscribed to a key's channel
// while the key has waiters and a little longer. A release wakes the first
// waiter it names at once, the second after a grace (a tenth of the node
// timeout) and the third after two, if it is one of ours; when it names
// none of ours, the longest waiter here after three graces; when it names
// nobody, the longest waiter here at once. The winner tells the others
// that the lock is taken, and the wake-ups still to come are taken back:
// so a handoff between Lockers is one attempt, in the order the waiters
// came, and a named waiter that is gone (its process died) costs a grace.
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
	waiters  []*waiter
	ready    chan struct{} // closed once a node confirmed the subscription
	readied  bool
	released recent // the values of the latest releases announced
	// The waiter woken for the release of turnValue: the other nodes'
	// announcements of that release wake it again, not another waiter.
	turnValue string
	turn      *waiter
	gone      recent // the ids of the latest waiters that left, which nodes may still name
}

// recent keeps the latest few strings added.
type recent struct {
	s    [4]string
	next int
}

func (r *recent) add(v string) {
	r.s[r.next] = v
	r.next = (r.next + 1) % len(r.s)
}

func (r *recent) has(v string) bool { return slices.Contains(r.s[:], v) }

// waiter is one waiting Obtain call.
type waiter struct {
	rkey   string
	id     string // among the key's waiters on the nodes
	q      *keyQueue
	wake   chan struct{} // capacity 1: its due time changed
	due    time.Time     // when to try again; zero: not woken
	trying bool          // an attempt of its is under way
	own    string        // the value of its latest attempt, whose clean-up announces nothing to wait for
}

// join puts a waiter in the queue of rkey, subscribing on every node when
// it is the first. id names it on the nodes; own is the value of its
// attempt so far.
func (r *waitRoom) join(rkey, id, own string) *waiter {
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
	w := &waiter{rkey: rkey, id: id, q: q, wake: make(chan struct{}, 1), own: own}
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

// tried records that w is about to try: the wake-up, if any, is used.
func (r *waitRoom) tried(w *waiter) {
	r.mu.Lock()
	w.due, w.trying = time.Time{}, true
	r.mu.Unlock()
}

// failed records that w's attempt is over, without the lock.
func (r *waitRoom) failed(w *waiter) {
	r.mu.Lock()
	w.trying = false
	r.mu.Unlock()
}

// dueIn reports how long until w was woken to try again; false when it
// was not (or the wake-up was taken back).
func (r *waitRoom) dueIn(w *waiter) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w.due.IsZero() {
		return 0, false
	}
	return w.due.Sub(r.l.opts.clock.Now()), true
}

// leave takes w out of its queue, obtained telling whether it got the
// lock. When it leaves without the lock, its turn or a wake-up it did not
// use goes to the next waiter, and so does a wake-up when it was the
// first: the next one is first now, and comes at the holder's expiry rather
// than after it (a holder's release wakes it anyway). When the last waiter
// leaves, the channel goes idle.
func (r *waitRoom) leave(w *waiter, obtained bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := w.q
	q.gone.add(w.id)
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
	switch {
	case obtained: // it wakes the next with its release
		if q.turn == w {
			q.turn = nil
		}
	case q.turn == w || !w.due.IsZero() || wasFirst:
		// Its turn, or its wake-up, goes to the next waiter, as late as
		// it was due; the first place too (the next comes at the holder's
		// expiry rather than after it).
		d := time.Duration(0)
		if !w.due.IsZero() {
			d = max(w.due.Sub(r.l.opts.clock.Now()), 0)
		}
		next := r.wakeOne(q, d)
		if q.turn == w {
			q.turn = next
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

// wokenNow reports whether w was woken to try by now. The caller holds r.mu.
func (r *waitRoom) wokenNow(w *waiter) bool {
	return !w.due.IsZero() && !w.due.After(r.l.opts.clock.Now())
}

// wakeAt wakes w to try after d, unless it was woken for earlier. The
// caller holds r.mu.
func (r *waitRoom) wakeAt(w *waiter, d time.Duration) {
	at := r.l.opts.clock.Now().Add(d)
	if !w.due.IsZero() && !at.Before(w.due) {
		return
	}
	w.due = at
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// wakeOne wakes the longest waiter that is not woken by now, after d. The
// caller holds r.mu.
func (r *waitRoom) wakeOne(q *keyQueue, d time.Duration) *waiter {
	for _, w := range q.waiters {
		if !r.wokenNow(w) {
			r.wakeAt(w, d)
			return w
		}
	}
	return nil
}

// markReady records that a node confirmed q's subscription. The caller
// holds r.mu.
func (r *waitRoom) markReady(q *keyQueue) {
	if !q.readied {
		q.readied = true
		close(q.ready)
	}
}

// released passes on a message of channel: a release, or that the lock
// was taken. A release wakes a waiter (see waitRoom), unless a waiter woken
// earlier has not tried yet (every node announces a release: one wake-up
// at a time is enough, and no stampede), nobody waits, or it is the
// clean-up of a waiter's own failed attempt. The waiter woken for a
// release that is trying still, or that tried and found the lock still
// held on some nodes (their release had not landed yet), is woken again by
// their announcements, late ones of earlier releases included (a node
// lets go when its announcement is sent), and no other waiter of this
// Locker is. Once the lock is taken, announcements of earlier releases
// wake nobody.
func (r *waitRoom) released(channel, payload string) {
	value, next, taken := parseAnnouncement(payload)
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.keys[channel]
	if q == nil {
		return
	}
	if taken {
		if q.released.has(value) { // came after its own release
			return
		}
		now := r.l.opts.clock.Now()
		for _, w := range q.waiters {
			if w.due.After(now) { // the turns still to come are taken back
				w.due = time.Time{}
			}
		}
		q.turnValue, q.turn = "", nil // and the later announcements of releases wake nobody
		return
	}
	if ownedBy(q, value) {
		return
	}
	// The waiters this node names, less those of ours that left (the node
	// may not have heard yet).
	next = slices.DeleteFunc(next, q.gone.has)
	grace := r.l.opts.nodeTimeout / 10
	if q.released.has(value) { // another node's announcement of a release
		w := q.turn
		if w == nil || !slices.Contains(q.waiters, w) {
			return // the lock was taken since, or the turn's waiter left
		}
		if w.due.IsZero() {
			r.wakeAt(w, 0) // it tried, or tries, and that node had not let go yet
		} else if turn := slices.Index(next, w.id); turn >= 0 && value == q.turnValue {
			r.wakeAt(w, time.Duration(turn)*grace) // this node has it earlier
		}
		return
	}
	q.released.add(value)
	prev := q.turn
	q.turnValue, q.turn = value, nil
	for _, w := range q.waiters {
		if r.wokenNow(w) { // woken earlier, it has not tried yet: it will
			q.turn = w
			return
		}
	}
	if prev != nil && prev.trying && slices.Contains(q.waiters, prev) {
		// The waiter woken for the previous release is trying still, and
		// may fail on the nodes that had not let go: it tries again.
		q.turn = prev
		r.wakeAt(prev, 0)
		return
	}
	for turn, id := range next {
		for _, w := range q.waiters {
			if w.id == id {
				q.turn = w
				r.wakeAt(w, time.Duration(turn)*grace)
				return
			}
		}
	}
	q.turn = r.wakeOne(q, time.Duration(len(next))*grace)
}

// parseAnnouncement reads a message of a key's channel: "\x00<ids>\x00<value>"
// a release naming the first waiters, "\x01<value>" the lock taken by
// value, anything else a release of that value.
func parseAnnouncement(p string) (value string, next []string, taken bool) {
	switch {
	case strings.HasPrefix(p, "\x01"):
		return p[1:], nil, true
	case strings.HasPrefix(p, "\x00"):
		if ids, v, ok := strings.Cut(p[1:], "\x00"); ok {
			return v, strings.Fields(ids), false
		}
	}
	return p, nil, false
}

// fellows returns how many waiters of rkey, other than the one named id,
// are here.
func (r *waitRoom) fellows(rkey, id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	if q := r.keys[rkey]; q != nil {
		for _, w := range q.waiters {
			if w.id != id {
				n++
			}
		}
	}
	return n
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
