// Package chaos runs lock workloads against N Redis nodes while injecting
// faults (crashes, restarts, hangs, slow links, partitions, clock jumps,
// client pauses), records every operation in a history, and checks the
// history for two holders valid at once. The chaos tests and the
// `quorumlock chaos` command share it. Test machinery only: the library
// never imports it.
package chaos
