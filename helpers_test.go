package quorumlock

import (
	"context"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// testNodeTimeout keeps rounds against hung nodes short in tests.
const testNodeTimeout = 100 * time.Millisecond

// hangBound is the generous bound a call must return within when nodes
// hang: far above the node timeout, far below any client timeout.
const hangBound = testNodeTimeout + 1500*time.Millisecond

// newTestLocker returns a Locker over the set's proxies with the test node
// timeout, closed when the test ends.
func newTestLocker(t testing.TB, s nodeset.Nodes, opts ...Option) *Locker {
	t.Helper()
	opts = append([]Option{WithNodeTimeout(testNodeTimeout), WithLogger(nil)}, opts...)
	l, err := NewFromURLs(s.URLs(), opts...)
	if err != nil {
		t.Fatalf("NewFromURLs: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// within fails the test if the call that began at began took longer than hangBound.
func within(t testing.TB, began time.Time, what string) {
	t.Helper()
	if took := time.Since(began); took > hangBound {
		t.Fatalf("%s took %v, more than %v: a slow node set the pace", what, took, hangBound)
	}
}

// settle waits until the stragglers of earlier rounds (calls still running
// on nodes after their round was decided) have finished. Only for tests that
// start no call meanwhile.
func settle(l *Locker) { l.bg.Wait() }

// obtainEverywhere obtains key for ttl and returns the lock once it is
// held on every node: on fresh nodes a first obtain may land on a quorum
// only (a node whose marker did not yet allow the ttl refuses it), and
// tests of the waiters need every node to list each waiter's attempts.
func obtainEverywhere(t testing.TB, nodes *nodeset.Set, l *Locker, key string, ttl time.Duration) *Lock {
	t.Helper()
	deadline := time.Now().Add(hangBound * 5)
	for {
		lock, err := l.ObtainContext(context.Background(), key, ttl, 0)
		if err != nil {
			t.Fatal(err)
		}
		everywhere := true
		for _, n := range nodes.Nodes {
			everywhere = everywhere && n.M.Exists(l.lockKey(key))
		}
		if everywhere {
			return lock
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock on %s is not on every node", key)
		}
		if err := lock.ReleaseContext(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
