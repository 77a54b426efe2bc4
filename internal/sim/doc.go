// Package sim runs the real quorumlock Locker, unchanged, against simulated
// Redis nodes in virtual time, inside a testing/synctest bubble: miniredis
// servers reached through in-memory links that the simulator delays, holds,
// cuts and drops, node clocks that drift or jump, nodes that crash and come
// back empty or whole. One seed chooses everything: the nodes and Lockers,
// the operations, the faults and every delay (each delay is a function of
// the seed, the link, the moment and the bytes sent, not of the order in
// which goroutines happen to run). The history checker (internal/history)
// judges each run.
//
// A run is a schedule: Run(t, seed, cfg). The tests in this package run
// thousands of them; see docs/simulation.md for how to run, replay and read
// them.
package sim
