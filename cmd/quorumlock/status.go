package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/quorumlock/quorumlock"
)

const statusUsage = `usage: quorumlock status [flags] KEY

Asks every node who holds the lock KEY and for how long, and prints one line
per node (address, answer or error, latency, holder's owner and value,
remaining time), then what a quorum says: HELD by an owner, with the time it
is certain to stay held, or FREE; how many nodes answered; the highest fencing
counter seen. It changes nothing on the nodes.

The state is UNKNOWN when too few nodes answered to tell: fewer than a
quorum, or the silent ones could make up a quorum with a holder's.

--json prints the same as one JSON object: key, state ("held", "free" or
"unknown"), quorum, reachable, held, holder, owner, validity_ms, fence, and
nodes: [{node, addr, error, latency_ms, holder, owner, remaining_ms,
quarantined}]; errors are strings, times milliseconds.

quorumlock reads:
  QUORUMLOCK_NODES  the nodes, when --nodes is not given

` + nodesHelp + `
Exit status:
  0  a quorum answered: the lock is held or free
  1  too few nodes answered to tell
  2  bad flags, no KEY, no nodes or a bad node URL

flags:
`

// The quorum's view of a key.
const (
	stateHeld    = "held"
	stateFree    = "free"
	stateUnknown = "unknown"
)

// runStatus prints what the nodes say of a key.
func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	nodes := addNodeFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, statusUsage)
		fs.PrintDefaults()
	}
	if status, ok := parseFlags(fs, "status", args, stderr); !ok {
		return status
	}
	usageErr := func(format string, a ...any) int { return usageError(stderr, "status", format, a...) }
	if fs.NArg() == 0 {
		return usageErr("no KEY given")
	}
	key := fs.Arg(0)
	if status, ok := parseFlags(fs, "status", fs.Args()[1:], stderr); !ok { // flags may follow the key
		return status
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q after KEY", fs.Arg(0))
	}

	locker, err := nodes.newLocker(stderr)
	if err != nil {
		return usageErr("%v", err)
	}
	defer locker.Close()
	st, err := locker.Inspect(context.Background(), key)
	if err != nil {
		if isConfigError(err) {
			return usageErr("%v", err)
		}
		fmt.Fprintln(stderr, "quorumlock status:", message(err.Error()))
		return exitFail
	}
	state := quorumState(st, locker.Quorum())
	if *asJSON {
		if err := printStatusJSON(stdout, st, state, locker.Quorum()); err != nil {
			fmt.Fprintln(stderr, "quorumlock status:", message(err.Error()))
			return exitFail
		}
	} else {
		printStatus(stdout, st, state, locker.Quorum())
	}
	if state == stateUnknown {
		return exitFail
	}
	return exitOK
}

// quorumState decides what a quorum says of the key: held when a quorum
// holds one value; free when no value could be on a quorum even if every
// silent node held it; unknown otherwise, and whenever fewer than a quorum
// answered.
func quorumState(st quorumlock.KeyStatus, quorum int) string {
	switch {
	case st.Held:
		return stateHeld
	case st.Reachable < quorum:
		return stateUnknown
	}
	counts := map[string]int{}
	most := 0
	for _, n := range st.Nodes {
		if n.Err == nil && n.Holder != "" {
			counts[n.Holder]++
			most = max(most, counts[n.Holder])
		}
	}
	if most+len(st.Nodes)-st.Reachable >= quorum {
		return stateUnknown
	}
	return stateFree
}

// printStatus prints a node per line, then the quorum's view.
func printStatus(w io.Writer, st quorumlock.KeyStatus, state string, quorum int) {
	fmt.Fprintf(w, "key %s on %d nodes, quorum %d\n", printable(st.Key), len(st.Nodes), quorum)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tANSWER\tLATENCY\tHOLDER\tVALUE\tREMAINING")
	for _, n := range st.Nodes {
		addr := printable(n.Addr)
		if n.Quarantined {
			addr += " (quarantined)"
		}
		if n.Err != nil {
			// The last cell, not ended by a tab, widens no column.
			fmt.Fprintf(tw, "%d\t%s\terror: %s\n", n.Node, addr, printable(n.Err.Error()))
			continue
		}
		holder, value, remaining := "-", "-", "-"
		if n.Holder != "" {
			owner, random := splitValue(n.Holder)
			if owner != "" {
				holder = printable(owner)
			} else {
				holder = "?"
			}
			value = printable(short(random, 12))
			remaining = fmtRemaining(n.Remaining)
		}
		fmt.Fprintf(tw, "%d\t%s\tok\t%v\t%s\t%s\t%s\n", n.Node, addr, fmtLatency(n.Latency), holder, value, remaining)
	}
	tw.Flush()

	switch state {
	case stateHeld:
		owner, random := splitValue(st.Holder)
		if owner == "" {
			owner = "?"
		}
		fmt.Fprintf(w, "HELD by %s (value %s, validity %v)", printable(owner), printable(short(random, 12)), st.Validity.Round(time.Millisecond))
	case stateFree:
		fmt.Fprint(w, "FREE")
	default:
		fmt.Fprint(w, "UNKNOWN: too few nodes answered to tell")
	}
	fmt.Fprintf(w, "; %d of %d nodes reachable, quorum %d; fence %d\n", st.Reachable, len(st.Nodes), quorum, st.Fence)
}

// fmtLatency rounds a latency for reading.
func fmtLatency(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// fmtRemaining prints a key's remaining time; "no expiry" for a key without
// one (not a quorumlock lock).
func fmtRemaining(d time.Duration) string {
	if d <= 0 {
		return "no expiry"
	}
	return d.Round(time.Millisecond).String()
}

// statusJSON is KeyStatus for scripts: errors as strings, times in ms.
type statusJSON struct {
	Key        string     `json:"key"`
	State      string     `json:"state"`
	Quorum     int        `json:"quorum"`
	Reachable  int        `json:"reachable"`
	Held       bool       `json:"held"`
	Holder     string     `json:"holder,omitempty"`
	Owner      string     `json:"owner,omitempty"`
	ValidityMS int64      `json:"validity_ms"`
	Fence      uint64     `json:"fence"`
	Nodes      []nodeJSON `json:"nodes"`
}

type nodeJSON struct {
	Node        int     `json:"node"`
	Addr        string  `json:"addr"`
	Error       string  `json:"error,omitempty"`
	LatencyMS   float64 `json:"latency_ms"`
	Holder      string  `json:"holder,omitempty"`
	Owner       string  `json:"owner,omitempty"`
	RemainingMS int64   `json:"remaining_ms"`
	Quarantined bool    `json:"quarantined"`
}

func printStatusJSON(w io.Writer, st quorumlock.KeyStatus, state string, quorum int) error {
	out := statusJSON{
		Key: st.Key, State: state, Quorum: quorum, Reachable: st.Reachable,
		Held: st.Held, Holder: st.Holder, Owner: st.Owner,
		ValidityMS: st.Validity.Milliseconds(), Fence: st.Fence,
		Nodes: make([]nodeJSON, len(st.Nodes)),
	}
	for i, n := range st.Nodes {
		owner, _ := splitValue(n.Holder)
		out.Nodes[i] = nodeJSON{
			Node: n.Node, Addr: n.Addr,
			LatencyMS: float64(n.Latency.Microseconds()) / 1000,
			Holder:    n.Holder, Owner: owner,
			RemainingMS: n.Remaining.Milliseconds(), Quarantined: n.Quarantined,
		}
		if n.Err != nil {
			out.Nodes[i].Error = n.Err.Error()
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
