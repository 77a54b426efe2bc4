package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/redisproc"
)

// contention runs a short contention campaign with c.
func contention(t *testing.T, restarts Restarts, c Contender) *ContentionReport {
	t.Helper()
	r, err := RunContention(context.Background(), ContentionConfig{
		RedisPath: redisproc.Require(t), Restarts: restarts, Duration: 4 * time.Second, Seed: 20261201,
	}, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + ContentionTable([]*ContentionReport{r}))
	return r
}

// TestContentionDelayedRestarts: nodes killed and back empty after the
// ttl, or paused, under contention on one key: quorumlock with its
// defaults lets no two holders in, and keeps locking.
func TestContentionDelayedRestarts(t *testing.T) {
	r := contention(t, DelayedRestarts, Quorumlock("quorumlock"))
	if len(r.Violations) > 0 || r.Obtains == 0 || r.Faults == 0 {
		t.Fatalf("%d violations (e.g. %v), %d obtains, %d faults", len(r.Violations), r.Violations, r.Obtains, r.Faults)
	}
}

// TestContentionInstantRestarts: nodes killed and back empty at once, over
// and over: the restart quarantine keeps quorumlock safe; without it, the
// checker finds the two holders Redlock as published lets in.
func TestContentionInstantRestarts(t *testing.T) {
	if r := contention(t, InstantRestarts, Quorumlock("quorumlock")); len(r.Violations) > 0 || r.Faults == 0 {
		t.Fatalf("with the restart quarantine: %d faults, %d violations: %v", r.Faults, len(r.Violations), r.Violations)
	}
	if r := contention(t, InstantRestarts, Quorumlock("no quarantine", quorumlock.WithRestartQuarantine(false))); len(r.Violations) == 0 {
		t.Fatalf("without the restart quarantine, %d instant empty restarts and %d obtains let no two holders in: the campaign shows nothing", r.Faults, r.Obtains)
	}
}
