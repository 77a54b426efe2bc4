package redisproc

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine (a process waiter, a client)
// outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
