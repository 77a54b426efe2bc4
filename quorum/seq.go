package quorum

import "sync"

// Seq orders the rounds of one lock on each node: a round's call on node i
// starts only once the previous round's call on node i has returned. A
// release therefore never overtakes a slow acquire on the same node and
// leaves it behind. Rounds on one Seq must be started one at a time (the
// caller serialises them); the zero Seq is not usable, make one with NewSeq.
// A Seq with no call in flight holds no channel.
type Seq struct {
	mu   sync.Mutex
	tail []chan struct{} // per node, the last call's; nil once it returned
}

// NewSeq returns a sequence for n nodes with nothing in flight.
func NewSeq(n int) *Seq {
	return &Seq{tail: make([]chan struct{}, n)}
}

// Len returns the number of nodes.
func (s *Seq) Len() int { return len(s.tail) }

// next returns the channel that closes when the previous call on node i
// returned (nil when there is none in flight) and the new call's channel,
// which the caller passes to finish when the call returned.
func (s *Seq) next(i int) (prev <-chan struct{}, done chan struct{}) {
	done = make(chan struct{})
	s.mu.Lock()
	prev, s.tail[i] = s.tail[i], done
	s.mu.Unlock()
	return prev, done
}

// finish closes done, the channel of a call on node i that returned, and
// forgets it when no later call follows it.
func (s *Seq) finish(i int, done chan struct{}) {
	close(done)
	s.mu.Lock()
	if s.tail[i] == done {
		s.tail[i] = nil
	}
	s.mu.Unlock()
}

// Wait waits until every call started on s so far has returned (each is
// bounded by its own deadline). It must not run concurrently with a Run on s.
func (s *Seq) Wait() {
	s.mu.Lock()
	tail := append([]chan struct{}(nil), s.tail...)
	s.mu.Unlock()
	for _, t := range tail {
		if t != nil {
			<-t
		}
	}
}
