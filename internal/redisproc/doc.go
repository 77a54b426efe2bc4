// Package redisproc starts real redis-server processes on loopback for
// integration and chaos tests.
//
// Each [Server] is one redis-server bound to 127.0.0.1 on a port that it keeps
// for its whole life, so clients can be pointed at [Server.Addr] once and the
// test can then crash ([Server.Kill]), hang ([Server.Stop]), heal
// ([Server.Cont]) and bring back ([Server.Restart]) the node underneath them.
// A [Set] is N independent servers, the shape of a quorum deployment.
//
// Tests call [Require] (or [StartSet], which calls it) so that they skip on a
// machine without redis-server, unless QUORUMLOCK_REQUIRE_REDIS=1 is set (as
// in CI), in which case a missing binary fails the test instead.
//
// Servers run in their own process group and, on Linux, are sent SIGKILL by
// the kernel when the test binary dies, so an interrupted test run does not
// leave redis-server processes behind.
package redisproc
