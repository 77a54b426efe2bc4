package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
