package main

import (
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// TestExecWarnsWhenDegraded: a node that cannot be reached, refuses the
// password, or does not speak TLS where the URL asks for it, is one
// warning line on stderr that says which and why, and the command still
// runs on the quorum that is left.
func TestExecWarnsWhenDegraded(t *testing.T) {
	good := startNodes(t, 2)
	locked := startNodesWith(t, 1, func(m *miniredis.Miniredis) { m.RequireAuth("right") })
	plain := startNodes(t, 1)
	for _, m := range append(good.ms, locked.ms[0], plain.ms[0]) {
		// Marked long ago, in a start that does not report a run id (miniredis):
		// with a node down, unmarked nodes would wait out the maximum ttl.
		m.Set("quorumlock:node", "60000:60000:0::")
	}
	closed := startNodes(t, 1)
	closedAddr := closed.addrs[0]
	closed.ms[0].Close()
	for _, c := range []struct {
		name, third, want string
	}{
		{"unreachable", "redis://" + closedAddr, "unreachable"},
		{"wrong password", "redis://:wrong@" + locked.addrs[0], "refuses the password"},
		{"no TLS", "rediss://" + plain.addrs[0], "rediss://"},
	} {
		t.Run(c.name, func(t *testing.T) {
			nodes := good.flag() + "," + c.third
			code, stdout, stderr := runBin(t, nil, "exec", "--nodes", nodes, "--node-timeout", testNodeTimeout, "--key", "degraded-"+strings.ReplaceAll(c.name, " ", "-"), "--ttl", "5s", "--", "echo", "ran")
			if code != 0 || stdout != "ran\n" {
				t.Fatalf("exit status %d, stdout %q, want 0 and the command's output\nstderr: %s", code, stdout, stderr)
			}
			var warnings []string
			for _, l := range strings.Split(stderr, "\n") {
				if strings.Contains(l, "node 2") {
					warnings = append(warnings, l)
				}
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], c.want) {
				t.Fatalf("warnings about node 2: %q, want one that says %q\nstderr: %s", warnings, c.want, stderr)
			}
		})
	}
}
