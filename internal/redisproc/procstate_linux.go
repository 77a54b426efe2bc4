//go:build linux

package redisproc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// stateTimeout bounds how long Stop and Cont wait for the kernel to apply
// the signal.
const stateTimeout = 2 * time.Second

// procState returns the state letter of pid from /proc/<pid>/stat
// ('R', 'S', 'T' for stopped, ...).
func procState(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// "pid (comm) S ...": comm may contain spaces and parentheses, so
	// look after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, b)
	}
	return b[i+2], nil
}

// waitStopped waits until pid is (stopped == true) or is no longer
// (stopped == false) in the stopped state, so that Stop and Cont return only
// once the node really hangs or runs. A process that has exited counts as
// settled: the caller's exit handling takes over.
func waitStopped(pid int, stopped bool) error {
	deadline := time.Now().Add(stateTimeout)
	for {
		st, err := procState(pid)
		if err != nil {
			return nil
		}
		if isStopped := st == 'T' || st == 't'; isStopped == stopped || st == 'Z' || st == 'X' {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still in state %q after %v", pid, st, stateTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}
