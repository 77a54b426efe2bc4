package history

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func overlap(a, ca, b, cb string, from, to int) Violation {
	return Violation{Kind: LeaseOverlap, A: a, ClientA: ca, B: b, ClientB: cb, From: d(from), To: d(to)}
}

// duringLease is an act of a overlapping the lease of b.
func duringLease(a, ca, b, cb string, from, to int) Violation {
	return Violation{Kind: ActOutsideExclusion, A: a, ClientA: ca, B: b, ClientB: cb, From: d(from), To: d(to)}
}

// duringAct is an act of a overlapping an act of b.
func duringAct(a, ca, b, cb string, from, to int) Violation {
	v := duringLease(a, ca, b, cb, from, to)
	v.AgainstAct = true
	return v
}

func outside(a, ca string, from, to int) Violation {
	return Violation{Kind: ActOutsideOwnLease, A: a, ClientA: ca, From: d(from), To: d(to)}
}

func malformed(a, ca string, from, to int, detail string) Violation {
	return Violation{Kind: Malformed, A: a, ClientA: ca, From: d(from), To: d(to), Detail: detail}
}

func TestCheckRejects(t *testing.T) {
	tests := []struct {
		name string
		h    History
		want []Violation
	}{{
		name: "two overlapping leases",
		h: History{Obtains: []Obtain{
			held("c1", "A", 1, 10),
			obtain("c2", "B", 4, 5, true, 15),
		}},
		want: []Violation{overlap("A", "c1", "B", "c2", 5, 10)},
	}, {
		name: "refresh extended A past B's start",
		h: History{
			Obtains:   []Obtain{held("c1", "A", 1, 10), obtain("c2", "B", 10, 12, true, 30)},
			Refreshes: []Refresh{refresh("A", 8, 9, true, 20)},
		},
		want: []Violation{overlap("A", "c1", "B", "c2", 12, 20)},
	}, {
		name: "paused client acts after its lease while B holds",
		h: History{
			Obtains: []Obtain{held("c1", "A", 1, 10), obtain("c2", "B", 9, 10, true, 20)},
			Acts:    []Act{act("A", 2, 3), act("A", 11, 13)},
		},
		want: []Violation{
			outside("A", "c1", 11, 13),
			duringLease("A", "c1", "B", "c2", 11, 13),
		},
	}, {
		name: "paused client acts across the end of its lease",
		h: History{
			Obtains: []Obtain{held("c1", "A", 1, 10), held("c2", "B", 10, 20)},
			Acts:    []Act{act("A", 8, 12)},
		},
		want: []Violation{
			outside("A", "c1", 10, 12),
			duringLease("A", "c1", "B", "c2", 10, 12),
		},
	}, {
		name: "instant act during another lease",
		h: History{
			Obtains: []Obtain{held("c1", "A", 1, 5), held("c2", "B", 6, 9)},
			Acts:    []Act{act("A", 7, 7)},
		},
		want: []Violation{
			outside("A", "c1", 7, 7),
			duringLease("A", "c1", "B", "c2", 7, 7),
		},
	}, {
		name: "instant act at the end of its own lease",
		h: History{
			Obtains: []Obtain{held("c1", "A", 1, 5), held("c2", "B", 5, 9)},
			Acts:    []Act{act("A", 5, 5)},
		},
		want: []Violation{
			outside("A", "c1", 5, 5),
			duringLease("A", "c1", "B", "c2", 5, 5),
		},
	}, {
		name: "failed refresh followed by an act",
		h: History{
			Obtains:   []Obtain{held("c1", "A", 1, 10)},
			Refreshes: []Refresh{refresh("A", 5, 6, false, 0)},
			Acts:      []Act{act("A", 2, 3), act("A", 4, 6), act("A", 7, 8)},
		},
		want: []Violation{
			outside("A", "c1", 5, 6),
			outside("A", "c1", 7, 8),
		},
	}, {
		name: "act in the gap of a lease refreshed after it ran out",
		h: History{
			Obtains:   []Obtain{held("c1", "A", 1, 5)},
			Refreshes: []Refresh{refresh("A", 4, 7, true, 12)},
			Acts:      []Act{act("A", 2, 10), act("A", 6, 6)},
		},
		want: []Violation{
			outside("A", "c1", 5, 7),
			outside("A", "c1", 6, 6),
		},
	}, {
		name: "act spanning several gaps",
		h: History{
			Obtains: []Obtain{held("c1", "A", 1, 3)},
			Refreshes: []Refresh{
				refresh("A", 2, 4, true, 6),
				refresh("A", 5, 8, true, 9),
			},
			Acts: []Act{act("A", 0, 12)},
		},
		want: []Violation{
			outside("A", "c1", 0, 1),
			outside("A", "c1", 3, 4),
			outside("A", "c1", 6, 8),
			outside("A", "c1", 9, 12),
		},
	}, {
		name: "acts overlapping while one holder is paused",
		h: History{
			Obtains: []Obtain{held("c1", "A", 1, 10), obtain("c2", "B", 9, 10, true, 20)},
			Acts:    []Act{act("A", 9, 12), act("B", 11, 15)},
		},
		want: []Violation{
			outside("A", "c1", 10, 12),
			duringLease("A", "c1", "B", "c2", 10, 12),
			duringAct("A", "c1", "B", "c2", 11, 12),
		},
	}, {
		name: "acts overlapping after both leases ran out",
		h: History{
			Obtains: []Obtain{held("c1", "A", 1, 5), held("c2", "B", 6, 9)},
			Acts:    []Act{act("B", 22, 30), act("A", 20, 25)},
		},
		want: []Violation{
			outside("A", "c1", 20, 25),
			outside("B", "c2", 22, 30),
			duringAct("A", "c1", "B", "c2", 22, 25),
		},
	}, {
		name: "act with no lock at all",
		h: History{
			Obtains: []Obtain{obtain("c1", "A", 0, 2, false, 0), held("c2", "B", 1, 10)},
			Acts:    []Act{act("A", 3, 4), act("Z", 12, 12)},
		},
		want: []Violation{
			outside("A", "c1", 3, 4),
			duringLease("A", "c1", "B", "c2", 3, 4),
			outside("Z", "", 12, 12),
		},
	}, {
		name: "three holders at once",
		h: History{Obtains: []Obtain{
			held("c3", "C", 4, 6),
			held("c1", "A", 0, 10),
			held("c2", "B", 2, 8),
		}},
		want: []Violation{
			overlap("A", "c1", "B", "c2", 2, 8),
			overlap("A", "c1", "C", "c3", 4, 6),
			overlap("B", "c2", "C", "c3", 4, 6),
		},
	}, {
		name: "A is the lease that starts first, whatever the IDs",
		h: History{Obtains: []Obtain{
			held("c1", "a", 5, 10),
			held("c2", "z", 1, 10),
		}},
		want: []Violation{overlap("z", "c2", "a", "c1", 5, 10)},
	}, {
		name: "equal starts: A is the smaller ID",
		h: History{Obtains: []Obtain{
			held("c2", "z", 1, 10),
			held("c1", "a", 1, 4),
		}},
		want: []Violation{overlap("a", "c1", "z", "c2", 1, 4)},
	}, {
		name: "two disjoint overlaps of the same pair",
		h: History{
			Obtains:   []Obtain{held("c1", "A", 1, 5), held("c2", "B", 3, 20)},
			Refreshes: []Refresh{refresh("A", 4, 7, true, 12)},
		},
		want: []Violation{
			overlap("B", "c2", "A", "c1", 7, 12),
			overlap("A", "c1", "B", "c2", 3, 5),
		},
	}, {
		name: "a lease refreshed into a neighbour's gap",
		h: History{
			Obtains:   []Obtain{held("c1", "A", 1, 5), held("c2", "B", 5, 8)},
			Refreshes: []Refresh{refresh("A", 4, 7, true, 12)},
		},
		// B's lease [5,8) starts before A's second interval [7,12).
		want: []Violation{overlap("B", "c2", "A", "c1", 7, 8)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := expectViolations(t, tt.h, tt.want...)
			if rep.OK() {
				t.Errorf("history accepted: %v", rep)
			}
		})
	}
}

func TestCheckAccepts(t *testing.T) {
	tests := []struct {
		name string
		h    History
	}{{
		name: "empty history",
	}, {
		name: "back-to-back leases touching at an endpoint",
		h: History{
			Obtains: []Obtain{
				held("c1", "A", 1, 10),
				obtain("c2", "B", 5, 10, true, 20),
				obtain("c3", "C", 12, 20, true, 30),
			},
			Acts: []Act{act("A", 1, 10), act("A", 9, 9), act("B", 10, 10), act("B", 10, 20), act("C", 20, 20)},
		},
	}, {
		name: "a release before the other's obtain returns",
		h: History{
			Obtains:  []Obtain{held("c1", "A", 1, 30), obtain("c2", "B", 3, 8, true, 40)},
			Releases: []Release{release("A", 8, 11)},
			Acts:     []Act{act("A", 2, 8), act("B", 8, 15)},
		},
	}, {
		name: "a lease cut short by release, then another lease",
		h: History{
			Obtains:  []Obtain{held("c1", "A", 1, 100), held("c2", "B", 7, 50)},
			Releases: []Release{release("A", 5, 6)},
			Acts:     []Act{act("A", 2, 5), act("B", 7, 50)},
		},
	}, {
		name: "a failed obtain never creates a lease",
		h: History{
			Obtains: []Obtain{
				obtain("c1", "A", 0, 5, false, 100),
				held("c2", "B", 2, 20),
				obtain("c3", "C", 1, 30, false, 0),
			},
			Releases: []Release{release("A", 5, 6)},
			Acts:     []Act{act("B", 2, 20)},
		},
	}, {
		name: "a refresh that shortened a lease so that it no longer overlaps",
		h: History{
			Obtains:   []Obtain{held("c1", "A", 1, 30), held("c2", "B", 9, 20)},
			Refreshes: []Refresh{refresh("A", 3, 4, true, 8)},
			Acts:      []Act{act("A", 2, 8), act("B", 9, 20)},
		},
	}, {
		name: "a refresh that shortened a lease to before its own return",
		h: History{
			Obtains:   []Obtain{held("c1", "A", 1, 30), held("c2", "B", 6, 20)},
			Refreshes: []Refresh{refresh("A", 3, 6, true, 5)},
			Acts:      []Act{act("A", 1, 6)},
		},
	}, {
		name: "refreshes that keep a lease going, then a release",
		h: History{
			Obtains: []Obtain{held("c1", "A", 1, 10), obtain("c2", "B", 20, 26, true, 40)},
			Refreshes: []Refresh{
				refresh("A", 8, 9, true, 20),
				refresh("A", 18, 19, true, 30),
			},
			Releases: []Release{release("A", 25, 26)},
			Acts:     []Act{act("A", 2, 25), act("B", 26, 40)},
		},
	}, {
		name: "another holder in the gap of a lease",
		h: History{
			Obtains:   []Obtain{held("c1", "A", 1, 5), held("c2", "B", 5, 7)},
			Refreshes: []Refresh{refresh("A", 4, 7, true, 12)},
			Acts:      []Act{act("A", 1, 5), act("B", 5, 7), act("A", 7, 12)},
		},
	}, {
		name: "a failed refresh ends the lease before the next holder",
		h: History{
			Obtains:   []Obtain{held("c1", "A", 1, 30), held("c2", "B", 12, 40)},
			Refreshes: []Refresh{refresh("A", 10, 15, false, 0)},
			Acts:      []Act{act("A", 2, 10), act("B", 12, 13)},
		},
	}, {
		name: "concurrent acts of one holder",
		h: History{
			Obtains: []Obtain{held("c1", "A", 1, 30)},
			Acts:    []Act{act("A", 2, 10), act("A", 3, 9), act("A", 3, 3)},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectViolations(t, tt.h)
		})
	}
}

func TestLeases(t *testing.T) {
	iv := func(from, to int) Interval { return Interval{d(from), d(to)} }
	tests := []struct {
		name string
		h    History
		want []Interval
	}{{
		name: "obtain only",
		h:    History{Obtains: []Obtain{held("c", "A", 1, 10)}},
		want: []Interval{iv(1, 10)},
	}, {
		name: "validity ran out before the obtain returned",
		h:    History{Obtains: []Obtain{obtain("c", "A", 0, 5, true, 5)}},
		want: nil,
	}, {
		name: "extension is one interval",
		h: History{
			Obtains:   []Obtain{held("c", "A", 1, 10)},
			Refreshes: []Refresh{refresh("A", 8, 9, true, 20), refresh("A", 15, 20, true, 25)},
		},
		want: []Interval{iv(1, 25)},
	}, {
		name: "refresh returning after the lease ran out leaves a gap",
		h: History{
			Obtains:   []Obtain{held("c", "A", 1, 5)},
			Refreshes: []Refresh{refresh("A", 4, 7, true, 12)},
		},
		want: []Interval{iv(1, 5), iv(7, 12)},
	}, {
		name: "shortening takes effect when the refresh returns",
		h: History{
			Obtains:   []Obtain{held("c", "A", 1, 30)},
			Refreshes: []Refresh{refresh("A", 3, 6, true, 5)},
		},
		want: []Interval{iv(1, 6)},
	}, {
		name: "failed refresh ends the lease at its call",
		h: History{
			Obtains:   []Obtain{held("c", "A", 1, 10)},
			Refreshes: []Refresh{refresh("A", 3, 4, false, 99)},
		},
		want: []Interval{iv(1, 3)},
	}, {
		name: "no successful refresh revives a lease after a failed one",
		h: History{
			Obtains:   []Obtain{held("c", "A", 1, 10)},
			Refreshes: []Refresh{refresh("A", 5, 6, true, 20), refresh("A", 3, 4, false, 0)},
		},
		want: []Interval{iv(1, 3)},
	}, {
		name: "failed refresh after the lease ran out",
		h: History{
			Obtains:   []Obtain{held("c", "A", 1, 5)},
			Refreshes: []Refresh{refresh("A", 7, 8, false, 0)},
		},
		want: []Interval{iv(1, 5)},
	}, {
		name: "release ends the lease at its call",
		h: History{
			Obtains:  []Obtain{held("c", "A", 1, 10)},
			Releases: []Release{release("A", 6, 7), release("A", 4, 5)},
		},
		want: []Interval{iv(1, 4)},
	}, {
		name: "release called before the obtain returned",
		h: History{
			Obtains:  []Obtain{held("c", "A", 1, 10)},
			Releases: []Release{release("A", 0, 2)},
		},
		want: nil,
	}, {
		name: "refreshes returning together: the last recorded wins",
		h: History{
			Obtains:   []Obtain{held("c", "A", 1, 10)},
			Refreshes: []Refresh{refresh("A", 4, 5, true, 20), refresh("A", 3, 5, true, 7)},
		},
		want: []Interval{iv(1, 7)},
	}, {
		name: "a refresh returning with the obtain wins over it",
		h: History{
			Obtains:   []Obtain{obtain("c", "A", 0, 5, true, 10)},
			Refreshes: []Refresh{refresh("A", 2, 5, true, 8)},
		},
		want: []Interval{iv(5, 8)},
	}, {
		name: "a refresh returning before the obtain is ignored",
		h: History{
			Obtains:   []Obtain{obtain("c", "A", 0, 5, true, 10)},
			Refreshes: []Refresh{refresh("A", 1, 2, true, 50)},
		},
		want: []Interval{iv(5, 10)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := Leases(tt.h)
			if len(ls) != 1 || ls[0].ID != "A" || ls[0].Client != "c" {
				t.Fatalf("Leases = %+v, want one lease of A by c", ls)
			}
			if !slices.Equal(ls[0].Valid, tt.want) {
				t.Errorf("lease = %v, want %v", ls[0].Valid, tt.want)
			}
		})
	}

	t.Run("many refreshes returning together: the last recorded wins", func(t *testing.T) {
		// Returns at 2, 3 and 4 interleaved; of those at 4 the last one
		// recorded (i = 47) sets the end.
		h := History{Obtains: []Obtain{held("c", "A", 1, 10)}}
		for i := range 50 {
			h.Refreshes = append(h.Refreshes, refresh("A", 1, 2+(i*7)%3, true, 100-i))
		}
		want := []Interval{{d(1), d(100 - 47)}}
		if got := Leases(h)[0].Valid; !slices.Equal(got, want) {
			t.Errorf("lease = %v, want %v", got, want)
		}
	})

	t.Run("only successful obtains, ordered by return then ID", func(t *testing.T) {
		h := History{Obtains: []Obtain{
			held("c1", "x", 5, 10),
			obtain("c2", "f", 0, 1, false, 10),
			held("c3", "b", 5, 10),
			held("c4", "y", 2, 3),
		}}
		var ids []string
		for _, l := range Leases(h) {
			ids = append(ids, l.ID)
		}
		if want := []string{"y", "b", "x"}; !slices.Equal(ids, want) {
			t.Errorf("Leases IDs = %v, want %v", ids, want)
		}
	})
}

func TestCheckMalformed(t *testing.T) {
	h := History{
		Obtains: []Obtain{
			obtain("c1", "A", 5, 4, true, 10),
			held("c2", "B", 1, 10),
			held("c2", "B", 20, 30),
			obtain("c3", "C", 0, 1, false, 0),
			obtain("c3", "C", 1, 2, false, 0),
		},
		Refreshes: []Refresh{
			refresh("Z", 1, 2, true, 3),
			refresh("B", 3, 2, false, 0),
		},
		Releases: []Release{release("Y", 4, 5), release("B", 9, 8), release("C", 2, 3)},
		Acts:     []Act{act("B", 5, 3), act("B", 2, 3), act("A", 5, 6)},
	}
	expectViolations(t, h,
		malformed("A", "c1", 5, 4, "obtain returned before its call"),
		malformed("B", "c2", 19, 20, "second successful obtain of the same ID"),
		malformed("Z", "", 1, 2, "refresh of a lock never obtained"),
		malformed("B", "c2", 3, 2, "refresh returned before its call"),
		malformed("Y", "", 4, 5, "release of a lock never obtained"),
		malformed("B", "c2", 9, 8, "release returned before its call"),
		malformed("B", "c2", 5, 3, "act ended before it started"),
		// The malformed obtain of A is ignored, so A holds nothing.
		outside("A", "c1", 5, 6),
		duringLease("A", "c1", "B", "c2", 5, 6),
	)
	if ls := Leases(h); len(ls) != 1 || !slices.Equal(ls[0].Valid, []Interval{{d(1), d(10)}}) {
		t.Errorf("Leases = %+v, want only B's first lease [1ms, 10ms)", ls)
	}
}

func TestCheckWrites(t *testing.T) {
	leases := []Obtain{held("c1", "A", 1, 10), held("c2", "B", 10, 20)}
	lost := func(a, ca, b, cb string, from, to int, detail string) Violation {
		return Violation{Kind: LostWrite, A: a, ClientA: ca, B: b, ClientB: cb, From: d(from), To: d(to), Detail: detail}
	}
	stale := func(a, ca string, at int, detail string) Violation {
		return Violation{Kind: StaleWriteAccepted, A: a, ClientA: ca, From: d(at), To: d(at), Detail: detail}
	}
	tests := []struct {
		name   string
		writes []Write
		want   []Violation
	}{{
		name: "fenced writes in order, stale write rejected",
		writes: []Write{
			write("A", 1, 2, true), write("A", 1, 9, true),
			write("B", 2, 12, true), write("A", 1, 13, false), write("B", 2, 14, true),
		},
	}, {
		name:   "two locks with one token: the second's write loses the first's",
		writes: []Write{write("A", 1, 2, true), write("B", 1, 12, true)},
		want:   []Violation{lost("B", "c2", "A", "c1", 2, 12, "token 1, already used by another lock, accepted after that lock's write")},
	}, {
		name:   "paused holder's write accepted before the next holder writes",
		writes: []Write{write("A", 1, 11, true), write("B", 2, 12, true)},
		want:   []Violation{stale("A", "c1", 11, "token 1")},
	}, {
		name:   "write exactly when the lease ends",
		writes: []Write{write("A", 1, 10, true)},
		want:   []Violation{stale("A", "c1", 10, "token 1")},
	}, {
		name:   "lower token accepted after a higher one",
		writes: []Write{write("B", 2, 12, true), write("A", 1, 13, true), write("A", 1, 14, true)},
		want: []Violation{
			lost("A", "c1", "B", "c2", 12, 13, "token 1 accepted after token 2"),
			stale("A", "c1", 13, "token 1"),
			lost("A", "c1", "B", "c2", 12, 14, "token 1 accepted after token 2"),
			stale("A", "c1", 14, "token 1"),
		},
	}, {
		name: "writes are ordered by At, then recording order",
		writes: []Write{
			write("B", 5, 15, true), write("B", 4, 15, true),
			write("B", 6, 16, true), write("B", 7, 14, true),
		},
		want: []Violation{
			lost("B", "c2", "B", "c2", 14, 15, "token 5 accepted after token 7"),
			lost("B", "c2", "B", "c2", 14, 15, "token 4 accepted after token 7"),
			lost("B", "c2", "B", "c2", 14, 16, "token 6 accepted after token 7"),
		},
	}, {
		name:   "equal tokens are fine",
		writes: []Write{write("B", 3, 12, true), write("B", 3, 13, true)},
	}, {
		name:   "write by a lock never obtained",
		writes: []Write{write("Z", 9, 3, true), write("Y", 1, 4, false)},
		want:   []Violation{stale("Z", "", 3, "token 9")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := expectViolations(t, History{Obtains: leases, Writes: tt.writes}, tt.want...)
			if rep.Writes != len(tt.writes) {
				t.Errorf("Writes = %d, want %d", rep.Writes, len(tt.writes))
			}
		})
	}
}

func TestReportCounts(t *testing.T) {
	h := History{
		Obtains:   []Obtain{held("c1", "A", 1, 10), obtain("c2", "B", 1, 2, false, 0), held("c3", "C", 3, 5)},
		Refreshes: []Refresh{refresh("A", 2, 3, true, 12)},
		Releases:  []Release{release("A", 4, 5), release("C", 4, 5)},
		Acts:      []Act{act("A", 2, 3), act("A", 5, 6), act("C", 3, 4)},
		Writes:    []Write{write("A", 1, 2, true)},
	}
	rep := Check(h)
	got := [...]int{rep.Obtains, rep.Leases, rep.Refreshes, rep.Releases, rep.Acts, rep.Writes}
	if want := [...]int{3, 2, 1, 2, 3, 1}; got != want {
		t.Errorf("counts = %v, want %v", got, want)
	}
	if h.Len() != 10 {
		t.Errorf("Len = %d, want 10", h.Len())
	}
	// A [1,4) and C [3,4) overlap; C's act at [3,4) is during A's lease;
	// A's act [5,6) is after its release.
	if n := rep.Count(LeaseOverlap); n != 1 {
		t.Errorf("Count(LeaseOverlap) = %d: %v", n, rep)
	}
	if n := rep.Count(ActOutsideExclusion); n != 1 {
		t.Errorf("Count(ActOutsideExclusion) = %d: %v", n, rep)
	}
	if !rep.Has(ActOutsideOwnLease) || rep.Has(LostWrite) || rep.Has(Malformed) {
		t.Errorf("Has: wrong kinds in %v", rep)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		v    Violation
		want string
	}{
		{overlap("A", "c1", "B", "c2", 5, 10),
			`lease overlap: lock "A" (client c1) and lock "B" (client c2) both valid during [5ms, 10ms)`},
		{duringLease("A", "c1", "B", "c2", 7, 7),
			`act outside exclusion: act of lock "A" (client c1) overlaps lease of lock "B" (client c2) at 7ms`},
		{duringAct("A", "c1", "B", "c2", 11, 12),
			`act outside exclusion: act of lock "A" (client c1) overlaps act of lock "B" (client c2) during [11ms, 12ms)`},
		{outside("Z", "", 3, 4),
			`act outside own lease: act of lock "Z" (client ?) during [3ms, 4ms) while its lease was not valid`},
		{Violation{Kind: LostWrite, A: "A", ClientA: "c1", B: "B", ClientB: "c2", From: d(12), To: d(13), Detail: "token 1 accepted after token 2"},
			`lost write: write of lock "A" (client c1) accepted at 13ms after write of lock "B" (client c2) accepted at 12ms: token 1 accepted after token 2`},
		{Violation{Kind: StaleWriteAccepted, A: "A", ClientA: "c1", From: d(11), To: d(11), Detail: "token 1"},
			`stale write accepted: write of lock "A" (client c1) accepted at 11ms while its lease was not valid: token 1`},
		{malformed("Z", "", 1, 2, "refresh of a lock never obtained"),
			`malformed history: lock "Z" (client ?) during [1ms, 2ms): refresh of a lock never obtained`},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("String() =\n\t%s\nwant\n\t%s", got, tt.want)
		}
	}
	if got := Kind(0).String(); got != "Kind(0)" {
		t.Errorf("Kind(0).String() = %q", got)
	}

	if got, want := Check(History{}).String(), "history: 0 obtains (0 leases), 0 refreshes, 0 releases, 0 acts, 0 writes: no violations"; got != want {
		t.Errorf("Report.String() = %q, want %q", got, want)
	}
	var h History
	for i := range 25 {
		h.Acts = append(h.Acts, act(fmt.Sprint("L", i), i, i+1))
	}
	s := Check(h).String()
	lines := strings.Split(s, "\n")
	if len(lines) != 1+maxListed+1 || !strings.Contains(lines[0], "25 violations") ||
		lines[len(lines)-1] != "\t... and 5 more" || !strings.HasPrefix(lines[1], "\tact outside own lease") {
		t.Errorf("Report.String() =\n%s", s)
	}
}
