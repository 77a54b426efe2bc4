package quorumlock

import (
	"crypto/sha1"
	"encoding/hex"

	redsyncredis "github.com/go-redsync/redsync/v4/redis"
)

// The scripts quorumlock runs on each node besides redsync's SET NX PX.
// KEYS[1] is the lock's key, ARGV[1] the lock's random value.
var (
	// acquireScript is SET NX PX on KEYS[1] with value ARGV[1] and ttl
	// ARGV[2] ms. With ARGV[3] "m" or "q" it keeps the node's marker
	// KEYS[2], "<longest ttl granted here, ms>:<unix seconds it was made>";
	// with "q" it refuses, status 2, where the marker is missing: the node
	// may have restarted without its data, and the client decides. With
	// ARGV[4] "1" it reads the fencing counter KEYS[3]. It returns {status,
	// holder's pttl, counter, longest ttl, marker age in seconds, holder's
	// value}: status 1 set (or already ours: a retry of this very call), 0
	// taken (with the holder's remaining ms and value).
	acquireScript = newScript(3, `local m, age = -1, 0
if ARGV[3] ~= "" then
  local now = redis.call("time")[1]
  local made = now
  local v = redis.call("get", KEYS[2])
  if v then
    local a, b = string.match(v, "^(%d+):(%d+)$")
    m, made = tonumber(a or "0"), b or "0"
  elseif ARGV[3] == "q" then
    return {2, 0, 0, -1, 0}
  end
  if m < tonumber(ARGV[2]) then redis.call("set", KEYS[2], ARGV[2] .. ":" .. made) m = tonumber(ARGV[2]) end
  age = tonumber(now) - tonumber(made)
end
local f = 0
if ARGV[4] == "1" then f = tonumber(redis.call("get", KEYS[3]) or "0") end
local cur = redis.call("get", KEYS[1])
if cur == ARGV[1] then return {1, 0, f, m, age} end
if cur then return {0, redis.call("pttl", KEYS[1]), f, m, age, cur} end
redis.call("set", KEYS[1], ARGV[1], "px", ARGV[2])
return {1, 0, f, m, age}`)

	// readMarkerScript reads the node's marker KEYS[1]: {longest ttl ms, age
	// in seconds}, or {-1, 0} when it is missing.
	readMarkerScript = newScript(1, `local v = redis.call("get", KEYS[1])
if not v then return {-1, 0} end
local a, b = string.match(v, "^(%d+):(%d+)$")
return {tonumber(a or "0"), tonumber(redis.call("time")[1]) - tonumber(b or "0")}`)

	// markScript writes the node's marker KEYS[1] where it is missing, with
	// longest ttl ARGV[1] and the node's time.
	markScript = newScript(1, `redis.call("set", KEYS[1], ARGV[1] .. ":" .. redis.call("time")[1], "nx") return 1`)

	// inspectScript reads the lock KEYS[1], its remaining ms and the
	// fencing counter KEYS[2]: {value or "", pttl, counter}.
	inspectScript = newScript(2, `return {redis.call("get", KEYS[1]) or "", redis.call("pttl", KEYS[1]), tonumber(redis.call("get", KEYS[2]) or "0")}`)

	// fenceScript raises the fencing counter KEYS[1] to ARGV[1] if lower.
	fenceScript = newScript(1, `local c = tonumber(redis.call("get", KEYS[1]) or "0")
if c < tonumber(ARGV[1]) then redis.call("set", KEYS[1], ARGV[1]) end
return 1`)

	// releaseScript deletes the key only if it still holds our value, and
	// then tells the waiters: a message on the channel named like the key,
	// carrying the value, so that a waiter counts one release once however
	// many nodes announce it.
	releaseScript = newScript(1, `if redis.call("get", KEYS[1]) == ARGV[1] then redis.call("del", KEYS[1]) redis.call("publish", KEYS[1], ARGV[1]) return 1 end
return 0`)

	// ttlScript returns the key's remaining milliseconds if it holds our value, else -3.
	ttlScript = newScript(1, `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pttl", KEYS[1]) else return -3 end`)

	// refreshScript sets the remaining time to ARGV[2] ms where the value
	// matches (1); where the key is gone and ARGV[3] is "1", takes it again (2); else 0.
	refreshScript = newScript(1, `local v = redis.call("get", KEYS[1])
if v == ARGV[1] then redis.call("pexpire", KEYS[1], ARGV[2]) return 1 end
if v == false and ARGV[3] == "1" then redis.call("set", KEYS[1], ARGV[1], "px", ARGV[2]) return 2 end
return 0`)
)

func newScript(keys int, src string) *redsyncredis.Script {
	sum := sha1.Sum([]byte(src))
	return redsyncredis.NewScript(keys, src, hex.EncodeToString(sum[:]))
}
