// Package nodeset gives tests a set of N independent Redis nodes whose
// states they can change: miniredis servers with expiry in real time, each
// reached through a fault proxy, so that a node can be made free, held by
// another client, down, hung or slow.
package nodeset

import (
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/quorumlock/quorumlock/internal/faultproxy"
)

// State is what a node does to the calls that reach it.
type State int

// The states a test can put a node in.
const (
	Free State = iota // up, and the key is free
	Held              // up, and the key is held by another client
	Down              // connections are refused
	Hung              // connections stay open, nothing is answered
)

// String names the state.
func (s State) String() string {
	return [...]string{"free", "held", "down", "hung"}[s]
}

// OtherValue is the value of a lock held by "another client" (state Held).
const OtherValue = "held-by-another-client"

// Node is one miniredis server behind a fault proxy.
type Node struct {
	M     *miniredis.Miniredis
	Proxy *faultproxy.Proxy
	addr  string // the server's own address, kept because Addr panics after Close
}

// Set is N miniredis nodes.
type Set struct {
	Nodes []*Node
}

var _ Nodes = (*Set)(nil)

// Mini starts n miniredis nodes whose keys expire in real time, each behind
// its own fault proxy; everything is closed when the test ends.
func Mini(t testing.TB, n int) *Set {
	t.Helper()
	s := &Set{}
	for range n {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			t.Fatalf("nodeset: start miniredis: %v", err)
		}
		m.ClockTTL(true)
		p, err := faultproxy.New(m.Addr())
		if err != nil {
			m.Close()
			t.Fatalf("nodeset: proxy: %v", err)
		}
		m.Set(MarkerKey, Marker())
		node := &Node{M: m, Proxy: p, addr: m.Addr()}
		s.Nodes = append(s.Nodes, node)
		t.Cleanup(func() {
			p.Close()
			m.Close()
		})
	}
	return s
}

// Addrs returns the proxies' addresses, the ones clients should use.
func (s *Set) Addrs() []string {
	addrs := make([]string, len(s.Nodes))
	for i, n := range s.Nodes {
		addrs[i] = n.Proxy.Addr()
	}
	return addrs
}

// URLs returns redis:// URLs of the proxies.
func (s *Set) URLs() []string {
	urls := s.Addrs()
	for i, a := range urls {
		urls[i] = "redis://" + a
	}
	return urls
}

// Set puts node i in state st for key (the full key as stored, with any
// prefix): Held writes OtherValue with ttl, Free deletes the key.
func (s *Set) Set(i int, st State, key string, ttl time.Duration) {
	n := s.Nodes[i]
	n.Proxy.Heal()
	switch st {
	case Free:
		n.M.Del(key)
	case Held:
		n.M.Set(key, OtherValue)
		n.M.SetTTL(key, ttl)
	case Down:
		n.Proxy.Refuse()
	case Hung:
		n.Proxy.Blackhole()
	}
}

// Reset heals every proxy and empties every node, but for the marker of a
// node long in service.
func (s *Set) Reset() {
	for _, n := range s.Nodes {
		n.Proxy.Heal()
		n.M.FlushAll()
		n.M.Set(MarkerKey, Marker())
	}
}

// Holders counts the nodes whose key holds value, reading the servers
// directly (not through the proxies).
func (s *Set) Holders(key, value string) int {
	c := 0
	for _, n := range s.Nodes {
		if v, err := n.M.Get(key); err == nil && v == value {
			c++
		}
	}
	return c
}

// Entries lists every key present on the servers, read directly.
func (s *Set) Entries() []Entry {
	var out []Entry
	for i, n := range s.Nodes {
		for _, k := range n.M.Keys() {
			v, _ := n.M.Get(k)
			out = append(out, Entry{Node: i, Key: k, Value: v, TTL: n.M.TTL(k)})
		}
	}
	return out
}

// Len returns the number of nodes.
func (s *Set) Len() int { return len(s.Nodes) }

// Mix spreads the counts of each state over n positions, rotated by shift
// so that different mixes put the same state on different nodes.
func Mix(counts [4]int, shift int) []State {
	var states []State
	for st, c := range counts {
		for range c {
			states = append(states, State(st))
		}
	}
	n := len(states)
	out := make([]State, n)
	for i, st := range states {
		out[(i+shift)%n] = st
	}
	return out
}

// Mixes returns every way of splitting n nodes among the four states.
func Mixes(n int) [][4]int {
	var out [][4]int
	for f := 0; f <= n; f++ {
		for h := 0; f+h <= n; h++ {
			for d := 0; f+h+d <= n; d++ {
				out = append(out, [4]int{f, h, d, n - f - h - d})
			}
		}
	}
	return out
}

// Describe renders states for messages, e.g. "free,held,hung".
func Describe(states []State) string {
	parts := make([]string, len(states))
	for i, st := range states {
		parts[i] = st.String()
	}
	return strings.Join(parts, ",")
}
