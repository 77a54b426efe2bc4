//go:build linux

package redisproc

import "syscall"

// sysProcAttr puts the server in its own process group, so a terminal ^C
// reaches only the test binary, and asks the kernel to SIGKILL the server if
// the test binary dies.
//
// Pdeathsig fires when the OS thread that forked the child exits, not the
// process (golang.org/issue/27505). The Go runtime only ends a thread when a
// goroutine exits while locked to it with runtime.LockOSThread; this package
// never does that, so unless other code in the test binary does, it fires
// exactly when the test binary exits or is killed (including by ^C).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
