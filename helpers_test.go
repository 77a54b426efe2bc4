package quorumlock

import (
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
