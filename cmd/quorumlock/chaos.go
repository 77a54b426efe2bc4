package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/chaos"
	"github.com/quorumlock/quorumlock/internal/redisproc"
)

const chaosUsage = `usage: quorumlock chaos [flags]

Runs a chaos campaign: clients obtain, use, refresh and release locks on
embedded nodes while faults are injected; a checker then decides from the
recorded history whether two holders were ever valid at once.

Faults inside the safety model: crash-restart, crash-delayed, hang,
slow-above, slow-below, partition-minority, partition-majority.
Outside it: restart-instant, clock-jump, pause.
-faults takes a comma-separated list, or inside, outside, all, none.

With -fencing, the report also counts the writes a fenced store accepted,
rejected as stale, and lost (taken out of token order).

With -contention delayed or -contention instant, it runs the contention
campaign instead, on redis-server nodes, side by side: quorumlock with its
defaults, quorumlock with the restart quarantine off, and redsync tuned as
its options allow, each on fresh nodes with the same seed. 3 instances x 3
workers contend for one key (ttl 300ms, wait 300ms, work 0-270ms) while
nodes are killed and come back empty ttl+100ms later or are paused
(delayed), or are killed and come back empty at once every 20-80ms
(instant). -duration, -seed, -nodes and -lockers apply; the exit status is
1 if quorumlock with its defaults let two holders in.

Exit status: 0 when no violation was found, or when violations were found
with faults outside the safety model (expected: they show why the operating
rules exist); 1 when a violation or a leftover key appears inside the model,
or a write is lost with -fencing;
2 for bad flags.

flags:
`

// runChaos runs a campaign and prints its report.
func runChaos(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg      chaos.Config
		faults   = fs.String("faults", "inside", "fault mix")
		real     = fs.Bool("redis-server", false, "run redis-server processes (SIGKILL, SIGSTOP) instead of miniredis")
		verbose  = fs.Bool("v", false, "print every fault as it is injected")
		seed     = fs.Uint64("seed", 0, "seed of the schedule (0: random; the report prints it)")
		noQuiet  = fs.Bool("progress", true, "print a progress line on stderr")
		duration = fs.Duration("duration", 10*time.Second, "length of the campaign")
		quar     = fs.Bool("quarantine", true, "the Lockers' restart quarantine (off: Redlock as published, which restart-instant breaks)")
		contend  = fs.String("contention", "", "run the contention campaign, side by side with redsync: delayed or instant restarts")
	)
	fs.BoolVar(&cfg.Fencing, "fencing", false, "locks carry fencing tokens; every act writes to a store that rejects stale tokens")
	fs.IntVar(&cfg.Nodes, "nodes", 5, "Redis nodes")
	fs.IntVar(&cfg.Lockers, "lockers", 3, "service instances, each a Locker with its own links to the nodes")
	fs.IntVar(&cfg.Clients, "clients", 8, "client goroutines, spread over the lockers")
	fs.IntVar(&cfg.Keys, "keys", 2, "keys the contending clients share")
	fs.DurationVar(&cfg.TTL, "ttl", time.Second, "ttl of every lock")
	fs.DurationVar(&cfg.NodeTimeout, "node-timeout", quorumlock.DefaultNodeTimeout, "the Locker's node timeout")
	fs.Usage = func() {
		fmt.Fprint(stderr, chaosUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "quorumlock chaos: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *contend != "" {
		return runContention(chaos.ContentionConfig{
			Restarts: chaos.Restarts(*contend), Duration: *duration, Seed: *seed, Nodes: cfg.Nodes, Lockers: cfg.Lockers,
		}, stdout, stderr)
	}
	mix, err := chaos.ParseMix(*faults)
	if err != nil {
		fmt.Fprintln(stderr, "quorumlock chaos:", err)
		return exitUsage
	}
	cfg.Faults, cfg.Seed, cfg.Duration = mix, *seed, *duration
	cfg.NoQuarantine = !*quar
	if *real {
		path, ok := redisproc.Available()
		if !ok {
			fmt.Fprintln(stderr, "quorumlock chaos: -redis-server: redis-server not found (apt-get install redis-server)")
			return exitFail
		}
		cfg.RedisPath = path
	}
	if *verbose {
		cfg.Log = stderr
	}
	if *noQuiet {
		cfg.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := chaos.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "quorumlock chaos:", err)
		return exitUsage
	}
	fmt.Fprint(stdout, r)
	if r.LostWrites() > 0 || r.Config.InsideModel() && (r.Violations() > 0 || len(r.Leftovers) > 0) {
		return exitFail
	}
	return exitOK
}

// runContention runs the contention campaign with quorumlock, quorumlock
// without the restart quarantine, and redsync, and prints them side by side.
func runContention(cfg chaos.ContentionConfig, stdout, stderr io.Writer) int {
	if cfg.Restarts != chaos.DelayedRestarts && cfg.Restarts != chaos.InstantRestarts {
		fmt.Fprintf(stderr, "quorumlock chaos: -contention %s: want %s or %s\n", cfg.Restarts, chaos.DelayedRestarts, chaos.InstantRestarts)
		return exitUsage
	}
	redis.SetLogger(silentLog{}) // go-redis logs every failed dial of a killed node
	path, ok := redisproc.Available()
	if !ok {
		fmt.Fprintln(stderr, "quorumlock chaos: -contention: redis-server not found (apt-get install redis-server)")
		return exitFail
	}
	cfg.RedisPath = path
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var reports []*chaos.ContentionReport
	for _, c := range []chaos.Contender{
		chaos.Quorumlock("quorumlock"),
		chaos.Quorumlock("quorumlock, quarantine off", quorumlock.WithRestartQuarantine(false)),
		chaos.RedsyncTuned(),
	} {
		fmt.Fprintf(stderr, "%s: %v of %s restarts...\n", c.Name, cfg.Duration, cfg.Restarts)
		r, err := chaos.RunContention(ctx, cfg, c)
		if err != nil {
			fmt.Fprintln(stderr, "quorumlock chaos:", err)
			return exitUsage
		}
		reports = append(reports, r)
	}
	fmt.Fprint(stdout, chaos.ContentionTable(reports))
	if len(reports[0].Violations) > 0 {
		return exitFail
	}
	return exitOK
}
