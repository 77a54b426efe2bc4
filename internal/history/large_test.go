package history

import (
	"fmt"
	"testing"
	"time"
)

// turns returns a valid history of n holders taking turns, 5 events each:
// obtain, act, refresh, act, release.
func turns(n int) History {
	var h History
	for i := range n {
		id := fmt.Sprint("L", i)
		t := time.Duration(i) * 10 * time.Microsecond
		ret := t + time.Microsecond
		h.Obtains = append(h.Obtains, Obtain{Client: fmt.Sprint("c", i%7), ID: id, Call: t, Ret: ret, OK: true, ValidUntil: ret + 5*time.Microsecond})
		h.Acts = append(h.Acts, Act{ID: id, Start: ret, End: ret + time.Microsecond})
		h.Refreshes = append(h.Refreshes, Refresh{ID: id, Call: ret + 2*time.Microsecond, Ret: ret + 3*time.Microsecond, OK: true, ValidUntil: ret + 20*time.Microsecond})
		h.Acts = append(h.Acts, Act{ID: id, Start: ret + 3*time.Microsecond, End: ret + 8*time.Microsecond})
		h.Releases = append(h.Releases, Release{ID: id, Call: ret + 9*time.Microsecond, Ret: ret + 12*time.Microsecond})
	}
	return h
}

func TestCheckLargeHistory(t *testing.T) {
	const n = 20000 // 100k events
	h := turns(n)
	start := time.Now()
	rep := Check(h)
	if !rep.OK() || rep.Leases != n || h.Len() != 5*n {
		t.Fatalf("Check() = %v", rep)
	}
	t.Logf("checked %d events in %v", h.Len(), time.Since(start))

	// L0 holds [1µs, 10µs), then acts for the whole run; L100 releases
	// late, so its lease [1001µs, 1013µs) overlaps L101's from 1011µs, and
	// the first act of L101, [1011µs, 1012µs), is inside L100's lease.
	h.Acts = append(h.Acts, Act{ID: "L0", Start: 0, End: time.Duration(n) * 10 * time.Microsecond})
	h.Releases[100].Call = 1013 * time.Microsecond
	rep = Check(h)
	if got := rep.Count(LeaseOverlap); got != 1 {
		t.Errorf("%d lease overlaps, want 1", got)
	}
	// The act of L0 overlaps every other lease and every other act.
	if got, want := rep.Count(ActOutsideExclusion), 3*(n-1)+1; got != want {
		t.Errorf("%d acts outside exclusion, want %d", got, want)
	}
	// Before and after L0's own lease.
	if got := rep.Count(ActOutsideOwnLease); got != 2 {
		t.Errorf("%d acts outside own lease, want 2", got)
	}
}

func BenchmarkCheck100k(b *testing.B) {
	h := turns(20000)
	for b.Loop() {
		if !Check(h).OK() {
			b.Fatal("violations")
		}
	}
}
