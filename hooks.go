package quorumlock

import (
	"time"

	"github.com/quorumlock/quorumlock/quorum"
)

// Hooks are functions a service plugs its metrics and traces into
// (WithHooks). Each is optional, is called synchronously on the caller's
// goroutine or a node's, and must return quickly. Events carry node
// addresses, never credentials.
type Hooks struct {
	// Obtain is called when an ObtainContext (or Obtain) call returns.
	Obtain func(ObtainEvent)
	// Round is called after each round on the nodes: an obtain attempt, a
	// fencing write-back, a refresh, a TTL probe, a release, a clean-up.
	Round func(RoundEvent)
	// Node is called for each node that failed in a round, and when a node
	// enters restart quarantine.
	Node func(NodeEvent)
	// Lost is called when a held lock is lost: a refresh found it gone from
	// a quorum, or its validity ran out while it was watched (Lost, Context,
	// KeepAlive).
	Lost func(LostEvent)
}

// ObtainEvent describes an ObtainContext call.
type ObtainEvent struct {
	Key      string
	Err      error         // nil when obtained
	Took     time.Duration // including any wait
	Attempts int           // attempts made (each one or more rounds: see RoundEvent)
}

// RoundEvent describes one round on the nodes.
type RoundEvent struct {
	Op              string // "obtain", "fence", "refresh", "ttl", "release", "cleanup"
	Key             string
	Outcome         string // "reached", "missed" or "canceled"
	Yes, No, Failed int
	Took            time.Duration
}

// NodeEvent describes a node's failure in a round.
type NodeEvent struct {
	Op   string
	Node int    // index in the Locker's node list
	Addr string // without credentials
	Err  error
}

// LostEvent describes a lost lock.
type LostEvent struct {
	Key   string
	Cause error
}

func (h *Hooks) round(l *Locker, op, key string, res quorum.Result, took time.Duration) {
	if h.Round != nil {
		h.Round(RoundEvent{Op: op, Key: key, Outcome: res.Outcome.String(), Yes: res.Yes, No: res.No, Failed: res.Failed, Took: took})
	}
	if h.Node != nil && res.Failed > 0 {
		for i, r := range res.Replies {
			if r.Vote == quorum.Failed {
				h.Node(NodeEvent{Op: op, Node: i, Addr: l.nodes[i].addr, Err: r.Err})
			}
		}
	}
}

func (h *Hooks) nodeEvent(e NodeEvent) {
	if h.Node != nil {
		h.Node(e)
	}
}

func (h *Hooks) obtain(e ObtainEvent) {
	if h.Obtain != nil {
		h.Obtain(e)
	}
}

func (h *Hooks) lost(e LostEvent) {
	if h.Lost != nil {
		h.Lost(e)
	}
}
