package quorumlock

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// KeyStatus is what the nodes say of a key (Inspect): node by node, and as
// a quorum.
type KeyStatus struct {
	Key       string
	Nodes     []NodeStatus
	Reachable int  // nodes that answered
	Held      bool // a quorum holds the same value
	Holder    string
	Owner     string        // the holder's owner (the value before its last '/')
	Validity  time.Duration // the quorum-th largest remaining time, less the drift
	Fence     uint64        // the highest fencing counter seen (0 without fencing)
}

// NodeStatus is what one node says of a key.
type NodeStatus struct {
	Node        int
	Addr        string // without credentials
	Err         error  // nil when it answered
	Latency     time.Duration
	Holder      string        // the value there; "" when free
	Remaining   time.Duration // the key's remaining time there
	Quarantined bool          // in restart quarantine, as the node says: not marked yet, or for QuarantineLeft more
	// QuarantineLeft is how long the node stays quarantined; 0 when it is
	// not, or when it waits to be marked.
	QuarantineLeft time.Duration
	fence          uint64
}

// Inspect asks every node, within the node timeout, who holds key and for
// how long, and sums it up as a quorum sees it. It changes nothing.
func (l *Locker) Inspect(ctx context.Context, key string) (KeyStatus, error) {
	if key == "" {
		return KeyStatus{}, fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := l.enter(); err != nil {
		return KeyStatus{}, err
	}
	defer l.bg.Done()
	rkey, fkey := l.lockKey(key), l.fenceKey(key)
	nodes, answered := onEveryNode(ctx, l, func(ctx context.Context, i int) NodeStatus {
		return l.inspectNode(ctx, i, rkey, fkey)
	})
	st := KeyStatus{Key: key, Nodes: nodes}
	for i, ok := range answered {
		if !ok {
			st.Nodes[i] = NodeStatus{Node: i, Addr: l.nodes[i].addr, Err: fmt.Errorf("no answer within the node timeout: %w", context.DeadlineExceeded)}
		}
	}

	counts := map[string]int{}
	for _, n := range st.Nodes {
		if n.Err != nil {
			continue
		}
		st.Reachable++
		st.Fence = max(st.Fence, n.fence)
		if n.Holder != "" {
			counts[n.Holder]++
		}
	}
	for v, c := range counts {
		if c >= l.quorum {
			st.Held, st.Holder = true, v
		}
	}
	if st.Held {
		if i := strings.LastIndex(st.Holder, "/"); i > 0 {
			st.Owner = st.Holder[:i]
		}
		var left []time.Duration
		for _, n := range st.Nodes {
			if n.Err == nil && n.Holder == st.Holder {
				left = append(left, n.Remaining)
			}
		}
		slices.Sort(left)
		ttl := left[len(left)-1]
		st.Validity = max(left[len(left)-l.quorum]-drift(ttl, l.opts.driftFactor), 0)
	}
	return st, nil
}

// inspectNode asks node i for the key's value, remaining time, fencing
// counter and restart quarantine.
func (l *Locker) inspectNode(ctx context.Context, i int, rkey, fkey string) NodeStatus {
	s := NodeStatus{Node: i, Addr: l.nodes[i].addr}
	marker, mode := l.markerKey(), ""
	if l.quarantine.on(i) {
		mode = "q"
	} else {
		marker = rkey // no marker; one slot for a Cluster
	}
	start := time.Now()
	v, err := l.eval(ctx, i, inspectScript, rkey, fkey, marker, mode)
	s.Latency = time.Since(start)
	if err != nil {
		s.Err = err
		return s
	}
	r, ok := v.([]any)
	if !ok || len(r) != 5 {
		s.Err = fmt.Errorf("unexpected reply %v", v)
		return s
	}
	s.Holder, _ = r[0].(string)
	if ms := asInt(r[1]); ms > 0 {
		s.Remaining = time.Duration(ms) * time.Millisecond
	}
	s.fence = uint64(max(asInt(r[2]), 0))
	s.Quarantined = asInt(r[3]) != 0
	s.QuarantineLeft = time.Duration(asInt(r[4])) * time.Millisecond
	return s
}
