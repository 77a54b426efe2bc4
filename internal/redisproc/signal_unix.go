//go:build unix

package redisproc

import "syscall"

// The signals used to crash, hang and heal a server.
const (
	sigKill = syscall.SIGKILL
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

// platformErr is nil: servers can be started and controlled here.
var platformErr error

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	return syscall.Kill(-pid, sig)
}
