package history

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Hand-built histories use whole milliseconds.
const ms = time.Millisecond

func d(n int) time.Duration { return time.Duration(n) * ms }

func obtain(client, id string, call, ret int, ok bool, until int) Obtain {
	return Obtain{Client: client, ID: id, Call: d(call), Ret: d(ret), OK: ok, ValidUntil: d(until)}
}

// held is a successful obtain returning at ret, valid until until.
func held(client, id string, ret, until int) Obtain {
	return obtain(client, id, ret-1, ret, true, until)
}

func refresh(id string, call, ret int, ok bool, until int) Refresh {
	return Refresh{ID: id, Call: d(call), Ret: d(ret), OK: ok, ValidUntil: d(until)}
}

func release(id string, call, ret int) Release {
	return Release{ID: id, Call: d(call), Ret: d(ret)}
}

func act(id string, start, end int) Act {
	return Act{ID: id, Start: d(start), End: d(end)}
}

func write(id string, token uint64, at int, accepted bool) Write {
	return Write{ID: id, Token: token, At: d(at), Accepted: accepted}
}

// sorted returns a sorted copy of vs, as Check orders them.
func sorted(vs []Violation) []Violation {
	vs = slices.Clone(vs)
	slices.SortFunc(vs, compareViolations)
	return vs
}

// diffViolations describes how got and want differ, or returns "" if they
// hold the same violations.
func diffViolations(got, want []Violation) string {
	got, want = sorted(got), sorted(want)
	if slices.Equal(got, want) {
		return ""
	}
	var b strings.Builder
	b.WriteString("got:")
	for _, v := range got {
		b.WriteString("\n\t" + v.String() + dumpViolation(v))
	}
	b.WriteString("\nwant:")
	for _, v := range want {
		b.WriteString("\n\t" + v.String() + dumpViolation(v))
	}
	return b.String()
}

func dumpViolation(v Violation) string {
	return "   [" + strings.Join([]string{v.Kind.String(), v.A, v.ClientA, v.B, v.ClientB,
		boolStr(v.AgainstAct), v.From.String(), v.To.String(), v.Detail}, "|") + "]"
}

func boolStr(b bool) string {
	if b {
		return "act"
	}
	return "-"
}

func expectViolations(t *testing.T, h History, want ...Violation) Report {
	t.Helper()
	rep := Check(h)
	if diff := diffViolations(rep.Violations, want); diff != "" {
		t.Errorf("Check: %s", diff)
	}
	if !slices.IsSortedFunc(rep.Violations, compareViolations) {
		t.Errorf("violations not sorted: %v", rep)
	}
	if rep.OK() != (len(want) == 0) {
		t.Errorf("OK() = %v with %d violations", rep.OK(), len(rep.Violations))
	}
	return rep
}
