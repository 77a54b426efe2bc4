package quorum

// Seq orders the rounds of one lock on each node: a round's call on node i
// starts only once the previous round's call on node i has returned. A
// release therefore never overtakes a slow acquire on the same node and
// leaves it behind. Rounds on one Seq must be started one at a time (the
// caller serialises them); the zero Seq is not usable, make one with NewSeq.
type Seq struct {
	tail []chan struct{}
}

// NewSeq returns a sequence for n nodes with nothing in flight.
func NewSeq(n int) *Seq {
	return &Seq{tail: make([]chan struct{}, n)}
}

// Len returns the number of nodes.
func (s *Seq) Len() int { return len(s.tail) }

// next returns the channel that closes when the previous call on node i
// returned (nil when there was none) and the channel the new call closes.
func (s *Seq) next(i int) (prev <-chan struct{}, done chan struct{}) {
	done = make(chan struct{})
	prev, s.tail[i] = s.tail[i], done
	return prev, done
}

// Wait waits until every call started on s so far has returned (each is
// bounded by its own deadline). It must not run concurrently with a Run on s.
func (s *Seq) Wait() {
	for _, t := range s.tail {
		if t != nil {
			<-t
		}
	}
}
