package quorumlock

// The names quorumlock uses on each node, under the key prefix:
//
//	<prefix>lock:{<key>}   the lock: its value, expiring with its ttl
//	<prefix>fence:{<key>}  the fencing counter of the key (WithFencing); never expires
//	<prefix>node           the node's marker: the longest ttl ever granted through it
//
// The braces keep a lock and its counter in one Redis Cluster slot. The
// marker's absence on a node while other nodes have theirs means that the
// node came back from a restart without its data (see restart quarantine).

func (l *Locker) lockKey(key string) string  { return l.opts.keyPrefix + "lock:{" + key + "}" }
func (l *Locker) fenceKey(key string) string { return l.opts.keyPrefix + "fence:{" + key + "}" }
func (l *Locker) markerKey() string          { return l.marker }
