package redisproc

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Set is a cluster of independent servers (no replication between them),
// as used by a quorum lock over N Redis nodes.
type Set struct {
	// Servers are the nodes, in a fixed order.
	Servers []*Server
}

// StartSet starts n servers with cfg in parallel and registers Close with
// t.Cleanup. It calls Require first, so the test skips (or fails, with
// QUORUMLOCK_REQUIRE_REDIS=1) when redis-server is missing, and it fails the
// test if any server does not start.
func StartSet(t testing.TB, n int, cfg Config) *Set {
	t.Helper()
	path := Require(t)
	if n < 1 {
		t.Fatalf("redisproc: StartSet needs at least one server, got %d", n)
	}
	set, err := startSet(path, n, cfg)
	if err != nil {
		t.Fatalf("redisproc: StartSet(%d): %v", n, err)
	}
	t.Cleanup(func() {
		if err := set.close(); err != nil {
			t.Errorf("redisproc: %v", err)
		}
	})
	return set
}

// startSet starts n servers in parallel; on any failure it closes the ones
// that did start.
func startSet(path string, n int, cfg Config) (*Set, error) {
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			servers[i], errs[i] = Start(path, cfg)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("server %d: %w", i, errs[i])
			}
		})
	}
	wg.Wait()
	set := &Set{Servers: servers}
	if err := errors.Join(errs...); err != nil {
		_ = set.close()
		return nil, err
	}
	return set, nil
}

// Addrs returns the address of every server, in order.
func (s *Set) Addrs() []string {
	addrs := make([]string, len(s.Servers))
	for i, srv := range s.Servers {
		addrs[i] = srv.Addr()
	}
	return addrs
}

// Close closes every server. It is idempotent; StartSet's cleanup calls it
// and reports errors to the test, which Close itself cannot do.
func (s *Set) Close() {
	_ = s.close()
}

// close closes every server and returns the joined errors.
func (s *Set) close() error {
	var errs []error
	for _, srv := range s.Servers {
		if srv != nil {
			errs = append(errs, srv.Close())
		}
	}
	return errors.Join(errs...)
}
