package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// The exec and status tests run the built binary as a subprocess against
// in-process miniredis nodes. Bounds are generous against load; no test
// asserts an exact duration.
const (
	procBound  = 30 * time.Second // a subprocess must end within this
	eventBound = 20 * time.Second // a file the command writes must appear within this

	// testNodeTimeout is the subprocesses' node timeout, far above the
	// default against load: a first round dials and loads scripts.
	testNodeTimeout = "1s"
	// keepTTL is the ttl of the tests of KeepAlive and loss, and keepNodeTimeout
	// their node timeout: a ttl must exceed twice the node timeout.
	keepTTL, keepNodeTimeout = "1500ms", "600ms"
)

var (
	binDir    string // set by TestMain
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// quorumlockBin builds the command once, with -race when the tests run
// with it, and returns the binary's path.
func quorumlockBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		path := filepath.Join(binDir, "quorumlock")
		args := []string{"build", "-o", path}
		if raceEnabled() {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		buildOut, buildErr = cmd.CombinedOutput()
		binPath = path
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// testNodes are miniredis servers whose keys expire in real time, each with
// the marker of a node long in service.
type testNodes struct {
	ms    []*miniredis.Miniredis
	addrs []string // kept: Addr panics after Close
}

func startNodes(t *testing.T, n int) *testNodes {
	t.Helper()
	return startNodesWith(t, n, func(*miniredis.Miniredis) {})
}

// startNodesWith is startNodes with each node set up by setup before it
// starts (miniredis's settings are not safe to change once it serves).
func startNodesWith(t *testing.T, n int, setup func(*miniredis.Miniredis)) *testNodes {
	t.Helper()
	s := &testNodes{}
	for range n {
		m := miniredis.NewMiniRedis()
		setup(m)
		if err := m.Start(); err != nil {
			t.Fatalf("start miniredis: %v", err)
		}
		t.Cleanup(m.Close)
		m.ClockTTL(true)
		m.Set("quorumlock:node", "60000:"+strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10))
		s.ms = append(s.ms, m)
		s.addrs = append(s.addrs, m.Addr())
	}
	return s
}

// flag is the --nodes value for the nodes.
func (s *testNodes) flag() string {
	urls := make([]string, len(s.addrs))
	for i, a := range s.addrs {
		urls[i] = "redis://" + a
	}
	return strings.Join(urls, ",")
}

// holders counts the nodes where key's lock is present.
func (s *testNodes) holders(key string) int {
	c := 0
	for _, m := range s.ms {
		if m.Exists(lockKey(key)) {
			c++
		}
	}
	return c
}

// checkReleased fails the test unless key's lock is free on a quorum (2 of
// 3) after exec ended. A copy left on one node is logged, not failed: a call
// that timed out on a node may land there after the release (docs/design.md),
// and it expires at its ttl.
func (s *testNodes) checkReleased(t *testing.T, key, stderr string) {
	t.Helper()
	n := s.holders(key)
	if n == 0 {
		return
	}
	report := t.Logf
	if n >= len(s.ms)/2+1 {
		report = t.Errorf
	}
	for i, m := range s.ms {
		if v, err := m.Get(lockKey(key)); err == nil {
			report("node %d: the lock %q is left: %q, ttl %v", i, key, v, m.TTL(lockKey(key)))
		}
	}
	report("exec's stderr: %s", stderr)
}

// lockKey is the name of a lock on the nodes, with the default prefix.
func lockKey(key string) string { return "quorumlock:lock:{" + key + "}" }

// proc is a running quorumlock subprocess.
type proc struct {
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	stdout, stderr bytes.Buffer
}

// cleanEnv is the test process's environment without QUORUMLOCK_ variables.
// A binary built with -race sleeps a second at exit unless GORACE says not to.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "QUORUMLOCK_") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	env = append(env, strings.TrimSpace("GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return append(env, extra...)
}

// start starts the binary with args and env (nil: the clean environment).
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	bin := quorumlockBin(t)
	if env == nil {
		env = cleanEnv()
	}
	ctx, cancel := context.WithTimeout(context.Background(), procBound)
	p := &proc{cancel: cancel}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.WaitDelay = time.Second
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %v: %v", args, err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		cancel()
	})
	return p
}

// wait waits for the process and returns its exit status.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	p.cancel()
	code := p.cmd.ProcessState.ExitCode()
	if code < 0 {
		t.Fatalf("%v: %v (killed after %v?)\nstdout: %s\nstderr: %s", p.cmd.Args[1:], err, procBound, &p.stdout, &p.stderr)
	}
	return code
}

// runBin runs the binary to its end: exit status, stdout, stderr.
func runBin(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	p := start(t, env, args...)
	code := p.wait(t)
	return code, p.stdout.String(), p.stderr.String()
}

// waitFile waits until path exists and returns its contents.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(eventBound)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, eventBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loopUntilSignalled is a shell script that touches $1 and then runs until
// signalled; set traps before it.
const loopUntilSignalled = `touch "$1"; while :; do sleep 0.02; done`

// TestExec runs the exec tests in parallel with one another, but as one
// sequential test, before the package's parallel tests (demo, chaos): those
// run embedded nodes with the default 100ms node timeout, and the build and
// the subprocesses are load they need not share.
func TestExec(t *testing.T) {
	for _, c := range []struct {
		name string
		test func(*testing.T)
	}{
		{"RunsTheCommandWithAFence", execRunsTheCommandWithAFence},
		{"HoldsTheLockWhileTheCommandRuns", execHoldsTheLockWhileTheCommandRuns},
		{"StopsTheCommandWhenTheLockIsLost", execStopsTheCommandWhenTheLockIsLost},
		{"KillsACommandThatIgnoresTERM", execKillsACommandThatIgnoresTERM},
		{"PassesSignalsOnAndReleases", execPassesSignalsOnAndReleases},
		{"ReportsASignalledCommandAsShellsDo", execReportsASignalledCommandAsShellsDo},
		{"CommandNotRunnable", execCommandNotRunnable},
		{"WithoutAQuorum", execWithoutAQuorum},
		{"NodesFromTheEnvironment", execNodesFromTheEnvironment},
		{"UsageErrors", execUsageErrors},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t)
		})
	}
}

func execRunsTheCommandWithAFence(t *testing.T) {
	nodes := startNodes(t, 3)
	dir := t.TempDir()
	fence := func(run int, exit string) uint64 {
		t.Helper()
		out := filepath.Join(dir, "env"+strconv.Itoa(run))
		code, stdout, stderr := runBin(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", testNodeTimeout, "--key", "job", "--ttl", "5s", "--",
			"sh", "-c", `echo "$QUORUMLOCK_FENCE $QUORUMLOCK_KEY" > "$1"; echo out; echo err >&2; exit `+exit, "sh", out)
		if want, _ := strconv.Atoi(exit); code != want {
			t.Fatalf("run %d: exit status %d, want the command's %d\nstderr: %s", run, code, want, stderr)
		}
		if stdout != "out\n" || stderr != "err\n" {
			t.Fatalf("run %d: the command's output was not passed through: stdout %q, stderr %q", run, stdout, stderr)
		}
		nodes.checkReleased(t, "job", stderr)
		fields := strings.Fields(waitFile(t, out))
		if len(fields) != 2 || fields[1] != "job" {
			t.Fatalf("run %d: the command saw QUORUMLOCK_FENCE QUORUMLOCK_KEY = %q", run, fields)
		}
		f, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil || f == 0 {
			t.Fatalf("run %d: QUORUMLOCK_FENCE %q, want a positive number", run, fields[0])
		}
		return f
	}
	first := fence(1, "3")
	second := fence(2, "0")
	if second <= first {
		t.Fatalf("fences %d then %d: not increasing", first, second)
	}
}

func execHoldsTheLockWhileTheCommandRuns(t *testing.T) {
	nodes := startNodes(t, 3)
	dir := t.TempDir()
	started, done := filepath.Join(dir, "started"), filepath.Join(dir, "done")
	first := start(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", keepNodeTimeout, "--key", "cron", "--ttl", keepTTL, "--",
		"sh", "-c", `touch "$1"; while [ ! -e "$2" ]; do sleep 0.02; done`, "sh", started, done)
	waitFile(t, started)
	time.Sleep(1600 * time.Millisecond) // longer than keepTTL: only KeepAlive keeps the lock

	code, _, stderr := runBin(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", testNodeTimeout, "--key", "cron", "--ttl", "5s", "--wait", "0", "--", "true")
	if code != exitNotObtained {
		t.Fatalf("second exec while the first runs: exit status %d, want %d\nstderr: %s\nfirst's stderr: %s", code, exitNotObtained, stderr, &first.stderr)
	}
	if !strings.Contains(stderr, `"cron"`) || !strings.Contains(stderr, "held by") {
		t.Errorf("second exec's message does not name the key and the holder: %q", stderr)
	}

	if err := os.WriteFile(done, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := first.wait(t); code != 0 {
		t.Fatalf("first exec: exit status %d\nstderr: %s", code, &first.stderr)
	}
	code, _, stderr = runBin(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", testNodeTimeout, "--key", "cron", "--ttl", "5s", "--wait", "0", "--", "true")
	if code != 0 {
		t.Fatalf("third exec after the first ended: exit status %d\nstderr: %s", code, stderr)
	}
}

// steal replaces the lock on nodes is with another client's value, as if it
// had been lost there and taken by someone else.
func steal(nodes *testNodes, key string, is ...int) {
	for _, i := range is {
		nodes.ms[i].Del(lockKey(key))
		nodes.ms[i].Set(lockKey(key), "thief:1/AAAAAAAAAAAAAAAAAAAAAA")
	}
}

func execStopsTheCommandWhenTheLockIsLost(t *testing.T) {
	nodes := startNodes(t, 3)
	dir := t.TempDir()
	started, termed := filepath.Join(dir, "started"), filepath.Join(dir, "termed")
	p := start(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", keepNodeTimeout, "--key", "lost", "--ttl", keepTTL, "--grace", "10s", "--",
		"sh", "-c", `trap 'echo TERM > "$2"; exit 0' TERM; `+loopUntilSignalled, "sh", started, termed)
	waitFile(t, started)
	steal(nodes, "lost", 0, 1) // a majority: KeepAlive's next refresh finds it gone
	if code := p.wait(t); code != exitLost {
		t.Fatalf("exit status %d, want %d\nstderr: %s", code, exitLost, &p.stderr)
	}
	if got := waitFile(t, termed); got != "TERM\n" {
		t.Fatalf("the command wrote %q, want TERM from its trap", got)
	}
	if !strings.Contains(p.stderr.String(), "lost the lock") {
		t.Errorf("stderr does not say the lock was lost: %s", &p.stderr)
	}
	for _, i := range []int{0, 1} {
		if v, _ := nodes.ms[i].Get(lockKey("lost")); !strings.HasPrefix(v, "thief") {
			t.Errorf("node %d: the new holder's lock was touched: %q", i, v)
		}
	}
}

func execKillsACommandThatIgnoresTERM(t *testing.T) {
	nodes := startNodes(t, 3)
	started := filepath.Join(t.TempDir(), "started")
	p := start(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", keepNodeTimeout, "--key", "stubborn", "--ttl", keepTTL, "--grace", "200ms", "--",
		"sh", "-c", `trap '' TERM; `+loopUntilSignalled, "sh", started)
	waitFile(t, started)
	steal(nodes, "stubborn", 1, 2)
	if code := p.wait(t); code != exitLost {
		t.Fatalf("exit status %d, want %d\nstderr: %s", code, exitLost, &p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "SIGKILL") {
		t.Errorf("stderr does not tell of SIGKILL: %s", &p.stderr)
	}
}

func execPassesSignalsOnAndReleases(t *testing.T) {
	nodes := startNodes(t, 3)
	dir := t.TempDir()
	started, got := filepath.Join(dir, "started"), filepath.Join(dir, "got")
	p := start(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", testNodeTimeout, "--key", "sig", "--ttl", "5s", "--",
		"sh", "-c", `trap 'echo INT > "$2"; exit 5' INT; `+loopUntilSignalled, "sh", started, got)
	waitFile(t, started)
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 5 {
		t.Fatalf("exit status %d, want the command's 5\nstderr: %s", code, &p.stderr)
	}
	if s := waitFile(t, got); s != "INT\n" {
		t.Fatalf("the command wrote %q, want INT from its trap", s)
	}
	nodes.checkReleased(t, "sig", p.stderr.String())
}

func execReportsASignalledCommandAsShellsDo(t *testing.T) {
	nodes := startNodes(t, 3)
	code, _, stderr := runBin(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", testNodeTimeout, "--key", "k", "--ttl", "5s", "--", "sh", "-c", "kill -KILL $$")
	if code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit status %d, want %d\nstderr: %s", code, 128+int(syscall.SIGKILL), stderr)
	}
}

func execCommandNotRunnable(t *testing.T) {
	nodes := startNodes(t, 3)
	notExec := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  string
		want int
	}{
		{"quorumlock-no-such-command", exitNotFound},
		{"/nonexistent/quorumlock-no-such-command", exitNotFound},
		{notExec, exitCannotExecute},
	} {
		code, _, stderr := runBin(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", testNodeTimeout, "--key", "k", "--ttl", "5s", "--", c.cmd)
		if code != c.want {
			t.Errorf("%s: exit status %d, want %d\nstderr: %s", c.cmd, code, c.want, stderr)
		}
		if !strings.Contains(stderr, filepath.Base(c.cmd)) {
			t.Errorf("%s: message does not name the command: %q", c.cmd, stderr)
		}
		nodes.checkReleased(t, "k", stderr)
	}
}

func execWithoutAQuorum(t *testing.T) {
	nodes := startNodes(t, 3)
	nodes.ms[0].Close()
	nodes.ms[2].Close()
	code, _, stderr := runBin(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", testNodeTimeout, "--key", "k", "--ttl", "5s", "--", "true")
	if code != exitNotObtained {
		t.Fatalf("exit status %d, want %d\nstderr: %s", code, exitNotObtained, stderr)
	}
	if !strings.Contains(stderr, `"k"`) || !strings.Contains(stderr, "too few nodes") {
		t.Errorf("message does not name the key and the cause: %q", stderr)
	}
}

func execNodesFromTheEnvironment(t *testing.T) {
	nodes := startNodes(t, 3)
	code, _, stderr := runBin(t, cleanEnv("QUORUMLOCK_NODES="+nodes.flag()), "exec", "--node-timeout", testNodeTimeout, "--key", "k", "--ttl", "5s", "--", "sh", "-c", "exit 4")
	if code != 4 {
		t.Fatalf("exit status %d, want 4\nstderr: %s", code, stderr)
	}
}

func execUsageErrors(t *testing.T) {
	nodes := startNodes(t, 3)
	n := nodes.flag()
	// In the binary: these reach the nodes' configuration or the Locker.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "--key", "k", "--ttl", "5s", "--", "true"}, "QUORUMLOCK_NODES"},
		{[]string{"exec", "--nodes", "http://x", "--key", "k", "--ttl", "5s", "--", "true"}, "scheme"},
		{[]string{"exec", "--nodes", n, "--key", "k", "--ttl", "150ms", "--", "true"}, "ttl"}, // more than twice the default node timeout
	} {
		code, _, stderr := runBin(t, nil, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit status %d, stderr %q; want %d and %q", c.args, code, stderr, exitUsage, c.want)
		}
	}
	// In process: these never get past the flags.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"exec"}, "--key is required"},
		{[]string{"exec", "--key", "k", "--", "true"}, "--ttl is required"},
		{[]string{"exec", "--key", "k", "--ttl", "5s"}, "no command"},
		{[]string{"exec", "--key", "k", "--ttl", "5s", "--wait", "-1s", "true"}, "negative"},
		{[]string{"exec", "--key", "k", "--ttl", "5s", "--grace", "-1s", "true"}, "negative"},
		{[]string{"exec", "--bogus"}, "flag provided but not defined"},
		{[]string{"exec", "--ttl", "soon"}, "not a duration"},
	} {
		var out, errOut bytes.Buffer
		if code := run(c.args, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%q: exit status %d, stderr %q; want %d and %q", c.args, code, errOut.String(), exitUsage, c.want)
		}
	}
	var out, errOut bytes.Buffer // help asked for: status 0
	if code := run([]string{"exec", "-h"}, &out, &errOut); code != exitOK || !strings.Contains(errOut.String(), "Exit status:") {
		t.Errorf("-h: exit status %d, want 0 and the help text", code)
	}
}
