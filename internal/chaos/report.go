package chaos

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quorumlock/quorumlock/internal/history"
)

// Report is what a campaign did and found.
type Report struct {
	Config         Config
	Elapsed        time.Duration
	Obtains        int            // successful
	ObtainFailures int            // including waits that ran out
	Failures       map[string]int // by cause
	Refreshes      int
	Releases       int
	Acts           int
	Faults         map[Kind]int
	FaultErrors    []error       // faults the machinery failed to apply
	P50, P99       time.Duration // obtain latency of clients on their own keys
	LongestGap     time.Duration // longest stretch without a successful obtain
	Leftovers      []Entry       // keys still on a node a ttl after the end
	WritesAccepted int           // with fencing: writes the fenced store took
	WritesRejected int           // and those it refused as stale
	Check          history.Report
}

// Violations counts the mutual-exclusion violations the checker found.
func (r *Report) Violations() int { return len(r.Check.Violations) }

// LostWrites counts the writes the fenced store took out of order: a lower
// token after a higher one, or one token from two locks.
func (r *Report) LostWrites() int { return r.Check.Count(history.LostWrite) }

// String renders the report for people.
func (r *Report) String() string {
	c := r.Config
	var b strings.Builder
	kind := "miniredis"
	if c.RedisPath != "" {
		kind = "redis-server"
	}
	model := "inside the safety model"
	if !c.InsideModel() {
		model = "OUTSIDE the safety model"
	}
	fmt.Fprintf(&b, "quorumlock chaos: %d nodes (%s), %d lockers, %d clients, ttl %v, node timeout %v, %v, seed %d\n",
		c.Nodes, kind, c.Lockers, c.Clients, c.TTL, c.NodeTimeout, r.Elapsed.Round(time.Millisecond), c.Seed)
	fmt.Fprintf(&b, "faults (%s):", model)
	var kinds []string
	for k := range r.Faults {
		kinds = append(kinds, string(k))
	}
	slices.Sort(kinds)
	total := 0
	for _, k := range kinds {
		fmt.Fprintf(&b, " %s %d,", k, r.Faults[Kind(k)])
		total += r.Faults[Kind(k)]
	}
	fmt.Fprintf(&b, " total %d\n", total)
	ops := r.Obtains + r.ObtainFailures + r.Refreshes + r.Releases + r.Acts
	fmt.Fprintf(&b, "operations: %d (obtains %d ok, %d not obtained; refreshes %d; releases %d; acts %d)\n",
		ops, r.Obtains, r.ObtainFailures, r.Refreshes, r.Releases, r.Acts)
	if len(r.Failures) > 0 {
		var fs []string
		for k, v := range r.Failures {
			fs = append(fs, fmt.Sprintf("%s %d", k, v))
		}
		slices.Sort(fs)
		fmt.Fprintf(&b, "failures by cause: %s\n", strings.Join(fs, ", "))
	}
	if c.Fencing {
		fmt.Fprintf(&b, "fenced writes: %d accepted, %d rejected as stale, %d lost\n", r.WritesAccepted, r.WritesRejected, r.LostWrites())
	}
	fmt.Fprintf(&b, "obtain latency under faults (own keys): p50 %v, p99 %v\n", r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	fmt.Fprintf(&b, "longest stretch without an obtain: %v\n", r.LongestGap.Round(time.Millisecond))
	fmt.Fprintf(&b, "keys left on the nodes a ttl after the end: %d\n", len(r.Leftovers))
	for _, e := range r.Leftovers {
		fmt.Fprintf(&b, "  node %d: %s=%s ttl %v\n", e.Node, e.Key, e.Value, e.TTL)
	}
	for _, err := range r.FaultErrors {
		fmt.Fprintf(&b, "  %v\n", err)
	}
	fmt.Fprintf(&b, "violations: %d", r.Violations())
	byKind := map[string]int{}
	for _, v := range r.Check.Violations {
		byKind[v.Kind.String()]++
	}
	var vk []string
	for k, n := range byKind {
		vk = append(vk, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(vk)
	if len(vk) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(vk, ", "))
	}
	b.WriteString("\n")
	for i, v := range r.Check.Violations {
		if i == 10 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(r.Check.Violations)-10)
			break
		}
		fmt.Fprintf(&b, "  %v\n", v)
	}
	return b.String()
}
