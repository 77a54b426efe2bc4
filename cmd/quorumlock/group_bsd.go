//go:build unix && !linux

package main

import "syscall"

// setDeathSignal does nothing here: only Linux has a parent-death signal;
// the guard alone stops the command should quorumlock die.
func setDeathSignal(*syscall.SysProcAttr) {}

// foregroundTerminal reports false: outside Linux the command does not get
// the terminal's foreground, and one that reads the terminal stops.
func foregroundTerminal() bool { return false }

// takeForeground does nothing: the command never had the foreground.
func takeForeground() {}
