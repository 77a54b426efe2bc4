package sim

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

var (
	seeds   = flag.Int("sim.seeds", defaultSeeds, "how many schedules TestSchedules runs (2,000; 60 under -race)")
	first   = flag.Uint64("sim.seed", 1, "the first schedule's seed (replay one with -sim.seeds=1 -sim.seed=S)")
	verbose = flag.Bool("sim.trace", false, "print every schedule's trace")
	stopAt  = flag.Bool("sim.stop", false, "stop TestSchedules at the first schedule with a violation (the defect patches' search)")
)

// TestMain runs the schedules on one P: goroutines woken at one virtual
// instant then run in the order the scheduler takes them from its queue,
// not at once on two CPUs, and more schedules replay identically (20-22 of
// 30 seeds, against 14 of 30 on two Ps, when measured). A schedule ran no
// slower so.
//
// The garbage collector runs at a sixteenth of its default pace (a quarter
// under -race, whose shadow memory grows with the heap): a schedule's live
// heap is small, and GC was a fifth of the CPU (200 schedules: 17.3 s at
// GOGC 400 against 20.7 s at 100; 300 schedules: 26.9 s at 1600 against
// 28.7 s at 400, with 420 MB of memory at most).
func TestMain(m *testing.M) {
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(1600 / raceScale)
	os.Exit(m.Run())
}

// report fails t with the violations of res, the trace around them and the
// command that replays the schedule.
func report(t *testing.T, res Result, cfg Config) {
	t.Helper()
	if *verbose {
		t.Logf("seed %d trace:\n%s", res.Seed, strings.Join(res.Trace, "\n"))
	}
	if len(res.Violations) == 0 {
		return
	}
	tail := res.Trace[max(0, len(res.Trace)-60):]
	t.Errorf("seed %d: %d violations:\n%s\ntrace (last %d events):\n%s\nreplay: go test ./internal/sim -run '%s' -sim.seeds=1 -sim.seed=%d -sim.trace",
		res.Seed, len(res.Violations), strings.Join(res.Violations, "\n"), len(tail), strings.Join(tail, "\n"), t.Name(), res.Seed)
}

// TestSchedules runs -sim.seeds schedules inside the model: no two holders,
// tokens rising, nothing left on a node, no goroutine left after Close. It
// spreads them over -sim.procs processes (shard_test.go).
func TestSchedules(t *testing.T) {
	began := time.Now()
	if n := min(*procs, *seeds); n > 1 {
		schedules, obtains := runShards(t, n)
		t.Logf("%d schedules, %d obtains, in %v (%d processes)", schedules, obtains, time.Since(began), n)
		return
	}
	obtains, ran := 0, 0
	for k := range uint64(*seeds) {
		res := Run(t, *first+k**stride, Config{})
		report(t, res, Config{})
		obtains += res.Obtains
		ran++
		if *stopAt && len(res.Violations) > 0 {
			t.Logf("found a violation at seed %d, schedule %d of this process, after %v", res.Seed, ran, time.Since(began))
			return
		}
	}
	t.Logf("%d schedules, %d obtains, in %v", ran, obtains, time.Since(began))
}

// TestOutsideTheModel: with a rule of the model broken, the simulator finds
// violations.
func TestOutsideTheModel(t *testing.T) {
	for _, cfg := range []Config{{InstantRestarts: true}, {ClockJumps: true}, {Pauses: true}} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			found := 0
			n := 60
			if raceScale > 1 {
				n = 24 // fewer, but enough that none finding a violation is as good as impossible
			}
			for s := range uint64(n) {
				if res := Run(t, *first+s, cfg); len(res.Violations) > 0 {
					found++
				}
			}
			if found == 0 {
				t.Fatalf("no violation in %d schedules outside the model (%+v)", n, cfg)
			}
			t.Logf("violations in %d of %d schedules", found, n)
		})
	}
}
