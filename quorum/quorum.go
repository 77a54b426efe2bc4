// Package quorum runs one round of a call on N nodes in parallel and decides
// as soon as a quorum of them voted yes, or as soon as so many voted no or
// failed that a quorum is out of reach. A node slower than the per-node
// timeout never sets the pace: the round stops waiting for it, whatever the
// client underneath does.
package quorum

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTimeout is the error of a node that had not answered when the per-node
// timeout ran out.
var ErrTimeout = errors.New("no answer within the node timeout")

// Vote is one node's answer in a round.
type Vote uint8

// The votes a node can cast.
const (
	Pending Vote = iota // not answered when the round was decided
	Yes                 // counts towards the quorum
	No                  // answered, and not in favour
	Failed              // could not answer: an error or the node timeout
)

// String returns the vote's name.
func (v Vote) String() string {
	switch v {
	case Yes:
		return "yes"
	case No:
		return "no"
	case Failed:
		return "failed"
	}
	return "pending"
}

// Reply is what one node answered.
type Reply struct {
	Vote  Vote
	Value int64  // a number the call wants to pass back (a remaining time, say)
	Extra int64  // a second one (a fencing counter, say)
	Text  string // and a string (the value found on the node, say)
	Err   error  // why the node failed, with Vote == Failed
}

// Outcome is how a round ended.
type Outcome uint8

// The outcomes of a round.
const (
	Reached  Outcome = iota + 1 // a quorum voted yes
	Missed                      // a quorum can no longer vote yes
	Canceled                    // the caller's context ended first
)

// String names the outcome: "reached", "missed" or "canceled".
func (o Outcome) String() string {
	switch o {
	case Reached:
		return "reached"
	case Missed:
		return "missed"
	case Canceled:
		return "canceled"
	}
	return "undecided"
}

// Config tells a round how many nodes must agree and how long to wait.
type Config struct {
	Quorum  int             // yes votes needed, 1..n
	Timeout time.Duration   // per node, counted from when its call could start
	Tracker *sync.WaitGroup // counts the node goroutines, which may outlive the round

	// Settled, when set, is asked each time a reply arrives while a quorum
	// has voted yes; the round waits for more replies (until all answered
	// or the timeout) while it returns false. TTL uses it to wait only
	// when late nodes could still change the answer.
	Settled func(replies []Reply, pending int) bool

	// Linger is how long a round that can no longer reach its quorum keeps
	// collecting the replies still pending (within the timeout), so that
	// the caller sees the whole vote; 0: it returns at once. Obtain uses it
	// to settle split votes.
	Linger time.Duration
}

// Result is the decided round: the outcome and every node's reply as known at
// the moment of the decision (late nodes are Pending).
type Result struct {
	Outcome         Outcome
	Replies         []Reply
	Yes, No, Failed int
}

// Call performs the round's operation on one node. It must honour ctx's
// deadline where it can; the round does not rely on it. ctx carries the
// caller's values and the node timeout, not the caller's cancellation.
type Call func(ctx context.Context, node int) Reply

// Run calls call on every node of seq in parallel and returns once the round
// is decided. Node goroutines still running carry on in the background,
// counted by cfg.Tracker, each bounded by its own context deadline.
func Run(ctx context.Context, seq *Seq, cfg Config, call Call) Result {
	n := seq.Len()
	if ctx.Err() != nil { // send nothing for a caller that has gone: every node a "no"
		res := Result{Outcome: Canceled, Replies: make([]Reply, n), No: n}
		for i := range res.Replies {
			res.Replies[i] = Reply{Vote: No, Err: ctx.Err()}
		}
		return res
	}
	replies := make(chan nodeReply, n)
	timer := time.NewTimer(cfg.Timeout)
	defer timer.Stop()

	// The caller's cancellation stops the round's waiting, not a call
	// already sent: it completes, within the node timeout, so that a later
	// call on the node (a clean-up) runs after it has landed. Calls that can
	// start at once share one deadline; one that waits for its node's
	// previous call gets its own, counted from when it can start.
	shared, cancelShared := detached(ctx, cfg.Timeout) // cancelled by the last call to finish
	var running atomic.Int32
	running.Store(int32(n))
	if cfg.Tracker != nil {
		cfg.Tracker.Add(n)
	}
	for i := range n {
		prev, done := seq.next(i)
		go func() {
			defer func() {
				seq.finish(i, done)
				if running.Add(-1) == 0 {
					cancelShared()
				}
				if cfg.Tracker != nil {
					cfg.Tracker.Done()
				}
			}()
			nctx := shared
			select {
			case <-prev: // done already (nil blocks: no previous call)
			default:
				if prev != nil {
					select {
					case <-prev:
					case <-ctx.Done():
						// Nothing is sent, but the node's next call still
						// waits for the previous one to return: a clean-up
						// must never overtake the call it cleans up after.
						replies <- nodeReply{i, Reply{Vote: Failed, Err: ctx.Err()}}
						<-prev
						return
					}
					own, cancel := detached(ctx, cfg.Timeout)
					defer cancel()
					nctx = own
				}
			}
			replies <- nodeReply{i, call(nctx, i)}
		}()
	}

	res := Result{Replies: make([]Reply, n)}
	var linger <-chan time.Time // the quorum is out of reach; the rest may still come
	for pending := n; res.Outcome == 0; {
		select {
		case nr := <-replies:
			pending--
			res.Replies[nr.node] = nr.reply
			switch nr.reply.Vote {
			case Yes:
				res.Yes++
			case No:
				res.No++
			default:
				res.Failed++
				res.Replies[nr.node].Vote = Failed
			}
			switch {
			case res.Yes >= cfg.Quorum && (pending == 0 || cfg.Settled == nil || cfg.Settled(res.Replies, pending)):
				res.Outcome = Reached
			case res.No+res.Failed > n-cfg.Quorum && (pending == 0 || cfg.Linger <= 0):
				res.Outcome = Missed
			case res.No+res.Failed > n-cfg.Quorum && linger == nil:
				t := time.NewTimer(cfg.Linger)
				defer t.Stop()
				linger = t.C
			}
		case <-linger:
			res.Outcome = Missed
		case <-timer.C:
			for i := range res.Replies {
				if res.Replies[i].Vote == Pending {
					res.Replies[i] = Reply{Vote: Failed, Err: ErrTimeout}
					res.Failed++
				}
			}
			res.Outcome = Missed
			if res.Yes >= cfg.Quorum {
				res.Outcome = Reached
			}
		case <-ctx.Done():
			res.Outcome = Canceled
		}
	}
	return res
}

type nodeReply struct {
	node  int
	reply Reply
}

// detached returns a context with ctx's values but not its cancellation,
// ending after timeout.
func detached(ctx context.Context, timeout time.Duration) (context.Context, func()) {
	return context.WithTimeout(context.WithoutCancel(ctx), timeout)
}
