// Benchmarks of quorumlock side by side with the locks users would pick
// instead, on the same real redis-server nodes, in the same run:
//
//	impl=quorumlock        this module (NewFromURLs, default options), 5 nodes
//	impl=redsync-default   redsync v4 + goredis v9 as a user sets it up:
//	                       redis.NewClient(&redis.Options{Addr: a}),
//	                       redsync.New(pools...).NewMutex(key, redsync.WithExpiry(ttl)),
//	                       LockContext/UnlockContext, default options; 5 nodes
//	impl=redsync-tuned     redsync tuned as far as its options go: clients with
//	                       the timeouts quorumlock gives its own (ContextTimeoutEnabled,
//	                       100ms read/write/pool, no retries), WithFailFast(true),
//	                       WithTimeoutFactor(0.01), WithRetryDelay(10ms), WithTries; 5 nodes
//	impl=redislock-1node   bsm/redislock v0.9.4 on ONE node: the single-node floor
//
// Families (one per concern; sub-benchmarks per implementation, named
// impl=..., so that `benchstat -col /impl` puts them side by side):
//
//	BenchmarkUncontended  Obtain+Release of a fresh key, serial (sec/op, allocs/op)
//	BenchmarkThroughput   the same from ~16 goroutines, distinct keys (cycles/s)
//	BenchmarkHandoff      holder releases, one blocked waiter obtains (p50-ms, p99-ms)
//	BenchmarkStampede     50 blocked waiters on one key each get it once (total-ms, handoff p50/p99)
//	BenchmarkHungNodes    Obtain+Release with 0, 2 hung (SIGSTOP) or 2 down (SIGKILL) of 5 nodes
//	BenchmarkMemory       10,000 held locks and 1,000 blocked waiters: heap and goroutines each
//	BenchmarkRestartCampaign  contention on one key while nodes restart empty (obtains, violations)
//
// Run everything (needs Go and redis-server; the nodes are started on free
// loopback ports, once per test binary):
//
//	bench/run.sh                 # -count 6, raw output in bench/results/, benchstat tables, plots
//	COUNT=3 bench/run.sh         # fewer repetitions
//
// or by hand, from this directory:
//
//	go test -run XXX -bench . -benchtime 1x ./...            # smoke check, about 45s
//	go test -run XXX -bench Uncontended -benchmem -count 6 . | tee out.txt
//	go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /impl out.txt
//
// The families that take samples (Handoff, Stampede, HungNodes) sample one
// event per b.Loop iteration until the iteration count is reached or a
// per-benchmark time budget is spent (at least one sample), so a slow
// implementation (redsync waiting 10s per cycle with hung nodes) cannot make
// the suite take minutes; the "samples" metric says how many were taken.
// Their sec/op is the mean of the sampled quantity, and B/op and allocs/op
// are per sample (all goroutines of the process, waiters included). Memory
// runs its experiment once per run and reports only its own metrics. Nothing
// here asserts a duration: the numbers are reported, docs/benchmarks.md reads
// them.
package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/internal/redisproc"
)

// numNodes is the size of the node set every multi-node implementation uses.
const numNodes = 5

// benchTTL is the ttl of every lock in the benchmarks: long enough that no
// lock expires while it is measured, so every handoff is a release.
const benchTTL = 10 * time.Second

// cluster is the set of redis-server processes shared by the whole benchmark
// binary, started on first use.
var cluster struct {
	once    sync.Once
	err     error
	set     *redisproc.Set
	admin   []*redis.Client // for FLUSHALL and inspection; never used by an implementation
	started bool
}

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // go-redis logs every failed dial to stderr
	code := m.Run()
	stopNodes()
	os.Exit(code)
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// nodes returns the shared redis-server set, starting it on first use, and
// empties every node (FLUSHALL) so that each benchmark starts clean. It
// skips the benchmark when redis-server is missing, unless
// QUORUMLOCK_REQUIRE_REDIS=1, in which case it fails.
func nodes(tb testing.TB) *redisproc.Set {
	tb.Helper()
	path := redisproc.Require(tb)
	cluster.once.Do(func() {
		servers := make([]*redisproc.Server, numNodes)
		errs := make([]error, numNodes)
		var wg sync.WaitGroup
		for i := range servers {
			wg.Go(func() { servers[i], errs[i] = redisproc.Start(path, redisproc.Config{}) })
		}
		wg.Wait()
		cluster.set = &redisproc.Set{Servers: servers}
		cluster.started = true
		for i, err := range errs {
			if err != nil {
				cluster.err = fmt.Errorf("node %d: %w", i, err)
				return
			}
		}
		for _, a := range cluster.set.Addrs() {
			cluster.admin = append(cluster.admin, redis.NewClient(&redis.Options{
				Addr: a, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 5 * time.Second,
			}))
		}
	})
	if cluster.err != nil {
		tb.Fatalf("starting redis-server nodes: %v", cluster.err)
	}
	restoreNodes(tb)
	flushNodes(tb)
	return cluster.set
}

// flushNodes empties every node.
func flushNodes(tb testing.TB) {
	tb.Helper()
	for i, c := range cluster.admin {
		if err := c.FlushAll(context.Background()).Err(); err != nil {
			tb.Fatalf("FLUSHALL on node %d: %v", i, err)
		}
	}
}

// restoreNodes resumes hung nodes and restarts killed ones.
func restoreNodes(tb testing.TB) {
	tb.Helper()
	for i, s := range cluster.set.Servers {
		if !s.Running() {
			if err := s.Restart(); err != nil {
				tb.Fatalf("restart node %d: %v", i, err)
			}
			continue
		}
		if err := s.Cont(); err != nil {
			tb.Fatalf("SIGCONT node %d: %v", i, err)
		}
	}
}

// stopNodes closes the shared node set, if it was started.
func stopNodes() {
	for _, c := range cluster.admin {
		_ = c.Close()
	}
	if cluster.started {
		cluster.set.Close()
	}
}

// addrs returns the node addresses, "host:port".
func addrs(tb testing.TB) []string {
	return nodes(tb).Addrs()
}
