package history

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRecorderRecordsEverything(t *testing.T) {
	rec := NewRecorder()
	rec.Obtain("c1", "A", d(1), d(2), true, d(10))
	rec.Obtain("c2", "B", d(1), d(3), false, 0)
	rec.Refresh("A", d(4), d(5), true, d(12))
	rec.Act("A", d(5), d(6))
	rec.Write("A", 7, d(6), true)
	rec.Release("A", d(8), d(9))
	want := History{
		Obtains:   []Obtain{obtain("c1", "A", 1, 2, true, 10), obtain("c2", "B", 1, 3, false, 0)},
		Refreshes: []Refresh{refresh("A", 4, 5, true, 12)},
		Releases:  []Release{release("A", 8, 9)},
		Acts:      []Act{act("A", 5, 6)},
		Writes:    []Write{write("A", 7, 6, true)},
	}
	h := rec.History()
	if got := fmt.Sprintf("%+v", h); got != fmt.Sprintf("%+v", want) {
		t.Errorf("History() =\n%s\nwant\n%+v", got, want)
	}
	// History is a copy.
	h.Obtains[0].ID = "X"
	if rec.History().Obtains[0].ID != "A" {
		t.Error("History() shares memory with the Recorder")
	}
	if rep := rec.Check(); !rep.OK() || rep.Leases != 1 {
		t.Errorf("Check() = %v", rep)
	}
}

func TestRecorderClock(t *testing.T) {
	rec := NewRecorder()
	a := rec.Since()
	now := time.Now()
	b := rec.Since()
	if at := rec.At(now); at < a || at > b {
		t.Errorf("At(now) = %v, not within [%v, %v]", at, a, b)
	}
	if got := rec.At(rec.Origin()); got != 0 {
		t.Errorf("At(Origin()) = %v", got)
	}
	ran := false
	rec.Do("A", func() { ran = true; time.Sleep(time.Millisecond) })
	acts := rec.History().Acts
	if !ran || len(acts) != 1 || acts[0].ID != "A" || acts[0].Start < b || acts[0].End-acts[0].Start < time.Millisecond {
		t.Errorf("Do recorded %+v", acts)
	}
}

// TestRecorderConcurrent records from many goroutines at once (run with
// -race) and checks that nothing is lost and each goroutine's events keep
// their order.
func TestRecorderConcurrent(t *testing.T) {
	const workers, per = 32, 200
	rec := NewRecorder()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			client := fmt.Sprint("c", w)
			for i := range per {
				id := fmt.Sprintf("%s/%d", client, i)
				at := time.Duration(w*per+i) * 10 // a turn of the lock each
				rec.Obtain(client, id, at, at, true, at+5)
				rec.Refresh(id, at+1, at+2, true, at+8)
				rec.Act(id, at+2, at+3)
				rec.Write(id, uint64(at), at+3, true)
				rec.Release(id, at+4, at+20)
				if i%50 == 0 {
					_ = rec.History()
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			_ = rec.Check()
		}
	})
	wg.Wait()

	h := rec.History()
	if n := workers * per; len(h.Obtains) != n || len(h.Refreshes) != n || len(h.Releases) != n ||
		len(h.Acts) != n || len(h.Writes) != n {
		t.Fatalf("recorded %d obtains, %d refreshes, %d releases, %d acts, %d writes; want %d each",
			len(h.Obtains), len(h.Refreshes), len(h.Releases), len(h.Acts), len(h.Writes), n)
	}
	if rep := Check(h); !rep.OK() {
		t.Errorf("Check() = %v", rep)
	}
	next := map[string]int{}
	for _, o := range h.Obtains {
		if want := fmt.Sprintf("%s/%d", o.Client, next[o.Client]); o.ID != want {
			t.Fatalf("obtain %s out of order, want %s", o.ID, want)
		}
		next[o.Client]++
	}
}

// TestRecorderMutualExclusion records clients taking turns through a real
// sync.Mutex, the way a chaos test records a lock: the history must check.
func TestRecorderMutualExclusion(t *testing.T) {
	const workers, per = 16, 50
	rec := NewRecorder()
	var mu sync.Mutex
	shared := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			client := fmt.Sprint("c", w)
			for i := range per {
				id := fmt.Sprintf("%s/%d", client, i)
				call := rec.Since()
				mu.Lock()
				ret := rec.Since()
				rec.Obtain(client, id, call, ret, true, ret+time.Hour)
				rec.Do(id, func() { shared++ })
				if i%3 == 0 {
					c := rec.Since()
					r := rec.Since()
					rec.Refresh(id, c, r, true, r+time.Minute)
				}
				rec.Do(id, func() { shared++ })
				rel := rec.Since()
				mu.Unlock()
				rec.Release(id, rel, rec.Since())
			}
		})
	}
	wg.Wait()
	rep := rec.Check()
	if !rep.OK() || rep.Leases != workers*per || rep.Acts != 2*workers*per {
		t.Errorf("Check() = %v", rep)
	}
}

// TestRecorderCatchesBrokenExclusion records two clients that both believe
// they hold the lock at once.
func TestRecorderCatchesBrokenExclusion(t *testing.T) {
	rec := NewRecorder()
	aHolds, bDone := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ret := rec.Since()
		rec.Obtain("c1", "A", ret, ret, true, ret+time.Hour)
		close(aHolds)
		<-bDone
		rec.Do("A", func() {})
		rec.Release("A", rec.Since(), rec.Since())
	})
	wg.Go(func() {
		<-aHolds
		ret := rec.Since()
		rec.Obtain("c2", "B", ret, ret, true, ret+time.Hour)
		rec.Do("B", func() { time.Sleep(time.Millisecond) })
		close(bDone)
		rec.Release("B", rec.Since(), rec.Since())
	})
	wg.Wait()
	rep := rec.Check()
	if rep.Count(LeaseOverlap) != 1 || !rep.Has(ActOutsideExclusion) || rep.Has(ActOutsideOwnLease) {
		t.Errorf("Check() = %v", rep)
	}
	for _, v := range rep.Violations {
		if v.Kind == LeaseOverlap && (v.A != "A" || v.B != "B" || v.To-v.From < time.Millisecond) {
			t.Errorf("overlap %v", v)
		}
	}
}

// TestRecorderCatchesPausedClient records a client that acts after its
// validity ran out, while the next holder holds the lock.
func TestRecorderCatchesPausedClient(t *testing.T) {
	rec := NewRecorder()
	ret := rec.Since()
	validA := ret + 2*time.Millisecond
	rec.Obtain("c1", "A", ret, ret, true, validA)
	rec.Do("A", func() {})
	for rec.Since() <= validA { // A is paused past its validity
		time.Sleep(time.Millisecond)
	}
	call := rec.Since()
	retB := rec.Since()
	rec.Obtain("c2", "B", call, retB, true, retB+time.Hour)
	rec.Do("A", func() { time.Sleep(time.Millisecond) }) // A wakes up and acts
	rec.Release("B", rec.Since(), rec.Since())

	rep := rec.Check()
	if rep.Has(LeaseOverlap) || rep.Count(ActOutsideOwnLease) != 1 || rep.Count(ActOutsideExclusion) != 1 {
		t.Errorf("Check() = %v", rep)
	}
}
