package chaos

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseMix(t *testing.T) {
	got, err := ParseMix("hang, pause,hang")
	if err != nil || !slices.Equal(got, []Kind{Hang, Pause}) {
		t.Fatalf("ParseMix = %v, %v", got, err)
	}
	if got, _ := ParseMix("inside"); len(got) != len(Inside) {
		t.Fatalf("inside = %v", got)
	}
	if got, _ := ParseMix("all"); len(got) != len(Inside)+len(Outside) {
		t.Fatalf("all = %v", got)
	}
	if got, _ := ParseMix("none"); len(got) != 0 {
		t.Fatalf("none = %v", got)
	}
	if _, err := ParseMix("meteor"); err == nil {
		t.Fatal("accepted an unknown fault")
	}
}

// TestSchedulerKeepsAMajority: inside the model, at most a minority of nodes
// is impaired at any time.
func TestSchedulerKeepsAMajority(t *testing.T) {
	c, err := NewCluster(5, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := Config{Lockers: 1, Clients: 1, TTL: 300 * time.Millisecond, NodeTimeout: 50 * time.Millisecond,
		FaultEvery: 5 * time.Millisecond, Seed: 1, Faults: []Kind{CrashRestart, Hang, SlowAbove}}
	s := newScheduler(c, cfg, func(int) {}, func(string, ...any) {})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	most := 0
	for ctx.Err() == nil {
		s.mu.Lock()
		most = max(most, s.impaired)
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	<-done
	if most != 2 {
		t.Fatalf("at most %d nodes impaired at once, want exactly the minority 2 (the budget, reached)", most)
	}
	total := 0
	for _, n := range s.counts {
		total += n
	}
	if total < 3 || len(s.errs) > 0 {
		t.Fatalf("%d faults injected, errors %v", total, s.errs)
	}
}

func TestLongestGapAndPercentile(t *testing.T) {
	ms := time.Millisecond
	if g := longestGap([]time.Duration{5 * ms, 1 * ms, 20 * ms}, 22*ms); g != 15*ms {
		t.Fatalf("longestGap = %v, want 15ms", g)
	}
	if g := longestGap(nil, 30*ms); g != 30*ms {
		t.Fatalf("longestGap with no obtain = %v, want the whole run", g)
	}
	ds := []time.Duration{9, 1, 5, 3, 7}
	if p := percentile(ds, 50); p != 5 {
		t.Fatalf("p50 = %v", p)
	}
	if p := percentile(ds, 99); p != 9 {
		t.Fatalf("p99 = %v", p)
	}
}
