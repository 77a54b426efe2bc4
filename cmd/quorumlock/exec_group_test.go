//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// spawnsAChild is a shell script that starts a child of its own, writes
// the child's pid to $1 and waits for it: what a cron job's script does.
const spawnsAChild = `sleep 300 & echo $! > "$1"; wait`

// gone reports whether the process pid has ended (a zombie has: it only
// waits for its parent to read its status).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// waitGone waits until pid has ended, failing after eventBound.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(eventBound)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs %v later", what, pid, eventBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// childOf starts exec with spawnsAChild and returns the process and the
// script's child's pid, which is killed at the test's end whatever happens.
func childOf(t *testing.T, nodes *testNodes, key string) (*proc, int) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "child")
	p := start(t, nil, "exec", "--nodes", nodes.flag(), "--node-timeout", testNodeTimeout, "--key", key, "--ttl", "5s", "--",
		"sh", "-c", spawnsAChild, "sh", pidFile)
	s := waitFile(t, pidFile)
	for !strings.HasSuffix(s, "\n") { // written, perhaps not yet to the end
		time.Sleep(10 * time.Millisecond)
		s = waitFile(t, pidFile)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("the script's child's pid: %q", s)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return p, pid
}

// TestExecProcessGroup: the command runs in a process group of its own,
// which quorumlock signals as a whole, and which ends when quorumlock dies.
func TestExecProcessGroup(t *testing.T) {
	t.Run("SignalsTheWholeCommand", execSignalsTheWholeCommand)
	t.Run("CommandDiesWithQuorumlock", execCommandDiesWithQuorumlock)
}

// execSignalsTheWholeCommand: a signal passed on reaches the command's
// children too (its process group), not the command's process alone.
func execSignalsTheWholeCommand(t *testing.T) {
	nodes := startNodes(t, 3)
	p, child := childOf(t, nodes, "group")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit status %d, want %d\nstderr: %s", code, 128+int(syscall.SIGTERM), &p.stderr)
	}
	waitGone(t, child, "the script's child, after quorumlock passed SIGTERM on")
	nodes.checkReleased(t, "group", p.stderr.String())
}

// execCommandDiesWithQuorumlock: when quorumlock itself is killed (SIGKILL,
// the OOM killer), the command and its children end too: nothing runs on
// without the lock while another instance obtains it once its ttl passed.
func execCommandDiesWithQuorumlock(t *testing.T) {
	nodes := startNodes(t, 3)
	p, child := childOf(t, nodes, "orphan")
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	waitGone(t, child, "the script's child, after quorumlock was killed")
}
