// Command quorumlock runs the quorumlock demo and tools.
//
//	quorumlock demo    the single-node Locker's three examples on five embedded nodes
//	quorumlock chaos   a fault-injection campaign under a mutual-exclusion checker
//	quorumlock exec    run a command while holding a lock (flock(1) across machines)
//	quorumlock status  what the nodes say of a lock: holder, remaining time, quorum
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage: quorumlock <command> [flags]

commands:
  demo      run the three examples of the single-node Locker's documentation
            on five embedded Redis nodes (miniredis), TTLs in real time
  chaos     kill, restart, hang, slow down and partition embedded nodes while
            clients lock; report operations, faults, latency and violations
  exec      run a command while holding a lock on a quorum of nodes, like
            flock(1) across machines: for cron jobs on many hosts
  status    print who holds a lock on each node and as a quorum sees it

Run 'quorumlock <command> -h' for a command's flags.
`

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "chaos":
		return runChaos(args[1:], stdout, stderr)
	case "exec":
		return runExec(args[1:], stdout, stderr)
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case guardArg: // exec's guard (group_unix.go), not for users
		return runGuard()
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, version())
		return exitOK
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "quorumlock: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// parseStatus is the exit status after a flag parsing error: 0 when help
// was asked for (-h, --help), 2 otherwise.
func parseStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
