package sim

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	procs  = flag.Int("sim.procs", 2, "how many processes TestSchedules runs its schedules in, each on one P")
	stride = flag.Uint64("sim.stride", 1, "the step between one process's seeds (set for the processes TestSchedules starts)")
)

var (
	summary = regexp.MustCompile(`(\d+) schedules, (\d+) obtains`)
	foundAt = regexp.MustCompile(`found a violation at seed (\d+)`)
)

// runShards runs the schedules of TestSchedules in n processes of this
// test binary: process i takes the seeds first+i, first+i+n, ...
// (testing/cryptotest fixes crypto/rand for a whole process, so schedules
// cannot run side by side in one). A process that fails fails t with its
// output: the violations, their traces and the replay commands.
func runShards(t *testing.T, n int) (schedules, obtains int) {
	type shard struct {
		out []byte
		err error
	}
	shards := make([]shard, n)
	counts := make([]int, n)
	// The processes end a little before this test must: a hung one is
	// killed, and its output (the goroutines of its timeout) reported.
	ctx, cancel := context.Background(), func() {}
	timeout := "0"
	if d, ok := t.Deadline(); ok {
		margin := time.Until(d) / 10
		ctx, cancel = context.WithDeadline(ctx, d.Add(-margin))
		timeout = (time.Until(d) - 2*margin).Round(time.Second).String()
	}
	defer cancel()
	var wg sync.WaitGroup
	for i := range n {
		count := (*seeds - i + n - 1) / n
		counts[i] = count
		args := []string{"-test.run=^TestSchedules$", "-test.v", "-test.count=1", "-test.timeout=" + timeout,
			"-sim.procs=1", "-sim.stride=" + strconv.Itoa(n),
			"-sim.seed=" + strconv.FormatUint(*first+uint64(i), 10), "-sim.seeds=" + strconv.Itoa(count)}
		if *stopAt {
			args = append(args, "-sim.stop")
		}
		if *verbose {
			args = append(args, "-sim.trace")
		}
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, os.Args[0], args...)
			cmd.Env = os.Environ()
			cmd.WaitDelay = time.Second
			shards[i].out, shards[i].err = cmd.CombinedOutput()
		})
	}
	wg.Wait()
	lowest := uint64(0)
	for i, s := range shards {
		found := foundAt.FindSubmatch(s.out)
		if found != nil {
			if seed, _ := strconv.ParseUint(string(found[1]), 10, 64); lowest == 0 || seed < lowest {
				lowest = seed
			}
		}
		ran := -1
		if m := summary.FindSubmatch(s.out); m != nil {
			ran, _ = strconv.Atoi(string(m[1]))
			o, _ := strconv.Atoi(string(m[2]))
			schedules, obtains = schedules+ran, obtains+o
		}
		switch {
		case s.err != nil || bytes.Contains(s.out, []byte("\nFAIL")):
			t.Errorf("process %d of %d (%v):\n%s", i+1, n, s.err, quietRuns(s.out))
		case found == nil && ran != counts[i]: // it ran something else, or nothing
			t.Errorf("process %d of %d ran %d schedules, not %d:\n%s", i+1, n, ran, counts[i], quietRuns(s.out))
		}
	}
	if lowest != 0 {
		t.Logf("found a violation at seed %d: within the first %d seeds", lowest, lowest-*first+1)
	}
	return schedules, obtains
}

// quietRuns drops the lines -test.v adds for every passing schedule.
func quietRuns(out []byte) string {
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "=== RUN") || strings.HasPrefix(t, "--- PASS") || strings.HasPrefix(t, "=== NAME") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
