package quorumlock

import (
	"context"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// subscriber is one node's pub/sub connection for the wait room. A single
// worker goroutine sends its SUBSCRIBE and UNSUBSCRIBE commands, so that
// they reach the node in the order the room's needs changed; a reader
// goroutine passes on the node's messages and confirmations. All fields
// but ps and kicks are guarded by the room's mutex.
type subscriber struct {
	room  *waitRoom
	ps    *redis.PubSub
	kicks chan struct{} // capacity 1: the room's needs changed

	sent    map[string]bool // channels whose last command sent was SUBSCRIBE
	pending map[string]int  // SUBSCRIBEs sent and not yet confirmed
}

// open starts a subscriber per node. The caller holds r.mu.
func (r *waitRoom) open() {
	r.subs = make([]*subscriber, len(r.l.nodes))
	for i, n := range r.l.nodes {
		s := &subscriber{
			room:    r,
			ps:      n.client.Subscribe(context.Background()),
			kicks:   make(chan struct{}, 1),
			sent:    map[string]bool{},
			pending: map[string]int{},
		}
		r.subs[i] = s
		msgs := s.ps.ChannelWithSubscriptions()
		r.work.Go(s.work)
		r.read.Go(func() {
			for m := range msgs {
				s.receive(m)
			}
		})
	}
}

// kick tells the worker to bring the subscriptions up to date. The caller
// holds the room's mutex, and the room is open.
func (s *subscriber) kick() {
	select {
	case s.kicks <- struct{}{}:
	default:
	}
}

// confirmed reports whether channel is subscribed and confirmed on this
// node. The caller holds the room's mutex.
func (s *subscriber) confirmed(channel string) bool {
	return s.sent[channel] && s.pending[channel] == 0
}

// work subscribes to the channels that have waiters, and unsubscribes from
// those idle for longer than linger, until the room closes.
func (s *subscriber) work() {
	timeout := s.room.l.opts.nodeTimeout
	for range s.kicks {
		var on, off []string
		s.room.mu.Lock()
		for ch := range s.room.keys {
			if !s.sent[ch] {
				on = append(on, ch)
				s.sent[ch] = true
				s.pending[ch]++
			}
		}
		for ch := range s.sent {
			if since, idle := s.room.idle[ch]; idle && time.Since(since) >= s.room.linger {
				off = append(off, ch)
				delete(s.sent, ch)
				s.room.forget(ch)
			}
		}
		s.room.mu.Unlock()
		slices.Sort(on) // the same commands for the same needs (the simulator's replays)
		slices.Sort(off)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		if len(on) > 0 {
			s.ps.Subscribe(ctx, on...) // on failure the client subscribes again when it reconnects
		}
		if len(off) > 0 {
			s.ps.Unsubscribe(ctx, off...)
		}
		cancel()
	}
}

// receive handles one message from the node: a confirmed subscription, or
// a release to pass on.
func (s *subscriber) receive(m any) {
	switch m := m.(type) {
	case *redis.Subscription:
		if m.Kind != "subscribe" {
			return
		}
		r := s.room
		r.mu.Lock()
		defer r.mu.Unlock()
		s.pending[m.Channel] = max(s.pending[m.Channel]-1, 0) // a reconnection confirms again
		if q := r.keys[m.Channel]; q != nil && s.confirmed(m.Channel) {
			r.markReady(q)
		}
	case *redis.Message:
		s.room.released(m.Channel, m.Payload)
	}
}
