// Package quorumlock provides distributed locks held on a quorum of N
// independent Redis nodes (the Redlock algorithm, on go-redsync's node
// abstraction and go-redis clients), so that a node that dies, hangs or
// restarts neither stops locking nor lets two holders in.
//
// It keeps the small API of a single-node locker:
//
//	locker, err := quorumlock.FromEnv() // QUORUMLOCK_NODES=redis://a:6379,redis://b:6379,redis://c:6379
//	...
//	lock, obtained := locker.Obtain("job", time.Minute, 5*time.Second)
//	if !obtained {
//		return
//	}
//	defer lock.Release()
//
// and adds Context forms that return errors usable with errors.Is and
// errors.As. A lock is valid for its ttl less the time the round took and a
// clock-drift allowance; TTL tells what is left on a quorum, Refresh sets it
// anew. The operating rules that keep Redlock safe (independent masters,
// delayed restarts, steady clocks) are in the README.
package quorumlock
