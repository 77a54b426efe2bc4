//go:build unix && !linux

package redisproc

import "syscall"

// sysProcAttr puts the server in its own process group, so a terminal ^C
// reaches only the test binary. There is no Pdeathsig outside Linux: Close
// and StartSet's cleanup stop servers on every orderly exit of a test, but a
// test binary killed outright leaves its servers running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
