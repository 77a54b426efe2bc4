package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock"
)

// holdLock obtains key on the nodes from the test process, as owner.
func holdLock(t *testing.T, nodes *testNodes, key, owner string) *quorumlock.Lock {
	t.Helper()
	l, err := quorumlock.NewFromURLs(quorumlock.SplitURLs(nodes.flag()), quorumlock.WithNodeTimeout(time.Second),
		quorumlock.WithLogger(nil), quorumlock.WithFencing(), quorumlock.WithOwner(owner))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	lock, err := l.ObtainContext(context.Background(), key, time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lock.Release)
	// The round ended with a quorum; the last node's SET may still be landing.
	for deadline := time.Now().Add(eventBound); nodes.holders(key) < len(nodes.ms); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the lock is on %d of %d nodes", nodes.holders(key), len(nodes.ms))
		}
	}
	return lock
}

// TestStatus runs the status tests in parallel with one another, before the
// package's parallel tests (see TestExec).
func TestStatus(t *testing.T) {
	for _, c := range []struct {
		name string
		test func(*testing.T)
	}{
		{"FreeKey", statusFreeKey},
		{"HeldKey", statusHeldKey},
		{"WithoutAQuorum", statusWithoutAQuorum},
		{"UsageErrors", statusUsageErrors},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t)
		})
	}
}

func statusFreeKey(t *testing.T) {
	nodes := startNodes(t, 3)
	code, stdout, stderr := runBin(t, nil, "status", "--nodes", nodes.flag(), "--node-timeout", "1s", "report")
	if code != exitOK {
		t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range append([]string{"FREE", "3 of 3 nodes reachable", "quorum 2"}, nodes.addrs...) {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "HELD") {
		t.Errorf("a free key shown held:\n%s", stdout)
	}
}

func statusHeldKey(t *testing.T) {
	nodes := startNodes(t, 3)
	lock := holdLock(t, nodes, "report", "billing-7")
	value, err := nodes.ms[0].Get(lockKey("report"))
	if err != nil {
		t.Fatal(err)
	}
	_, random := splitValue(value)

	code, stdout, stderr := runBin(t, nil, "status", "--nodes", nodes.flag(), "--node-timeout", "1s", "report")
	if code != exitOK {
		t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	for i, addr := range nodes.addrs {
		line := lineWith(lines, addr)
		for _, want := range []string{"ok", "billing-7", random[:12]} {
			if !strings.Contains(line, want) {
				t.Errorf("node %d's line %q lacks %q", i, line, want)
			}
		}
	}
	if strings.Contains(stdout, random) {
		t.Errorf("the whole random part is printed, want a prefix:\n%s", stdout)
	}
	last := lines[len(lines)-1]
	for _, want := range []string{"HELD by billing-7", "validity", "3 of 3 nodes reachable", "fence " + strconv.FormatUint(lock.Fence(), 10)} {
		if !strings.Contains(last, want) {
			t.Errorf("quorum line %q lacks %q", last, want)
		}
	}

	// --json, after the key.
	code, stdout, stderr = runBin(t, nil, "status", "--nodes", nodes.flag(), "--node-timeout", "1s", "report", "--json")
	if code != exitOK {
		t.Fatalf("--json: exit status %d\nstderr: %s", code, stderr)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if st.State != stateHeld || !st.Held || st.Owner != "billing-7" || st.Holder != value || st.Reachable != 3 ||
		st.Quorum != 2 || st.Fence != lock.Fence() || st.ValidityMS <= 0 || len(st.Nodes) != 3 {
		t.Fatalf("--json: %+v", st)
	}
	for _, n := range st.Nodes {
		if n.Error != "" || n.Holder != value || n.RemainingMS <= 0 || n.Addr != nodes.addrs[n.Node] {
			t.Errorf("--json node: %+v", n)
		}
	}
}

func statusWithoutAQuorum(t *testing.T) {
	nodes := startNodes(t, 3)
	nodes.ms[1].Close()
	nodes.ms[2].Close()
	code, stdout, stderr := runBin(t, nil, "status", "--nodes", nodes.flag(), "--node-timeout", "1s", "report")
	if code != exitFail {
		t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, exitFail, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if line := lineWith(lines, nodes.addrs[2]); !strings.Contains(line, "error") {
		t.Errorf("a closed node's line %q shows no error", line)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "UNKNOWN") || !strings.Contains(last, "1 of 3 nodes reachable") {
		t.Errorf("quorum line %q", last)
	}

	code, stdout, _ = runBin(t, nil, "status", "--json", "--nodes", nodes.flag(), "--node-timeout", "1s", "report")
	var st statusJSON
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || code != exitFail {
		t.Fatalf("--json: exit status %d, %v\n%s", code, err, stdout)
	}
	if st.State != stateUnknown || st.Reachable != 1 || st.Nodes[1].Error == "" || st.Nodes[0].Error != "" {
		t.Fatalf("--json: %+v", st)
	}
}

func statusUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "no KEY"},
		{[]string{"status", "--nodes", "redis://127.0.0.1:1", "a", "b"}, `unexpected argument "b"`},
		{[]string{"status", "--nodes", "ftp://x", "a"}, "scheme"},
		{[]string{"status", "--bogus"}, "flag provided but not defined"},
	} {
		var out, errOut bytes.Buffer
		if code := run(c.args, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%q: exit status %d, stderr %q; want %d and %q", c.args, code, errOut.String(), exitUsage, c.want)
		}
	}
	var out, errOut bytes.Buffer // help asked for: status 0
	if code := run([]string{"status", "-h"}, &out, &errOut); code != exitOK || !strings.Contains(errOut.String(), "Exit status:") {
		t.Errorf("-h: exit status %d, want 0 and the help text", code)
	}
	code, _, stderr := runBin(t, nil, "status", "report") // no nodes anywhere
	if code != exitUsage || !strings.Contains(stderr, "QUORUMLOCK_NODES") {
		t.Errorf("without nodes: exit status %d, stderr %q", code, stderr)
	}
}

func TestQuorumState(t *testing.T) {
	ok := func(holder string) quorumlock.NodeStatus { return quorumlock.NodeStatus{Holder: holder} }
	down := quorumlock.NodeStatus{Err: context.DeadlineExceeded}
	for _, c := range []struct {
		nodes []quorumlock.NodeStatus
		held  bool
		want  string
	}{
		{[]quorumlock.NodeStatus{ok("a"), ok("a"), ok("")}, true, stateHeld},
		{[]quorumlock.NodeStatus{ok(""), ok(""), ok("")}, false, stateFree},
		{[]quorumlock.NodeStatus{ok("a"), ok("b"), ok("")}, false, stateFree},
		{[]quorumlock.NodeStatus{ok(""), ok(""), down}, false, stateFree},
		{[]quorumlock.NodeStatus{ok("a"), ok(""), down}, false, stateUnknown}, // the silent node may hold a
		{[]quorumlock.NodeStatus{ok(""), down, down}, false, stateUnknown},
	} {
		st := quorumlock.KeyStatus{Nodes: c.nodes, Held: c.held}
		for _, n := range c.nodes {
			if n.Err == nil {
				st.Reachable++
			}
		}
		if got := quorumState(st, 2); got != c.want {
			t.Errorf("%+v: %s, want %s", c.nodes, got, c.want)
		}
	}
}

// lineWith returns the first line containing s, or "".
func lineWith(lines []string, s string) string {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
