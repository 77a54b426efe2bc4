package quorumlock

import "strings"

// The names quorumlock uses on each node, under the key prefix:
//
//	<prefix>lock:{<key>}   the lock: its value, expiring with its ttl
//	<prefix>fence:{<key>}  the fencing counter of the key (WithFencing); never expires
//	<prefix>wait:{<key>}   the key's waiters by the time they came (a sorted set
//	                       of waiter ids, scored in the node's ms), expiring with the last lease
//	<prefix>lease:{<key>}  the same waiters by the end of their lease
//	<prefix>node           the node's marker (see the restart quarantine)
//
// The braces keep a lock, its counter and its waiters in one Redis Cluster
// slot: the slot is hashed from what stands between the first "{" and the next "}".
// Inside them the key is escaped ("\" as "\\", "}" as "\]"), so that no key
// ends the hash tag early or leaves it empty, and distinct keys keep
// distinct names; a key without those characters stands as it is.

func (l *Locker) lockKey(key string) string { return l.opts.keyPrefix + "lock:{" + hashTag(key) + "}" }
func (l *Locker) fenceKey(key string) string {
	return l.opts.keyPrefix + "fence:{" + hashTag(key) + "}"
}
func (l *Locker) waitKey(key string) string {
	return l.opts.keyPrefix + "wait:{" + hashTag(key) + "}"
}
func (l *Locker) leaseKey(key string) string {
	return l.opts.keyPrefix + "lease:{" + hashTag(key) + "}"
}
func (l *Locker) markerKey() string { return l.marker }

var tagEscaper = strings.NewReplacer(`\`, `\\`, `}`, `\]`)

// hashTag escapes key for use between the braces of a hash tag.
func hashTag(key string) string {
	if !strings.ContainsAny(key, `\}`) {
		return key
	}
	return tagEscaper.Replace(key)
}

// markerName is the node marker's key, after the prefix.
const markerName = "node"
