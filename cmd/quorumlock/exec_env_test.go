package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// TestExecKeepsPasswordsFromTheCommand: QUORUMLOCK_NODES with a password
// does not reach the command unless --pass-nodes asks for it; without one
// it does.
func TestExecKeepsPasswordsFromTheCommand(t *testing.T) {
	nodes := startNodesWith(t, 3, func(m *miniredis.Miniredis) { m.RequireAuth("s3cret") })
	withPassword := strings.ReplaceAll(nodes.flag(), "redis://", "redis://:s3cret@")
	open := startNodes(t, 3)
	for _, c := range []struct {
		name, nodes string
		flags       []string
		want        string
	}{
		{"password", withPassword, nil, "unset"},
		{"password, passed", withPassword, []string{"--pass-nodes"}, withPassword},
		{"no password", open.flag(), nil, open.flag()},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "env")
			args := append([]string{"exec", "--node-timeout", testNodeTimeout, "--key", "env", "--ttl", "5s"}, c.flags...)
			args = append(args, "--", "sh", "-c", `printf %s "${QUORUMLOCK_NODES-unset}" > "$1"`, "sh", out)
			code, _, stderr := runBin(t, cleanEnv("QUORUMLOCK_NODES="+c.nodes), args...)
			if code != 0 {
				t.Fatalf("exit status %d\nstderr: %s", code, stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("the command's QUORUMLOCK_NODES is %q, want %q", got, c.want)
			}
		})
	}
}
