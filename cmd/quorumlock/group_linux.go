package main

import (
	"os/signal"
	"syscall"
	"unsafe"
)

// setDeathSignal has the command's process killed when the thread that
// started it ends: in a Go program, when the process does (the runtime
// ends a thread only with a goroutine locked to it, and quorumlock locks
// none).
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// foregroundTerminal reports whether quorumlock's stdin is a terminal
// whose foreground process group is quorumlock's.
func foregroundTerminal() bool {
	var pgrp int32
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCGPGRP, uintptr(unsafe.Pointer(&pgrp)))
	return e == 0 && int(pgrp) == syscall.Getpgrp()
}

// takeForeground gives the terminal's foreground back to quorumlock's
// process group once a command that had it ended (a process outside the
// foreground may do so only with SIGTTOU ignored).
func takeForeground() {
	signal.Ignore(syscall.SIGTTOU)
	pgrp := int32(syscall.Getpgrp())
	syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCSPGRP, uintptr(unsafe.Pointer(&pgrp)))
}
