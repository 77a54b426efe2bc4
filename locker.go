package quorumlock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/quorum"
)

// A Locker obtains locks held on a quorum of independent Redis nodes: more
// than half of them. It is safe for concurrent use. Close it when done:
// nothing it started outlives Close.
type Locker struct {
	nodes  []node
	quorum int
	opts   options
	owned  bool // the clients were built by NewFromURLs; Close closes them

	mu      sync.RWMutex // guards closed against bg.Add
	closed  bool
	done    chan struct{}   // closed by Close, wakes waiters
	closing context.Context // ended by Close: the Locker's own background work
	stop    context.CancelFunc
	bg      sync.WaitGroup
	room    waitRoom // tells waiters of releases

	quarantine quarantine // bringing restarted nodes back (quarantine.go)
	checked    int        // nodes whose connections are checked when made
	marker     string     // the node marker's key
	id         string     // starts the ids of this Locker's waiters on the nodes
	rnd        *random    // jitter and nonces
	hooks      Hooks
}

// New returns a Locker over the given clients, one per independent Redis
// server (plain servers, Sentinel failover clients or Clusters). The caller
// keeps ownership of the clients and closes them after the Locker. A lock is
// held once more than half of the nodes hold it; use an odd number of nodes.
func New(nodes []redis.UniversalClient, opts ...Option) (*Locker, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return newLocker(nodes, o, false)
}

func newLocker(clients []redis.UniversalClient, o options, owned bool) (*Locker, error) {
	if err := checkNodes(clients); err != nil {
		return nil, err
	}
	l := &Locker{
		nodes:  make([]node, len(clients)),
		quorum: len(clients)/2 + 1,
		opts:   o,
		hooks:  o.hooks,
		owned:  owned,
		done:   make(chan struct{}),
	}
	l.closing, l.stop = context.WithCancel(context.Background())
	id, err := newID()
	if err != nil {
		return nil, err
	}
	l.id = id[:8] + "."
	if l.rnd, err = newRandom(); err != nil {
		return nil, err
	}
	for i, c := range clients {
		l.nodes[i] = newNode(c)
	}
	l.room.l, l.room.linger = l, defaultLinger
	l.quarantine.l = l
	l.marker = o.keyPrefix + markerName
	if o.quarantine && slices.ContainsFunc(l.nodes, func(n node) bool { return !n.single }) {
		// A Cluster keeps no node-wide marker, and without it the others'
		// markers no longer tell what a quorum forgot (docs/safety.md).
		l.opts.quarantine = false
		o.logger.Warn("quorumlock: a Redis Cluster among the nodes: the restart quarantine is off")
	}
	if len(clients)%2 == 0 {
		o.logger.Warn("quorumlock: an even number of nodes survives no more failures than one node fewer",
			"nodes", len(clients), "quorum", l.quorum)
	}
	return l, nil
}

// Quorum returns how many nodes must agree for a lock to be held.
func (l *Locker) Quorum() int { return l.quorum }

// Close waits for the calls and clean-ups still in flight on the nodes, each
// bounded by the node timeout where the client honours context deadlines,
// then closes the clients if NewFromURLs or FromEnv built them. Locks still
// held are not released: they expire at their ttl. Waiting Obtain calls
// return ErrClosed, once they have left the key's waiters on the nodes.
// Calling Close again does nothing.
func (l *Locker) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	l.stop()
	l.mu.Unlock()

	l.bg.Wait()
	l.room.close()
	if !l.owned {
		return nil
	}
	var errs []error
	for _, n := range l.nodes {
		if err := n.client.Close(); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.addr, err))
		}
	}
	return errors.Join(errs...)
}

// enter registers a call with the Locker so that Close waits for it; the
// caller must call l.bg.Done when finished.
func (l *Locker) enter() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	l.bg.Add(1)
	return nil
}

// round runs one call on every node under the Locker's quorum and timeout,
// and tells the hooks.
func (l *Locker) round(ctx context.Context, op, key string, seq *quorum.Seq, call quorum.Call) quorum.Result {
	return l.roundWith(ctx, op, key, seq, l.roundConfig(), call)
}

func (l *Locker) roundWith(ctx context.Context, op, key string, seq *quorum.Seq, cfg quorum.Config, call quorum.Call) quorum.Result {
	start := time.Now()
	res := quorum.Run(ctx, seq, cfg, call)
	l.hooks.round(l, op, key, res, time.Since(start))
	return res
}

func (l *Locker) roundConfig() quorum.Config {
	return quorum.Config{Quorum: l.quorum, Timeout: l.opts.nodeTimeout, Tracker: &l.bg}
}

// quorumError describes a round that missed its quorum, node by node.
func (l *Locker) quorumError(op, key string, res quorum.Result) *QuorumError {
	e := &QuorumError{Op: op, Key: key, Quorum: l.quorum, Answers: make([]NodeAnswer, len(res.Replies))}
	for i, r := range res.Replies {
		e.Answers[i] = NodeAnswer{Node: i, Addr: l.nodes[i].addr, Vote: r.Vote.String(), Err: r.Err}
	}
	return e
}

// heldElsewhere reports whether so many nodes answered no that the round
// missed because of them, not because of failures.
func (l *Locker) heldElsewhere(res quorum.Result) bool {
	return res.No > len(l.nodes)-l.quorum
}
