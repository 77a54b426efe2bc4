package quorumlock

import (
	"crypto/sha1"
	"encoding/hex"

	redsyncredis "github.com/go-redsync/redsync/v4/redis"
)

// The scripts quorumlock runs on each node besides redsync's SET NX PX.
// KEYS[1] is the lock's key, ARGV[1] the lock's random value.
var (
	// acquireScript is SET NX PX that, where the key is taken, returns the
	// holder's remaining milliseconds instead, so a waiter knows when to try
	// again: -5 when set, else the PTTL (-1: no expiry).
	acquireScript = newScript(`if redis.call("set", KEYS[1], ARGV[1], "nx", "px", ARGV[2]) then return -5 end
return redis.call("pttl", KEYS[1])`)

	// releaseScript deletes the key only if it still holds our value, and
	// then tells the waiters: a message on the channel named like the key,
	// carrying the value, so that a waiter counts one release once however
	// many nodes announce it.
	releaseScript = newScript(`if redis.call("get", KEYS[1]) == ARGV[1] then redis.call("del", KEYS[1]) redis.call("publish", KEYS[1], ARGV[1]) return 1 end
return 0`)

	// ttlScript returns the key's remaining milliseconds if it holds our value, else -3.
	ttlScript = newScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pttl", KEYS[1]) else return -3 end`)

	// refreshScript sets the remaining time to ARGV[2] ms where the value
	// matches (1); where the key is gone and ARGV[3] is "1", takes it again (2); else 0.
	refreshScript = newScript(`local v = redis.call("get", KEYS[1])
if v == ARGV[1] then redis.call("pexpire", KEYS[1], ARGV[2]) return 1 end
if v == false and ARGV[3] == "1" then redis.call("set", KEYS[1], ARGV[1], "px", ARGV[2]) return 2 end
return 0`)
)

func newScript(src string) *redsyncredis.Script {
	sum := sha1.Sum([]byte(src))
	return redsyncredis.NewScript(1, src, hex.EncodeToString(sum[:]))
}
