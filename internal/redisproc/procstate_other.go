//go:build !linux

package redisproc

// waitStopped cannot observe process state without /proc; signals to a
// running process are delivered promptly, so it returns at once.
func waitStopped(pid int, stopped bool) error { return nil }
