// Package history records the lock operations of many concurrent clients and
// decides, from the recorded history alone, whether mutual exclusion was ever
// broken. Chaos tests use it to show that no violation happens inside the
// safety model and that the checker does catch the violations a test provokes
// outside it (a client paused past its validity, a node clock jump).
//
// # Time
//
// Every time is a [time.Duration] offset from one origin taken from a single
// process's monotonic clock (see [Recorder.Since] and [Recorder.At]), so all
// times in a [History] are directly comparable.
//
// # Model
//
// Each lock instance has an ID, unique per successful obtain (for example the
// lock's random value), and a client name used in messages. The lease of a
// lock is the set of moments at which its holder believes it is valid:
//
//   - A successful [Obtain] starts the lease at its Ret (when the client
//     learns that it holds the lock) with validity up to its ValidUntil.
//     A failed obtain creates no lease.
//   - A successful [Refresh] replaces, from its Ret on, the validity with its
//     ValidUntil, which may be later or earlier than before. Until Ret the
//     client still goes by the previous validity. If the lease had already
//     run out before Ret, the holder was not valid in between: the lease then
//     has a gap, and is in general a union of disjoint [Interval]s.
//   - A failed Refresh ends the lease for good at the refresh's Call (or
//     earlier, if it had already run out): the client no longer trusts it.
//   - A [Release] ends the lease for good at the release's Call.
//
// Formally, a moment t is in the lease of lock L if and only if L has a
// successful obtain O with O.Ret <= t, no failed refresh or release of L was
// called at or before t, and t < V, where V is the ValidUntil of the latest
// of O and L's successful refreshes whose Ret is <= t (O counts as earliest
// among equal times, refreshes among themselves in recording order).
//
// An [Act] is guarded work done by the holder of a lock (a write to a shared
// resource, say) over [Start, End); an act with Start == End is the single
// instant Start. A holder that checks its validity acts only inside its lease;
// a paused client may act after its lease ended.
//
// All intervals are half-open: a lease that ends exactly when another starts
// does not overlap it, and an instant t lies in [a, b) when a <= t < b.
//
// # Violations
//
// [Check] reports, each as a [Violation] of some [Kind]:
//
//   - [LeaseOverlap]: the leases of two different locks intersect (two holders
//     valid at once). One violation per maximal common interval.
//   - [ActOutsideExclusion]: an act of lock A overlaps the lease of another
//     lock B, or an act of B: guarded work ran while someone else was valid
//     or working.
//   - [ActOutsideOwnLease]: part of an act of A lies outside A's own lease
//     (a weaker finding: a paused client produces it even if nobody else held
//     the lock). One violation per maximal uncovered part of the act.
//   - [LostWrite] and [StaleWriteAccepted], for a fenced resource recorded
//     with [Write]; see their docs.
//   - [Malformed]: an event inconsistent with the model (returning before
//     its call, unknown lock, a second successful obtain of an ID), which
//     points at a bug in the test harness. Malformed events are otherwise
//     ignored.
//
// The checker is exact for this model and runs in O(n log n + k) time for n
// events whose leases and acts overlap each other in at most a bounded number
// of places at a time, k the number of violations: it sorts intervals by start
// and sweeps, never comparing all pairs.
package history
