// Package quorumlockotel records what a quorumlock.Locker does as
// OpenTelemetry metrics, and optionally spans, through quorumlock.Hooks.
//
//	hooks, err := quorumlockotel.Hooks()
//	if err != nil { ... }
//	locker, err := quorumlock.FromEnv(quorumlock.WithHooks(hooks))
//
// Metrics, all under the instrumentation scope
// "github.com/quorumlock/quorumlock/otel":
//
//	quorumlock.obtain.duration  histogram, s          quorumlock.result
//	quorumlock.obtain.attempts  counter, {attempt}    quorumlock.result
//	quorumlock.round.duration   histogram, s          quorumlock.op, quorumlock.outcome
//	quorumlock.node.errors      counter, {error}      quorumlock.op, server.address, server.port, error.type
//	quorumlock.lock.lost        counter, {lock}       (none)
//
// quorumlock.result is "obtained", "not_obtained" (held elsewhere, or the
// wait ran out), "error" (nodes failed, bad arguments, a closed Locker) or
// "canceled" (the caller's context ended). quorumlock.op is the Locker's
// round: "obtain", "fence", "refresh", "ttl", "release", "cleanup", and
// "quarantine" on quorumlock.node.errors when a node enters restart
// quarantine. quorumlock.outcome is "reached", "missed" or "canceled".
// error.type is "timeout", "canceled", "connection_refused", "quarantine"
// or "_OTHER".
//
// The lock key is left out of metric attributes, where it would make one
// series per key; WithKeyAttribute(true) adds it as quorumlock.key. Node
// addresses come from the Locker without credentials.
package quorumlockotel
