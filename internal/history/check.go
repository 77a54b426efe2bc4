package history

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is the kind of a Violation.
type Kind int

const (
	// LeaseOverlap: the leases of two different locks intersect, so two
	// holders were valid at the same moment.
	LeaseOverlap Kind = iota + 1
	// ActOutsideExclusion: an act of lock A overlaps the lease of another
	// lock B (AgainstAct false) or an act of B (AgainstAct true).
	ActOutsideExclusion
	// ActOutsideOwnLease: part of an act of lock A lies outside A's own
	// lease. Weaker than ActOutsideExclusion: a paused client produces it
	// even if nobody else held the lock.
	ActOutsideOwnLease
	// LostWrite: the fenced store accepted a write whose token is lower than
	// that of a write it had accepted before (store misbehaviour): the
	// newer data of B's write is overwritten by A's stale write.
	LostWrite
	// StaleWriteAccepted: the fenced store accepted a write of lock A at a
	// moment outside A's lease. Fencing allows this when no newer token has
	// reached the store yet (a paused holder writing after its lease ended),
	// so it is a weak finding; inside the safety model it never happens.
	StaleWriteAccepted
	// Malformed: an event inconsistent with the model (a bug in the test
	// harness rather than in the lock); Detail says what. The event is
	// otherwise ignored.
	Malformed
)

// String returns a short lower-case name of k.
func (k Kind) String() string {
	switch k {
	case LeaseOverlap:
		return "lease overlap"
	case ActOutsideExclusion:
		return "act outside exclusion"
	case ActOutsideOwnLease:
		return "act outside own lease"
	case LostWrite:
		return "lost write"
	case StaleWriteAccepted:
		return "stale write accepted"
	case Malformed:
		return "malformed history"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Violation is one finding of Check.
type Violation struct {
	Kind Kind
	// A is the lock at fault: the act's or write's lock, or for
	// LeaseOverlap the lock whose overlapping lease interval starts first
	// (equal starts: the smaller ID). For an ActOutsideExclusion between
	// two acts, the act that starts first (equal starts: the smaller ID).
	A       string
	ClientA string
	// B is the other lock involved; empty for ActOutsideOwnLease,
	// StaleWriteAccepted and Malformed. For LostWrite, the lock whose
	// higher-token write was overwritten.
	B       string
	ClientB string
	// AgainstAct tells, for ActOutsideExclusion, that A's act overlaps an
	// act of B rather than B's lease.
	AgainstAct bool
	// From and To delimit the offending interval [From, To): the overlap
	// for LeaseOverlap and ActOutsideExclusion, the uncovered part of the
	// act for ActOutsideOwnLease. From == To is the single instant From
	// (an act with Start == End, a write's At). For LostWrite, From is when
	// B's write was accepted and To when A's was; for Malformed, the
	// event's call and return.
	From, To time.Duration
	// Detail adds facts not in the other fields (tokens, what is malformed).
	Detail string
}

// String describes v in one line.
func (v Violation) String() string {
	a := lockName(v.A, v.ClientA)
	b := lockName(v.B, v.ClientB)
	when := interval(v.From, v.To)
	var s string
	switch v.Kind {
	case LeaseOverlap:
		s = fmt.Sprintf("%s and %s both valid %s", a, b, when)
	case ActOutsideExclusion:
		other := "lease"
		if v.AgainstAct {
			other = "act"
		}
		s = fmt.Sprintf("act of %s overlaps %s of %s %s", a, other, b, when)
	case ActOutsideOwnLease:
		s = fmt.Sprintf("act of %s %s while its lease was not valid", a, when)
	case LostWrite:
		s = fmt.Sprintf("write of %s accepted at %v after write of %s accepted at %v", a, v.To, b, v.From)
	case StaleWriteAccepted:
		s = fmt.Sprintf("write of %s accepted at %v while its lease was not valid", a, v.From)
	default:
		s = fmt.Sprintf("%s %s", a, interval(v.From, v.To))
	}
	if v.Detail != "" {
		s += ": " + v.Detail
	}
	return v.Kind.String() + ": " + s
}

func lockName(id, client string) string {
	if client == "" {
		client = "?"
	}
	return fmt.Sprintf("lock %q (client %s)", id, client)
}

func interval(from, to time.Duration) string {
	if from == to {
		return fmt.Sprintf("at %v", from)
	}
	return fmt.Sprintf("during [%v, %v)", from, to)
}

// compareViolations orders violations by time, then by every other field.
func compareViolations(x, y Violation) int {
	return cmp.Or(
		cmp.Compare(x.From, y.From),
		cmp.Compare(x.To, y.To),
		cmp.Compare(x.Kind, y.Kind),
		strings.Compare(x.A, y.A),
		strings.Compare(x.B, y.B),
		compareBool(x.AgainstAct, y.AgainstAct),
		strings.Compare(x.ClientA, y.ClientA),
		strings.Compare(x.ClientB, y.ClientB),
		strings.Compare(x.Detail, y.Detail),
	)
}

func compareBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case !x:
		return -1
	}
	return 1
}

// Report is the result of Check.
type Report struct {
	// Event counts of the history checked.
	Obtains, Refreshes, Releases, Acts, Writes int
	// Leases is the number of locks with a successful obtain.
	Leases int
	// Violations, ordered by From, then To, Kind and the other fields.
	Violations []Violation
}

// OK reports whether no violation of any kind was found.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// Count returns the number of violations of kind k.
func (r Report) Count(k Kind) int {
	n := 0
	for _, v := range r.Violations {
		if v.Kind == k {
			n++
		}
	}
	return n
}

// Has reports whether there is at least one violation of kind k.
func (r Report) Has(k Kind) bool { return r.Count(k) > 0 }

// maxListed bounds how many violations Report.String lists.
const maxListed = 20

// String summarises r: the counts, then up to 20 violations, one per line.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "history: %d obtains (%d leases), %d refreshes, %d releases, %d acts, %d writes: ",
		r.Obtains, r.Leases, r.Refreshes, r.Releases, r.Acts, r.Writes)
	if r.OK() {
		b.WriteString("no violations")
		return b.String()
	}
	fmt.Fprintf(&b, "%d violations", len(r.Violations))
	for i, v := range r.Violations {
		if i == maxListed {
			fmt.Fprintf(&b, "\n\t... and %d more", len(r.Violations)-maxListed)
			break
		}
		b.WriteString("\n\t")
		b.WriteString(v.String())
	}
	return b.String()
}

// Interval is the half-open time interval [From, To).
type Interval struct {
	From, To time.Duration
}

// Lease is the lease of one lock: the moments its holder believed it was
// valid, as disjoint, non-adjacent intervals in increasing order (none if
// the obtain returned at or after its validity ran out).
type Lease struct {
	ID     string
	Client string
	Valid  []Interval
}

// Leases returns the lease of every lock with a successful obtain in h,
// ordered by the obtain's return, then ID. See the package doc for the model.
func Leases(h History) []Lease {
	a := analyse(h)
	out := make([]Lease, 0, len(a.leases))
	for _, l := range a.leases {
		out = append(out, Lease{ID: l.id, Client: l.client, Valid: slices.Clone(l.valid)})
	}
	slices.SortFunc(out, func(x, y Lease) int {
		return cmp.Or(cmp.Compare(a.leases[x.ID].start, a.leases[y.ID].start), strings.Compare(x.ID, y.ID))
	})
	return out
}

// Check decides from h alone whether mutual exclusion was broken, and
// reports every violation found; see the package doc for the model.
func Check(h History) Report {
	a := analyse(h)
	rep := Report{
		Obtains:    len(h.Obtains),
		Refreshes:  len(h.Refreshes),
		Releases:   len(h.Releases),
		Acts:       len(h.Acts),
		Writes:     len(h.Writes),
		Leases:     len(a.leases),
		Violations: a.violations,
	}
	rep.Violations = append(rep.Violations, a.sweep(h)...)
	rep.Violations = append(rep.Violations, a.ownLease(h)...)
	rep.Violations = append(rep.Violations, a.writes(h)...)
	slices.SortFunc(rep.Violations, compareViolations)
	return rep
}

// lease is the analysed lease of one lock.
type lease struct {
	id, client string
	start      time.Duration // the obtain's Ret
	valid      []Interval
}

// analysis is what Check derives from a history before looking for
// violations.
type analysis struct {
	clients    map[string]string // lock ID -> client, for every ID obtained
	leases     map[string]*lease // lock ID -> lease, for successful obtains
	actOK      []bool            // well-formed acts
	violations []Violation       // Malformed so far
}

func (a *analysis) malformed(id string, from, to time.Duration, detail string) {
	a.violations = append(a.violations, Violation{
		Kind: Malformed, A: id, ClientA: a.clients[id], From: from, To: to, Detail: detail,
	})
}

func analyse(h History) *analysis {
	a := &analysis{clients: make(map[string]string), leases: make(map[string]*lease)}
	obtained := make(map[string]Obtain)
	for _, o := range h.Obtains {
		if c, seen := a.clients[o.ID]; !seen || c == "" {
			a.clients[o.ID] = o.Client
		}
	}
	for _, o := range h.Obtains {
		switch {
		case o.Ret < o.Call:
			a.malformed(o.ID, o.Call, o.Ret, "obtain returned before its call")
		case !o.OK:
		case hasKey(obtained, o.ID):
			a.malformed(o.ID, o.Call, o.Ret, "second successful obtain of the same ID")
		default:
			obtained[o.ID] = o
			a.clients[o.ID] = o.Client
		}
	}

	refreshes := make(map[string][]Refresh)
	for _, r := range h.Refreshes {
		switch {
		case r.Ret < r.Call:
			a.malformed(r.ID, r.Call, r.Ret, "refresh returned before its call")
		case !hasKey(a.clients, r.ID):
			a.malformed(r.ID, r.Call, r.Ret, "refresh of a lock never obtained")
		default:
			refreshes[r.ID] = append(refreshes[r.ID], r)
		}
	}
	releases := make(map[string][]Release)
	for _, r := range h.Releases {
		switch {
		case r.Ret < r.Call:
			a.malformed(r.ID, r.Call, r.Ret, "release returned before its call")
		case !hasKey(a.clients, r.ID):
			a.malformed(r.ID, r.Call, r.Ret, "release of a lock never obtained")
		default:
			releases[r.ID] = append(releases[r.ID], r)
		}
	}
	a.actOK = make([]bool, len(h.Acts))
	for i, x := range h.Acts {
		if x.End < x.Start {
			a.malformed(x.ID, x.Start, x.End, "act ended before it started")
			continue
		}
		a.actOK[i] = true
	}

	for id, o := range obtained {
		a.leases[id] = &lease{
			id: id, client: o.Client, start: o.Ret,
			valid: leaseIntervals(o, refreshes[id], releases[id]),
		}
	}
	return a
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// leaseIntervals computes the lease of the lock obtained by o, given its
// well-formed refreshes and releases in recording order.
func leaseIntervals(o Obtain, refs []Refresh, rels []Release) []Interval {
	// The lease ends for good at the first failed refresh or release call.
	var end time.Duration
	ended := false
	stop := func(t time.Duration) {
		if !ended || t < end {
			end, ended = t, true
		}
	}
	// Validity updates: at time at, the holder learns it is valid until
	// until. Updates before the obtain returned are superseded by it.
	type update struct{ at, until time.Duration }
	ups := []update{{o.Ret, o.ValidUntil}}
	for _, r := range refs {
		switch {
		case !r.OK:
			stop(r.Call)
		case r.Ret >= o.Ret:
			ups = append(ups, update{r.Ret, r.ValidUntil})
		}
	}
	for _, r := range rels {
		stop(r.Call)
	}
	// Stable: the obtain stays first among equal times, refreshes keep
	// their recording order, so the last one recorded wins.
	slices.SortStableFunc(ups, func(x, y update) int { return cmp.Compare(x.at, y.at) })

	var out []Interval
	for i, u := range ups {
		hi := u.until
		if i+1 < len(ups) && ups[i+1].at < hi {
			hi = ups[i+1].at
		}
		if ended && end < hi {
			hi = end
		}
		if hi <= u.at {
			continue
		}
		if n := len(out); n > 0 && out[n-1].To == u.at {
			out[n-1].To = hi
		} else {
			out = append(out, Interval{u.at, hi})
		}
	}
	return out
}

// instant is a point of the time line refined by one infinitesimal step:
// {t, false} is t itself and {t, true} comes just after it, before any later
// time. It lets an instant t be handled as the half-open span
// [{t,false}, {t,true}), which meets [a, b) exactly when a <= t < b.
type instant struct {
	t     time.Duration
	after bool
}

func compareInstant(x, y instant) int {
	return cmp.Or(cmp.Compare(x.t, y.t), compareBool(x.after, y.after))
}

// span is the half-open, non-empty [lo, hi).
type span struct{ lo, hi instant }

// spanOf is [from, to) if to > from and the instant from if to == from.
func spanOf(from, to time.Duration) span {
	return span{instant{from, false}, instant{to, to == from}}
}

// item is a lease interval (act < 0) or an act (index into History.Acts),
// as swept by Check.
type item struct {
	sp  span
	id  string
	act int
}

// sweep finds LeaseOverlap and ActOutsideExclusion: every pair of
// overlapping items of different locks. Items are visited by start; the
// active set holds the items still running at the current start, so each
// overlapping pair is met exactly once, when its later-starting item is
// visited.
func (a *analysis) sweep(h History) []Violation {
	var items []item
	for _, l := range a.leases {
		for _, v := range l.valid {
			items = append(items, item{sp: spanOf(v.From, v.To), id: l.id, act: -1})
		}
	}
	for i, x := range h.Acts {
		if a.actOK[i] {
			items = append(items, item{sp: spanOf(x.Start, x.End), id: x.ID, act: i})
		}
	}
	slices.SortFunc(items, func(x, y item) int {
		return cmp.Or(
			compareInstant(x.sp.lo, y.sp.lo),
			strings.Compare(x.id, y.id),
			cmp.Compare(x.act, y.act),
			compareInstant(x.sp.hi, y.sp.hi),
		)
	})

	var out []Violation
	active := endHeap{}
	for i := range items {
		x := &items[i]
		for len(active) > 0 && compareInstant(active[0].sp.hi, x.sp.lo) <= 0 {
			active.pop()
		}
		for _, y := range active {
			if y.id == x.id {
				continue
			}
			// y.lo <= x.lo < min(x.hi, y.hi): they overlap on [x.lo, min hi).
			hi := x.sp.hi
			if compareInstant(y.sp.hi, hi) < 0 {
				hi = y.sp.hi
			}
			v := Violation{From: x.sp.lo.t, To: hi.t}
			first, second := y, x
			switch {
			case y.act < 0 && x.act < 0:
				v.Kind = LeaseOverlap
			case y.act >= 0 && x.act >= 0:
				v.Kind, v.AgainstAct = ActOutsideExclusion, true
			case y.act < 0: // x is the act
				v.Kind = ActOutsideExclusion
				first, second = x, y
			default:
				v.Kind = ActOutsideExclusion
			}
			v.A, v.ClientA = first.id, a.clients[first.id]
			v.B, v.ClientB = second.id, a.clients[second.id]
			out = append(out, v)
		}
		active.push(x)
	}
	return out
}

// endHeap is a min-heap of items by end.
type endHeap []*item

func (h *endHeap) push(x *item) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if compareInstant(s[p].sp.hi, s[i].sp.hi) <= 0 {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *endHeap) pop() {
	s := *h
	n := len(s) - 1
	s[0] = s[n]
	s[n] = nil
	s = s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && compareInstant(s[l].sp.hi, s[m].sp.hi) < 0 {
			m = l
		}
		if r := l + 1; r < n && compareInstant(s[r].sp.hi, s[m].sp.hi) < 0 {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
}

// ownLease finds ActOutsideOwnLease: each maximal part of an act outside
// its own lock's lease.
func (a *analysis) ownLease(h History) []Violation {
	var out []Violation
	for i, x := range h.Acts {
		if !a.actOK[i] {
			continue
		}
		var valid []Interval
		if l := a.leases[x.ID]; l != nil {
			valid = l.valid
		}
		sp := spanOf(x.Start, x.End)
		report := func(lo, hi instant) {
			out = append(out, Violation{
				Kind: ActOutsideOwnLease, A: x.ID, ClientA: a.clients[x.ID], From: lo.t, To: hi.t,
			})
		}
		cur := sp.lo
		for j := firstEndingAfter(valid, x.Start); j < len(valid) && compareInstant(cur, sp.hi) < 0; j++ {
			lo, hi := instant{valid[j].From, false}, instant{valid[j].To, false}
			if compareInstant(sp.hi, lo) <= 0 {
				break
			}
			if compareInstant(cur, lo) < 0 {
				report(cur, lo)
			}
			if compareInstant(cur, hi) < 0 {
				cur = hi
			}
		}
		if compareInstant(cur, sp.hi) < 0 {
			report(cur, sp.hi)
		}
	}
	return out
}

// writes finds LostWrite and StaleWriteAccepted.
func (a *analysis) writes(h History) []Violation {
	var out []Violation
	order := make([]int, len(h.Writes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(h.Writes[i].At, h.Writes[j].At) })
	best := -1 // index of the accepted write with the highest token so far
	for _, i := range order {
		w := h.Writes[i]
		if !w.Accepted {
			continue
		}
		if b := h.Writes[max(best, 0)]; best >= 0 && (w.Token < b.Token || w.Token == b.Token && w.ID != b.ID) {
			detail := fmt.Sprintf("token %d accepted after token %d", w.Token, b.Token)
			if w.Token == b.Token {
				detail = fmt.Sprintf("token %d, already used by another lock, accepted after that lock's write", w.Token)
			}
			out = append(out, Violation{
				Kind: LostWrite, A: w.ID, ClientA: a.clients[w.ID], B: b.ID, ClientB: a.clients[b.ID],
				From: b.At, To: w.At, Detail: detail,
			})
		}
		if best < 0 || w.Token >= h.Writes[best].Token {
			best = i // the latest accepted write of the highest token
		}
		if !a.validAt(w.ID, w.At) {
			out = append(out, Violation{
				Kind: StaleWriteAccepted, A: w.ID, ClientA: a.clients[w.ID], From: w.At, To: w.At,
				Detail: fmt.Sprintf("token %d", w.Token),
			})
		}
	}
	return out
}

// validAt reports whether the lease of lock id contains the instant t.
func (a *analysis) validAt(id string, t time.Duration) bool {
	l := a.leases[id]
	if l == nil {
		return false
	}
	j := firstEndingAfter(l.valid, t)
	return j < len(l.valid) && l.valid[j].From <= t
}

// firstEndingAfter returns the index of the first of the ordered, disjoint
// intervals that ends after t, or len(valid) if none does.
func firstEndingAfter(valid []Interval, t time.Duration) int {
	j, _ := slices.BinarySearchFunc(valid, t, func(v Interval, t time.Duration) int {
		if v.To <= t {
			return -1
		}
		return 1
	})
	return j
}
