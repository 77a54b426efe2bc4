package bench

import (
	"context"
	"testing"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/chaos"
	"github.com/quorumlock/quorumlock/internal/redisproc"
)

// BenchmarkRestartCampaign runs the contention campaign of docs/chaos.md
// side by side: 3 instances x 3 workers contend for one key on 5 fresh
// redis-server nodes for 15s (ttl 300ms, wait 300ms, work 0-270ms) while
// nodes are killed and come back empty ttl+100ms later or are paused
// (restarts=delayed), or are killed and come back empty at once
// (restarts=instant). Every iteration is one campaign; the same seed gives
// every implementation the same fault schedule. It reports the obtains and
// the violations the history checker found; sec/op is the campaign's
// length.
func BenchmarkRestartCampaign(b *testing.B) {
	path := redisproc.Require(b)
	contenders := []chaos.Contender{
		chaos.Quorumlock(nameQuorumlock),
		chaos.Quorumlock("quorumlock-no-quarantine", quorumlock.WithRestartQuarantine(false)),
		chaos.RedsyncTuned(),
	}
	contenders[2].Name = nameRedsyncTuned
	for _, restarts := range []chaos.Restarts{chaos.DelayedRestarts, chaos.InstantRestarts} {
		for _, c := range contenders {
			b.Run("restarts="+string(restarts)+"/impl="+c.Name, func(b *testing.B) {
				var obtains, violations, runs int
				for i := 0; b.Loop(); i++ {
					r, err := chaos.RunContention(context.Background(), chaos.ContentionConfig{
						RedisPath: path, Restarts: restarts, Seed: uint64(i) + 1,
					}, c)
					if err != nil {
						b.Fatal(err)
					}
					obtains, violations, runs = obtains+r.Obtains, violations+len(r.Violations), runs+1
				}
				b.ReportMetric(float64(obtains)/float64(runs), "obtains")
				b.ReportMetric(float64(violations)/float64(runs), "violations")
			})
		}
	}
}
