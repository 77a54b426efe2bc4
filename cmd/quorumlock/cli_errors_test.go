package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestErrorsReadAsAUnixUserExpects: a bad command line gets one line that
// names the problem and how to fix it, then the hint to -h, without a
// doubled "quorumlock:" prefix; --version answers.
func TestErrorsReadAsAUnixUserExpects(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "--nodes", "redis://127.0.0.1:1", "--key", "k", "--ttl", "5", "--", "true"}, `--ttl 5: no unit: use one, e.g. 5s`},
		{[]string{"exec", "--nodes", "redis://127.0.0.1:1", "--key", "k", "--ttl", "soon", "--", "true"}, `--ttl "soon": not a duration: e.g. 30s, 1m30s`},
		{[]string{"exec", "--nodes", "redis://127.0.0.1:1", "--key", "k", "--ttl", "5s", "--wait", "3", "--", "true"}, `--wait 3: no unit: use one, e.g. 3s`},
		{[]string{"status", "--nodes", "127.0.0.1:6379", "k"}, `node 0: no scheme: add redis://`},
		{[]string{"exec", "--nodes", "127.0.0.1:6379", "--key", "k", "--ttl", "5s", "--", "true"}, `node 0: no scheme: add redis://`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		switch {
		case code != exitUsage:
			t.Errorf("%q: exit status %d, want %d\nstderr: %s", c.args, code, exitUsage, &stderr)
		case !strings.Contains(lines[0], c.want):
			t.Errorf("%q: first line %q, want it to say %q", c.args, lines[0], c.want)
		case len(lines) > 2:
			t.Errorf("%q: %d lines on stderr, want the error and the hint to -h:\n%s", c.args, len(lines), &stderr)
		case strings.Contains(stderr.String(), "quorumlock: quorumlock:") || strings.Contains(stderr.String(), ": quorumlock: "):
			t.Errorf("%q: a doubled prefix: %s", c.args, &stderr)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--version"}, &stdout, &stderr); code != exitOK || !strings.HasPrefix(stdout.String(), "quorumlock ") {
		t.Errorf("--version: exit status %d, stdout %q, stderr %q", code, &stdout, &stderr)
	}
}
