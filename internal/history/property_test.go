package history

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// This file checks Check and Leases against a brute-force reference on many
// small random histories. The reference shares no code with the checker: it
// evaluates the model's pointwise definition of a lease at every instant and
// compares all pairs.
//
// Random histories use whole nanoseconds in [0, refSpan). Every boundary is
// then a whole time, so validity is constant on each [t, t+1); the reference
// splits each such unit into two cells, 2t (holding the instant t) and 2t+1,
// so that an act with Start == End (the instant t) is the single cell 2t and
// an interval [s, e) is the cells 2s .. 2e-1.

const refSpan = 40

// refValid reports whether, by the model's definition, lock id is valid at
// time t in h.
func refValid(h History, id string, t time.Duration) bool {
	var o *Obtain
	for i := range h.Obtains {
		x := &h.Obtains[i]
		if x.ID == id && x.OK && x.Ret >= x.Call {
			o = x
			break
		}
	}
	if o == nil || t < o.Ret {
		return false
	}
	at, until := o.Ret, o.ValidUntil
	for _, r := range h.Refreshes {
		if r.ID != id || r.Ret < r.Call {
			continue
		}
		if !r.OK && r.Call <= t {
			return false
		}
		if r.OK && r.Ret <= t && r.Ret >= at {
			at, until = r.Ret, r.ValidUntil
		}
	}
	for _, r := range h.Releases {
		if r.ID == id && r.Ret >= r.Call && r.Call <= t {
			return false
		}
	}
	return t < until
}

// cells returns the cells of [from, to), or of the instant from if to == from.
func cells(from, to time.Duration) (lo, hi int) {
	if to == from {
		return 2 * int(from), 2*int(from) + 1
	}
	return 2 * int(from), 2 * int(to)
}

// runs returns the maximal runs of cells c in [lo, hi) with in(c), as
// [From, To) times.
func runs(lo, hi int, in func(c int) bool) []Interval {
	var out []Interval
	for c := lo; c < hi; {
		if !in(c) {
			c++
			continue
		}
		e := c
		for e < hi && in(e) {
			e++
		}
		out = append(out, Interval{time.Duration(c / 2), time.Duration(e / 2)})
		c = e
	}
	return out
}

// refCheck is the brute-force reference for Check.
func refCheck(h History) []Violation {
	client := map[string]string{}
	known := map[string]bool{}
	leased := map[string]bool{}
	var ids []string
	for _, o := range h.Obtains {
		known[o.ID] = true
		if client[o.ID] == "" {
			client[o.ID] = o.Client
		}
		if o.OK && o.Ret >= o.Call && !leased[o.ID] {
			leased[o.ID] = true
			client[o.ID] = o.Client
			ids = append(ids, o.ID)
		}
	}
	var out []Violation
	add := func(v Violation) {
		v.ClientA, v.ClientB = client[v.A], client[v.B]
		out = append(out, v)
	}
	bad := func(id string, from, to time.Duration, detail string) {
		add(Violation{Kind: Malformed, A: id, From: from, To: to, Detail: detail})
	}

	// Malformed events.
	firstOK := map[string]int{}
	for i, o := range h.Obtains {
		if o.Ret < o.Call {
			bad(o.ID, o.Call, o.Ret, "obtain returned before its call")
		} else if o.OK {
			if _, dup := firstOK[o.ID]; dup {
				bad(o.ID, o.Call, o.Ret, "second successful obtain of the same ID")
			} else {
				firstOK[o.ID] = i
			}
		}
	}
	for _, r := range h.Refreshes {
		if r.Ret < r.Call {
			bad(r.ID, r.Call, r.Ret, "refresh returned before its call")
		} else if !known[r.ID] {
			bad(r.ID, r.Call, r.Ret, "refresh of a lock never obtained")
		}
	}
	for _, r := range h.Releases {
		if r.Ret < r.Call {
			bad(r.ID, r.Call, r.Ret, "release returned before its call")
		} else if !known[r.ID] {
			bad(r.ID, r.Call, r.Ret, "release of a lock never obtained")
		}
	}
	var acts []Act
	for _, x := range h.Acts {
		if x.End < x.Start {
			bad(x.ID, x.Start, x.End, "act ended before it started")
		} else {
			acts = append(acts, x)
		}
	}

	valid := func(id string, c int) bool { return refValid(h, id, time.Duration(c/2)) }
	// leaseStart is where the lease interval of id containing cell c starts.
	leaseStart := func(id string, c int) int {
		for c > 0 && valid(id, c-1) {
			c--
		}
		return c
	}
	// ordered puts first the item starting first (equal starts: smaller ID).
	ordered := func(v Violation, startA, startB int) Violation {
		if startB < startA || startB == startA && v.B < v.A {
			v.A, v.B = v.B, v.A
		}
		return v
	}
	lastCell := 2 * (horizon(h) + 1)

	// Every pair of leases.
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			for _, r := range runs(0, lastCell, func(c int) bool { return valid(a, c) && valid(b, c) }) {
				c := 2 * int(r.From)
				add(ordered(Violation{Kind: LeaseOverlap, A: a, B: b, From: r.From, To: r.To},
					leaseStart(a, c), leaseStart(b, c)))
			}
		}
	}
	for i, x := range acts {
		lo, hi := cells(x.Start, x.End)
		// Every act against every other lock's lease, and its own.
		for _, b := range ids {
			if b == x.ID {
				continue
			}
			for _, r := range runs(lo, hi, func(c int) bool { return valid(b, c) }) {
				add(Violation{Kind: ActOutsideExclusion, A: x.ID, B: b, From: r.From, To: r.To})
			}
		}
		for _, r := range runs(lo, hi, func(c int) bool { return !valid(x.ID, c) }) {
			add(Violation{Kind: ActOutsideOwnLease, A: x.ID, From: r.From, To: r.To})
		}
		// Every pair of acts.
		for _, y := range acts[i+1:] {
			if y.ID == x.ID {
				continue
			}
			ylo, yhi := cells(y.Start, y.End)
			for _, r := range runs(max(lo, ylo), min(hi, yhi), func(int) bool { return true }) {
				add(ordered(Violation{Kind: ActOutsideExclusion, AgainstAct: true, A: x.ID, B: y.ID, From: r.From, To: r.To},
					lo, ylo))
			}
		}
	}

	// Writes: compare each accepted write with all accepted writes before it.
	before := func(i, j int) bool { // write j is ordered before write i
		wi, wj := h.Writes[i], h.Writes[j]
		return wj.At < wi.At || wj.At == wi.At && j < i
	}
	for i, w := range h.Writes {
		if !w.Accepted {
			continue
		}
		best := -1
		for j, p := range h.Writes {
			if !p.Accepted || !before(i, j) {
				continue
			}
			if best < 0 || p.Token > h.Writes[best].Token ||
				p.Token == h.Writes[best].Token && before(j, best) { // the latest of the highest token
				best = j
			}
		}
		if b := h.Writes[max(best, 0)]; best >= 0 && (w.Token < b.Token || w.Token == b.Token && w.ID != b.ID) {
			detail := fmt.Sprintf("token %d accepted after token %d", w.Token, b.Token)
			if w.Token == b.Token {
				detail = fmt.Sprintf("token %d, already used by another lock, accepted after that lock's write", w.Token)
			}
			add(Violation{Kind: LostWrite, A: w.ID, B: b.ID, From: b.At, To: w.At, Detail: detail})
		}
		if !refValid(h, w.ID, w.At) {
			add(Violation{Kind: StaleWriteAccepted, A: w.ID, From: w.At, To: w.At,
				Detail: fmt.Sprintf("token %d", w.Token)})
		}
	}
	return out
}

// horizon returns a time after every time in h (which must be >= -1).
func horizon(h History) int {
	m := time.Duration(0)
	for _, o := range h.Obtains {
		m = max(m, o.Call, o.Ret, o.ValidUntil)
	}
	for _, x := range h.Refreshes {
		m = max(m, x.Call, x.Ret, x.ValidUntil)
	}
	for _, x := range h.Releases {
		m = max(m, x.Call, x.Ret)
	}
	for _, x := range h.Acts {
		m = max(m, x.Start, x.End)
	}
	for _, x := range h.Writes {
		m = max(m, x.At)
	}
	return int(m) + 1
}

// randHistory returns a small random history over a few locks: half the
// time chaotic, half the time a plausible schedule of holders taking turns.
func randHistory(r *rand.Rand) History {
	if r.IntN(2) == 0 {
		return randChaotic(r)
	}
	return randOrderly(r)
}

// randOrderly returns a schedule of holders taking turns, each acting
// mostly inside its lease, with refreshes and releases, and with near
// misses: the next holder sometimes starts one unit early, acts sometimes
// start early or spill over, refreshes sometimes return late or fail.
func randOrderly(r *rand.Rand) History {
	var h History
	dur := func(n int) time.Duration { return time.Duration(r.IntN(n)) }
	maybe := func(n int) bool { return r.IntN(n) == 0 }
	t := dur(5)
	for i := range 1 + r.IntN(5) {
		id := string(rune('A' + i))
		call := t
		ret := call + dur(3)
		ok := !maybe(8)
		until := ret + 1 + dur(8)
		h.Obtains = append(h.Obtains, Obtain{Client: "c" + id, ID: id, Call: call, Ret: ret, OK: ok, ValidUntil: until})
		if !ok {
			t = ret + dur(2)
			continue
		}
		end := until
		for range r.IntN(3) {
			rc := ret + dur(int(end-ret)+1)
			rr := rc + dur(2)
			if maybe(4) {
				rr += dur(4) // may return after the lease ran out
			}
			rok := !maybe(5)
			nu := rr + dur(8) - 1
			h.Refreshes = append(h.Refreshes, Refresh{ID: id, Call: rc, Ret: rr, OK: rok, ValidUntil: nu})
			switch {
			case !rok:
				end = min(end, rc)
			case rr > end:
				end = nu // after a gap
			default:
				end = max(rr, nu)
			}
		}
		if maybe(3) && end > ret {
			rel := ret + dur(int(end-ret))
			h.Releases = append(h.Releases, Release{ID: id, Call: rel, Ret: rel + dur(3)})
			end = rel
		}
		for range r.IntN(4) {
			s := ret + dur(int(end-ret)+1)
			e := s + dur(int(end-s)+1)
			switch {
			case maybe(8):
				e += dur(3)
			case maybe(8):
				s -= dur(3)
			}
			h.Acts = append(h.Acts, Act{ID: id, Start: max(s, 0), End: e})
		}
		for range r.IntN(2) {
			h.Writes = append(h.Writes, Write{ID: id, Token: uint64(i + r.IntN(2)), At: ret + dur(int(end-ret)+1), Accepted: !maybe(4)})
		}
		t = max(end, ret) + dur(3)
		if maybe(6) {
			t -= 1 + dur(3)
		}
		t = max(t, 0)
	}
	r.Shuffle(len(h.Acts), func(i, j int) { h.Acts[i], h.Acts[j] = h.Acts[j], h.Acts[i] })
	r.Shuffle(len(h.Writes), func(i, j int) { h.Writes[i], h.Writes[j] = h.Writes[j], h.Writes[i] })
	return h
}

// randChaotic returns a small random history over a few locks, with many
// coinciding times, touching intervals, gaps, and some malformed events.
func randChaotic(r *rand.Rand) History {
	var h History
	tm := func() time.Duration { return time.Duration(r.IntN(refSpan - 10)) }
	dur := func(n int) time.Duration { return time.Duration(r.IntN(n)) }
	nLocks := 1 + r.IntN(4)
	ids := make([]string, 0, nLocks+1)
	for i := range nLocks {
		id := string(rune('A' + i))
		ids = append(ids, id)
		for range 1 + r.IntN(4)/3 { // sometimes a second obtain of the ID
			call := tm()
			ret := call + dur(4)
			if r.IntN(20) == 0 {
				ret = call - 1
			}
			h.Obtains = append(h.Obtains, Obtain{
				Client: "c" + id, ID: id, Call: call, Ret: ret,
				OK: r.IntN(5) != 0, ValidUntil: ret + dur(15) - 3,
			})
		}
	}
	if r.IntN(10) == 0 {
		ids = append(ids, "Z") // never obtained
	}
	pick := func() string { return ids[r.IntN(len(ids))] }
	for range r.IntN(3 * nLocks) {
		call := tm()
		ret := call + dur(5)
		if r.IntN(20) == 0 {
			ret = call - 1
		}
		h.Refreshes = append(h.Refreshes, Refresh{
			ID: pick(), Call: call, Ret: ret, OK: r.IntN(4) != 0, ValidUntil: ret + dur(12) - 3,
		})
	}
	for range r.IntN(nLocks + 1) {
		call := tm()
		ret := call + dur(3)
		if r.IntN(20) == 0 {
			ret = call - 1
		}
		h.Releases = append(h.Releases, Release{ID: pick(), Call: call, Ret: ret})
	}
	for range r.IntN(4 * nLocks) {
		start := tm()
		end := start + dur(6) // 1 in 6 is an instant
		if r.IntN(20) == 0 {
			end = start - 1
		}
		h.Acts = append(h.Acts, Act{ID: pick(), Start: start, End: end})
	}
	for range r.IntN(6) {
		h.Writes = append(h.Writes, Write{
			ID: pick(), Token: uint64(r.IntN(5)), At: tm(), Accepted: r.IntN(4) != 0,
		})
	}
	return h
}

func formatHistory(h History) string {
	var b strings.Builder
	for _, o := range h.Obtains {
		fmt.Fprintf(&b, "\n\tobtain  %+v", o)
	}
	for _, r := range h.Refreshes {
		fmt.Fprintf(&b, "\n\trefresh %+v", r)
	}
	for _, r := range h.Releases {
		fmt.Fprintf(&b, "\n\trelease %+v", r)
	}
	for _, x := range h.Acts {
		fmt.Fprintf(&b, "\n\tact     %+v", x)
	}
	for _, w := range h.Writes {
		fmt.Fprintf(&b, "\n\twrite   %+v", w)
	}
	return b.String()
}

// propertySeed is the base seed of TestCheckMatchesReference; history i uses
// seed propertySeed+i, printed on failure.
const propertySeed = 0x5eed_2026

func TestCheckMatchesReference(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	kinds := map[Kind]int{}
	failures, clean := 0, 0
	for i := range n {
		seed := uint64(propertySeed + i)
		h := randHistory(rand.New(rand.NewPCG(seed, seed)))
		got, want := Check(h).Violations, refCheck(h)
		for _, v := range want {
			kinds[v.Kind]++
		}
		if len(want) == 0 {
			clean++
		}
		diff := diffViolations(got, want)
		if diff == "" {
			diff = diffLeases(h)
		}
		if diff != "" {
			t.Errorf("seed %#x: history:%s\n%s", seed, formatHistory(h), diff)
			if failures++; failures == 3 {
				t.FailNow()
			}
		}
	}
	// The generator must exercise every kind, and histories to accept.
	for k := LeaseOverlap; k <= Malformed; k++ {
		if kinds[k] < n/100 {
			t.Errorf("only %d violations of kind %v in %d histories", kinds[k], k, n)
		}
	}
	if clean < n/20 {
		t.Errorf("only %d of %d histories without violations", clean, n)
	}
	t.Logf("%d of %d histories without violations; violations by kind: %v", clean, n, kinds)
}

// diffLeases compares Leases(h) with refValid at every time in range.
func diffLeases(h History) string {
	got := map[string][]Interval{}
	for _, l := range Leases(h) {
		got[l.ID] = l.Valid
	}
	for _, o := range h.Obtains {
		want := runs(0, 2*(horizon(h)+1), func(c int) bool { return refValid(h, o.ID, time.Duration(c/2)) })
		if !slices.Equal(got[o.ID], want) {
			return fmt.Sprintf("lease of %s: got %v, want %v", o.ID, got[o.ID], want)
		}
	}
	return ""
}
