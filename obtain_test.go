package quorumlock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// TestAcquireRunTwiceIsAYes: a client that retries an acquire whose reply
// was lost runs it twice on the node; the second run finds the attempt's own
// value. That is a yes: when the attempt fails, its clean-up must then
// remove the key, which must not block the lock for everyone for its ttl.
func TestAcquireRunTwiceIsAYes(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	l := newTestLocker(t, nodes)
	rkey := l.lockKey("k")
	nodes.Set(1, nodeset.Held, rkey, time.Minute)
	nodes.Set(2, nodeset.Held, rkey, time.Minute)
	l.enter()
	_, _, err := l.attempt(context.Background(), "k", 10*time.Second, attemptHooks{note: func(v string) {
		// The first run of this very call landed on node 0; its reply was lost.
		nodes.Nodes[0].M.Set(rkey, v)
		nodes.Nodes[0].M.SetTTL(rkey, 10*time.Second)
	}})
	l.bg.Done()
	if !errors.Is(err, ErrNotObtained) {
		t.Fatalf("err = %v, want ErrNotObtained: nodes 1 and 2 are held", err)
	}
	settle(l)
	if v, _ := nodes.Nodes[0].M.Get(rkey); v != "" {
		t.Fatalf("node 0 still holds the failed attempt's value %q", v)
	}
}
