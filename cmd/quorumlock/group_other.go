//go:build !unix

package main

import (
	"io"
	"os"
	"os/exec"
	"syscall"
)

// Outside Unix there are no process groups to signal, and no guard: the
// command's process alone is signalled, and it outlives a quorumlock that
// dies.

const guardArg = "__exec-guard"

func groupAttr() *syscall.SysProcAttr { return nil }

func signalGroup(cmd *exec.Cmd, sig os.Signal) {
	if err := cmd.Process.Signal(sig); err != nil {
		cmd.Process.Kill() // signals cannot be sent here: it is killed
	}
}

func guard(io.Writer) (started func(int), ended func()) { return func(int) {}, func() {} }

func endGroup(*exec.Cmd) {}

func restoreForeground(*exec.Cmd) {}

func runGuard() int { return exitFail }
