package quorumlock_test

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/chaos"
	"github.com/quorumlock/quorumlock/internal/history"
	"github.com/quorumlock/quorumlock/internal/redisproc"
)

var (
	chaosDuration = flag.Duration("chaos.duration", 0, "length of each randomized chaos campaign (default 5s; env QUORUMLOCK_CHAOS_DURATION)")
	chaosSeed     = flag.Uint64("chaos.seed", 0, "seed of the randomized chaos campaigns (default: random, printed)")
)

// campaignLength is how long each randomized campaign runs: short by
// default, longer with -chaos.duration or QUORUMLOCK_CHAOS_DURATION.
func campaignLength(t *testing.T) time.Duration {
	if *chaosDuration > 0 {
		return *chaosDuration
	}
	if v := os.Getenv("QUORUMLOCK_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("QUORUMLOCK_CHAOS_DURATION=%q: %v", v, err)
		}
		return d
	}
	return 5 * time.Second
}

// runCampaign runs one campaign and logs its report and how to repeat it.
func runCampaign(t *testing.T, cfg chaos.Config) *chaos.Report {
	t.Helper()
	cfg.Duration = campaignLength(t)
	cfg.Seed = *chaosSeed
	if cfg.NodeTimeout == 0 {
		cfg.NodeTimeout = 200 * time.Millisecond // generous: CI machines are shared and -race is slow
	}
	r, err := chaos.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("campaign: %v", err)
	}
	t.Logf("repeat with: go test -run '%s' -chaos.seed %d -chaos.duration %v\n%s", t.Name(), r.Config.Seed, cfg.Duration, r)
	return r
}

// checkInsideModel asserts what a campaign inside the safety model must
// show: no violation, locks obtained throughout, nothing left behind.
func checkInsideModel(t *testing.T, r *chaos.Report) {
	t.Helper()
	if r.Violations() != 0 {
		t.Errorf("%d violations inside the safety model (seed %d)", r.Violations(), r.Config.Seed)
	}
	if r.Obtains == 0 || r.Acts == 0 {
		t.Errorf("no progress: %d obtains, %d acts", r.Obtains, r.Acts)
	}
	// A majority stays reachable, so some client always gets a lock; the
	// bound is generous against CI load, far below a stalled campaign.
	if bound := 5 * r.Config.TTL; r.LongestGap > bound {
		t.Errorf("no lock obtained for %v (bound %v) while a majority was up", r.LongestGap, bound)
	}
	if len(r.Leftovers) != 0 {
		t.Errorf("%d keys left behind a ttl after the end", len(r.Leftovers))
	}
	if len(r.Config.Faults) > 0 && len(r.Faults) == 0 {
		t.Errorf("no fault was injected")
	}
	for _, err := range r.FaultErrors {
		t.Errorf("%v", err)
	}
}

func TestChaosInsideModel(t *testing.T) {
	r := runCampaign(t, chaos.Config{Faults: chaos.Inside})
	checkInsideModel(t, r)
}

func TestChaosInsideModelRealServers(t *testing.T) {
	path := redisproc.Require(t)
	var faults []chaos.Kind
	for _, k := range chaos.Inside {
		if k != chaos.CrashRestart { // no persistence: a restart is empty, so it waits out the ttl (crash-delayed)
			faults = append(faults, k)
		}
	}
	r := runCampaign(t, chaos.Config{Faults: faults, RedisPath: path})
	checkInsideModel(t, r)
}

// Outside the safety model the checker must see the violation: these tests
// pass when it is caught, which shows that the checker can fail and why the
// operating rules exist.

func TestChaosOutsideModelInstantRestart(t *testing.T) {
	r, err := chaos.InstantRestart(quorumlock.WithRestartQuarantine(false))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has(history.LeaseOverlap) {
		t.Fatalf("an instant empty restart let B in beside A, but the checker saw no overlap:\n%v", r)
	}
	t.Logf("caught, as expected:\n%v", r)
}

func TestChaosOutsideModelClockJump(t *testing.T) {
	r, err := chaos.ClockJumpOnNode()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has(history.LeaseOverlap) {
		t.Fatalf("a clock jump let B in beside A, but the checker saw no overlap:\n%v", r)
	}
	t.Logf("caught, as expected:\n%v", r)
}

func TestChaosOutsideModelPausedClient(t *testing.T) {
	r, err := chaos.PausedClient()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has(history.ActOutsideExclusion) {
		t.Fatalf("a paused client acted while B held the lock, but the checker saw nothing:\n%v", r)
	}
	t.Logf("caught, as expected:\n%v", r)
}

// TestChaosLiveness: with a majority up, a waiter gets the lock within the
// ttl of the last holder's crash.
func TestChaosLiveness(t *testing.T) {
	const ttl = time.Second
	took, r, err := chaos.HolderCrash(ttl)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("violations:\n%v", r)
	}
	// The lock expires at most ttl after the crash; the waiter's backoff
	// (at most 256ms by default) and a round come on top. Generous bound.
	if bound := ttl + time.Second; took > bound {
		t.Fatalf("the waiter got the lock %v after the holder crashed, more than %v", took, bound)
	}
	t.Logf("waiter got the lock %v after the holder's crash (ttl %v)", took, ttl)
}

// TestChaosRestartQuarantine: the same instant empty restart, with the
// restart quarantine on (the default): the restarted node abstains, B is
// refused, and there is no violation.
func TestChaosRestartQuarantine(t *testing.T) {
	r, err := chaos.InstantRestart()
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("with the restart quarantine on, an instant empty restart still let B in:\n%v", r)
	}
	if r.Leases != 1 {
		t.Fatalf("want A's lease only (B refused), got %d leases:\n%v", r.Leases, r)
	}
}

// With fencing, the schedules that break mutual exclusion (a paused client,
// a node's clock jump) still lose no write: the stale holder's token is
// lower, and the fenced store refuses it.
func TestChaosFencingPausedClient(t *testing.T) {
	r, err := chaos.PausedClient(quorumlock.WithFencing())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has(history.ActOutsideExclusion) || r.Has(history.LostWrite) || r.Rejected == 0 {
		t.Fatalf("want the overlap caught, the stale write rejected and none lost; got %d rejected:\n%v", r.Rejected, r)
	}
}

func TestChaosFencingClockJump(t *testing.T) {
	r, err := chaos.ClockJumpOnNode(quorumlock.WithFencing())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has(history.LeaseOverlap) || r.Has(history.LostWrite) || r.Rejected == 0 {
		t.Fatalf("want the overlap caught, the stale write rejected and none lost; got %d rejected:\n%v", r.Rejected, r)
	}
}

// TestChaosFencedCampaign: a randomized campaign with fencing, faults that
// keep the nodes' counters (inside the model, but for empty restarts) and
// the pauses and clock jumps outside it: no write is lost.
func TestChaosFencedCampaign(t *testing.T) {
	faults := []chaos.Kind{chaos.CrashRestart, chaos.Hang, chaos.SlowAbove, chaos.PartitionMinority, chaos.Pause, chaos.ClockJump}
	r := runCampaign(t, chaos.Config{Faults: faults, Fencing: true})
	if r.LostWrites() != 0 {
		t.Errorf("%d writes lost with fencing", r.LostWrites())
	}
	if r.WritesAccepted == 0 {
		t.Errorf("no write reached the fenced store")
	}
}

// TestChaosRestartQuarantineCampaign: randomized instant empty restarts,
// which break Redlock as published, with the restart quarantine on: no
// violation.
func TestChaosRestartQuarantineCampaign(t *testing.T) {
	r := runCampaign(t, chaos.Config{Faults: []chaos.Kind{chaos.RestartInstant, chaos.Hang}})
	if r.Violations() != 0 {
		t.Errorf("%d violations with instant empty restarts and the quarantine on", r.Violations())
	}
	if r.Faults[chaos.RestartInstant] == 0 || r.Obtains == 0 {
		t.Errorf("%d restarts, %d obtains: the campaign did not exercise the quarantine", r.Faults[chaos.RestartInstant], r.Obtains)
	}
}

// TestChaosDelayedRestartsStayLive: nodes crash and come back empty after
// the longest ttl, over and over; the restart quarantine holds each one out
// a little longer, and locks are still obtained throughout.
func TestChaosDelayedRestartsStayLive(t *testing.T) {
	r := runCampaign(t, chaos.Config{Faults: []chaos.Kind{chaos.CrashDelayed}})
	checkInsideModel(t, r)
	if r.Faults[chaos.CrashDelayed] == 0 {
		t.Errorf("no delayed restart happened")
	}
}
