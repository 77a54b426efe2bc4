package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quorumlock-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir // the binary the subprocess tests run is built there (quorumlockBin)
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

func TestUsage(t *testing.T) {
	cases := []struct {
		args   []string
		status int
		want   string
	}{
		{nil, exitUsage, "usage: quorumlock"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"help"}, exitOK, "commands:"},
		{[]string{"demo", "-nodes", "0"}, exitUsage, "usage: quorumlock demo"},
		{[]string{"demo", "-bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"demo", "-h"}, exitOK, "usage: quorumlock demo"},
		{[]string{"chaos", "-h"}, exitOK, "Exit status"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		if got := run(c.args, &out, &errOut); got != c.status {
			t.Errorf("%q: status %d, want %d", c.args, got, c.status)
		}
		if !strings.Contains(out.String()+errOut.String(), c.want) {
			t.Errorf("%q: output %q lacks %q", c.args, out.String()+errOut.String(), c.want)
		}
	}
}

func TestChaosCommand(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	status := run([]string{"chaos", "-duration", "2s", "-progress=false", "-seed", "7", "-faults", "hang,partition-minority"}, &out, &errOut)
	if status != exitOK {
		t.Fatalf("status %d\n%s%s", status, out.String(), errOut.String())
	}
	for _, want := range []string{"seed 7", "violations: 0", "keys left on the nodes a ttl after the end: 0", "obtain latency under faults"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestChaosCommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"chaos", "-faults", "meteor"},
		{"chaos", "-ttl", "10ms"},
		{"chaos", "extra"},
	} {
		var out, errOut bytes.Buffer
		if status := run(args, &out, &errOut); status != exitUsage {
			t.Errorf("%q: status %d, want %d (%s)", args, status, exitUsage, errOut.String())
		}
	}
}
