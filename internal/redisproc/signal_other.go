//go:build !unix

package redisproc

import (
	"errors"
	"syscall"
)

// Process groups and job-control signals do not exist here; the package
// compiles, but starting a server fails and Require's lookup will usually
// skip the test first.
const (
	sigKill = syscall.SIGKILL
	sigStop = syscall.Signal(-1)
	sigCont = syscall.Signal(-2)
)

// errUnsupported is returned by everything that needs POSIX signals.
var errUnsupported = errors.New("redisproc: process control needs a unix system")

// platformErr makes Start fail here, before any process is launched.
var platformErr = errUnsupported

// sysProcAttr is nil: no process-group control here.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup is unsupported on this platform.
func signalGroup(pid int, sig syscall.Signal) error { return errUnsupported }
