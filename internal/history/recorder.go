package history

import (
	"slices"
	"sync"
	"time"
)

// Obtain is one attempt to obtain a lock.
type Obtain struct {
	Client string        // who tried, for messages
	ID     string        // the lock instance's ID, unique per successful obtain
	Call   time.Duration // when the call started
	Ret    time.Duration // when it returned; the lease starts here
	OK     bool          // whether the client was told it holds the lock
	// ValidUntil is when the client's validity runs out; only meaningful
	// when OK.
	ValidUntil time.Duration
}

// Refresh is one attempt to extend (or shorten) a held lock's validity.
type Refresh struct {
	ID   string
	Call time.Duration // when the call started
	Ret  time.Duration // when it returned
	OK   bool          // false ends the lease at Call
	// ValidUntil is the new end of validity from Ret on; only meaningful
	// when OK.
	ValidUntil time.Duration
}

// Release is a release of a held lock; the lease ends at Call.
type Release struct {
	ID   string
	Call time.Duration // when the call started
	Ret  time.Duration // when it returned
}

// Act is guarded work done by the holder of lock ID over [Start, End); an act
// with Start == End is the single instant Start.
type Act struct {
	ID    string
	Start time.Duration
	End   time.Duration
}

// Write is one write to a fenced resource: a store that rejects writes whose
// token is lower than the highest token it has accepted. At is when the store
// decided, ideally stamped by the store itself under its own lock, so that
// the order of writes is the order of At (equal At: recording order).
type Write struct {
	ID       string // the writing lock's ID
	Token    uint64 // fencing token sent with the write
	At       time.Duration
	Accepted bool // whether the store applied the write
}

// History is everything recorded, as plain data. Within each slice events
// are in recording order. Tests may build a History by hand.
type History struct {
	Obtains   []Obtain
	Refreshes []Refresh
	Releases  []Release
	Acts      []Act
	Writes    []Write
}

// Len is the total number of events in h.
func (h History) Len() int {
	return len(h.Obtains) + len(h.Refreshes) + len(h.Releases) + len(h.Acts) + len(h.Writes)
}

// Recorder collects a History from many goroutines. It is safe for
// concurrent use. Methods take times explicitly; use [Recorder.Since] and
// [Recorder.At] to produce them.
type Recorder struct {
	origin time.Time

	mu sync.Mutex
	h  History
}

// NewRecorder returns an empty Recorder whose origin is time.Now().
func NewRecorder() *Recorder {
	return &Recorder{origin: time.Now()}
}

// Origin returns the moment all offsets are measured from.
func (r *Recorder) Origin() time.Time { return r.origin }

// Since returns the current time as an offset from the origin (monotonic).
func (r *Recorder) Since() time.Duration { return time.Since(r.origin) }

// At converts t to an offset from the origin. t should carry a monotonic
// clock reading (any time derived from time.Now() does), so that the offset
// is comparable with [Recorder.Since].
func (r *Recorder) At(t time.Time) time.Duration { return t.Sub(r.origin) }

// Obtain records an obtain attempt by client that ran over [call, ret).
// ok reports whether the client was told it holds lock id, valid until
// validUntil.
func (r *Recorder) Obtain(client, id string, call, ret time.Duration, ok bool, validUntil time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Obtains = append(r.h.Obtains, Obtain{Client: client, ID: id, Call: call, Ret: ret, OK: ok, ValidUntil: validUntil})
}

// Refresh records a refresh of lock id that ran over [call, ret); when ok,
// the lock is valid until validUntil from ret on.
func (r *Recorder) Refresh(id string, call, ret time.Duration, ok bool, validUntil time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Refreshes = append(r.h.Refreshes, Refresh{ID: id, Call: call, Ret: ret, OK: ok, ValidUntil: validUntil})
}

// Release records a release of lock id that ran over [call, ret).
func (r *Recorder) Release(id string, call, ret time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Releases = append(r.h.Releases, Release{ID: id, Call: call, Ret: ret})
}

// Act records guarded work done by the holder of lock id over [start, end)
// (the instant start if end == start).
func (r *Recorder) Act(id string, start, end time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Acts = append(r.h.Acts, Act{ID: id, Start: start, End: end})
}

// Do runs f as guarded work of the holder of lock id and records it as an
// Act from just before f starts to just after it returns.
func (r *Recorder) Do(id string, f func()) {
	start := r.Since()
	defer func() { r.Act(id, start, r.Since()) }()
	f()
}

// Write records a write with token by the holder of lock id to a fenced
// resource, decided by the store at offset at.
func (r *Recorder) Write(id string, token uint64, at time.Duration, accepted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Writes = append(r.h.Writes, Write{ID: id, Token: token, At: at, Accepted: accepted})
}

// History returns a copy of everything recorded so far.
func (r *Recorder) History() History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return History{
		Obtains:   slices.Clone(r.h.Obtains),
		Refreshes: slices.Clone(r.h.Refreshes),
		Releases:  slices.Clone(r.h.Releases),
		Acts:      slices.Clone(r.h.Acts),
		Writes:    slices.Clone(r.h.Writes),
	}
}

// Check checks everything recorded so far; see [Check].
func (r *Recorder) Check() Report { return Check(r.History()) }
