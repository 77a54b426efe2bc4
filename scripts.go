package quorumlock

import (
	"crypto/sha1"
	"encoding/hex"

	redsyncredis "github.com/go-redsync/redsync/v4/redis"
)

// The scripts quorumlock runs on each node besides redsync's SET NX PX.
// KEYS[1] is the lock's key, ARGV[1] the lock's random value.
var (
	// acquireScript sets KEYS[1] to the value ARGV[1] with a ttl of ARGV[2]
	// ms where it is free, or finds it already set to it (a retry of this
	// very call). With ARGV[3] "q" (the connection was checked when made)
	// or "v" (check here that the marker is of this start) the node decides
	// its restart quarantine from its marker KEYS[2] (quarantine.go):
	// absent, from another start or pending, it refuses; quarantined, it
	// refuses until its time passed the end; a ttl above what it may grant,
	// it refuses. With ARGV[4] "1" it reads the fencing counter KEYS[3].
	// ARGV[5] is a nonce for a new pending id. ARGV[6], when not "", is the
	// caller's waiter id (waitroom.go): where the key is taken, the waiter
	// joins the key's waiters, KEYS[4] by the time it first came and
	// KEYS[5] by the end of its lease, ARGV[7] ms from now; where it
	// obtains, it leaves them. ARGV[8] starts the ids of the caller's
	// Locker's waiters, and ARGV[9] says how many others the caller's
	// Locker has on the key: up to 32 waiters, their ids tell whether
	// another Locker's are among them; beyond, their number does, more than
	// ARGV[9]. (A caller that does not wait runs it as
	// acquireAloneScript, without KEYS[4], KEYS[5] and ARGV[6-9].) It returns {status, ms,
	// counter, text}: 1 set, with 1 in ms when the caller waited and
	// waiters of other Lockers may be left; 0 taken, with the holder's
	// remaining ms and value; 2 pending, with its id; 3 quarantined, with
	// the ms left; 4 the ttl must be announced first.
	acquireScript = newScript(5, markerLua+`local f = 0
if ARGV[4] == "1" then f = tonumber(redis.call("get", KEYS[3]) or "0") end
local waiter = ARGV[6] or ""
local cur = redis.call("get", KEYS[1])
if cur ~= ARGV[1] then
  if ARGV[3] ~= "" then
    local run = nil
    if ARGV[3] == "v" then run = runid() end
    local m = redis.call("get", KEYS[2])
    local c, a, g = own(m, run)
    if not c then return {2, 0, f, pending(KEYS[2], m, run or runid(), ARGV[5])} end
    if not cur and g > 0 then
      local left = g - nowms()
      if left > 0 then return {3, left, f, ""} end
    end
    if not cur and c < tonumber(ARGV[2]) then return {4, 0, f, ""} end
  end
  if cur then
    if waiter ~= "" then
      local now, lease = nowms(), tonumber(ARGV[7])
      redis.call("zadd", KEYS[4], "nx", now, waiter)
      redis.call("zadd", KEYS[5], now + lease, waiter)
      for k = 4, 5 do
        if redis.call("pttl", KEYS[k]) < lease then redis.call("pexpire", KEYS[k], lease) end
      end
    end
    return {0, redis.call("pttl", KEYS[1]), f, cur}
  end
  redis.call("set", KEYS[1], ARGV[1], "px", ARGV[2])
end
if waiter == "" then return {1, 0, f, ""} end
redis.call("zrem", KEYS[4], waiter)
redis.call("zrem", KEYS[5], waiter)
local others = 0
local n = redis.call("zcard", KEYS[4])
if n > 32 then
  if n > tonumber(ARGV[9]) then others = 1 end
else
  for _, id in ipairs(redis.call("zrange", KEYS[4], 0, -1)) do
    if string.sub(id, 1, #ARGV[8]) ~= ARGV[8] then others = 1 break end
  end
end
return {1, others, f, ""}`)

	// acquireAloneScript is acquireScript for a caller that does not wait:
	// the same script, with three keys and five arguments.
	acquireAloneScript = redsyncredis.NewScript(3, acquireScript.Src, acquireScript.Hash)

	// inspectScript reads the lock KEYS[1], its remaining ms, the fencing
	// counter KEYS[2] and, with ARGV[1] "q", the restart quarantine of the
	// marker KEYS[3]: {value or "", pttl, counter, quarantine, ms left},
	// quarantine 0 none, 1 pending (or no marker), 2 for the ms left. It
	// changes nothing.
	inspectScript = newScript(3, markerLua+`local q, left = 0, 0
if ARGV[1] == "q" then
  local c, a, g = own(redis.call("get", KEYS[3]), runid())
  if not c then
    q = 1
  elseif g > 0 then
    left = g - nowms()
    if left > 0 then q = 2 else left = 0 end
  end
end
return {redis.call("get", KEYS[1]) or "", redis.call("pttl", KEYS[1]), tonumber(redis.call("get", KEYS[2]) or "0"), q, left}`)

	// fenceScript raises the fencing counter KEYS[1] to ARGV[1] if lower.
	fenceScript = newScript(1, `local c = tonumber(redis.call("get", KEYS[1]) or "0")
if c < tonumber(ARGV[1]) then redis.call("set", KEYS[1], ARGV[1]) end
return 1`)

	// releaseScript deletes the key KEYS[1] only if it still holds our value
	// ARGV[1], and with ARGV[2] "1" then tells the waiters: a message on
	// the channel named like the key, carrying the value, so that a waiter
	// counts one release once however many nodes announce it, and the ids
	// of the first three waiters (KEYS[2], by the time they came) whose
	// lease (KEYS[3]) has not run out; those whose lease ran out are dropped.
	// ARGV[3], when given, is the id the lock's holder waited under, which
	// this node may still list when it did not grant the lock: it goes.
	// The message is "\0", the ids separated by spaces, "\0", the value;
	// the value alone when nobody waits. The clean-up of a failed attempt
	// announces nothing: the lock was not held, and waking waiters for it
	// only starts more attempts that fail the same way.
	releaseScript = newScript(3, `if ARGV[3] then
  redis.call("zrem", KEYS[2], ARGV[3])
  redis.call("zrem", KEYS[3], ARGV[3])
end
if redis.call("get", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("del", KEYS[1])
if ARGV[2] ~= "1" then return 1 end
local msg = ARGV[1]
if redis.call("exists", KEYS[2]) == 1 then
  local t = redis.call("time")
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  for _, id in ipairs(redis.call("zrangebyscore", KEYS[3], "-inf", now, "limit", 0, 16)) do
    redis.call("zrem", KEYS[2], id)
    redis.call("zrem", KEYS[3], id)
  end
  local ids = redis.call("zrange", KEYS[2], 0, 2)
  if #ids > 0 then msg = "\0" .. table.concat(ids, " ") .. "\0" .. ARGV[1] end
end
redis.call("publish", KEYS[1], msg)
return 1`)

	// unqueueScript takes the waiter ARGV[1] out of the waiters KEYS[1] and
	// their leases KEYS[2]; with ARGV[2] not "", it then tells the waiters
	// that the lock is taken by the value ARGV[2]: "\1" and the value, on
	// the channel KEYS[3].
	unqueueScript = newScript(3, `if ARGV[1] ~= "" then
  redis.call("zrem", KEYS[1], ARGV[1])
  redis.call("zrem", KEYS[2], ARGV[1])
end
if ARGV[2] ~= "" then redis.call("publish", KEYS[3], "\1" .. ARGV[2]) end
return 1`)

	// ttlScript returns the key's remaining milliseconds if it holds our value, else -3.
	ttlScript = newScript(1, `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pttl", KEYS[1]) else return -3 end`)

	// refreshScript sets the remaining time of KEYS[1] to ARGV[2] ms where
	// it holds the value ARGV[1] and has less left (1: a refresh never
	// shortens it, for a refresh's call may arrive after a later one's:
	// docs/safety.md); where the key is gone and ARGV[3] is
	// "1", takes it again (2); else 0. With ARGV[4] "q" or "v" (as for
	// acquireScript), the node's marker KEYS[2] must be marked during this
	// start (0 when not) and allow the ttl (4 when not: it must be announced
	// first).
	refreshScript = newScript(2, markerLua+`local v = redis.call("get", KEYS[1])
if v ~= ARGV[1] and not (v == false and ARGV[3] == "1") then return 0 end
if ARGV[4] ~= "" then
  local run = nil
  if ARGV[4] == "v" then run = runid() end
  local c = own(redis.call("get", KEYS[2]), run)
  if not c then return 0 end
  if c < tonumber(ARGV[2]) then return 4 end
end
if v == ARGV[1] then
  if redis.call("pttl", KEYS[1]) < tonumber(ARGV[2]) then redis.call("pexpire", KEYS[1], ARGV[2]) end
  return 1
end
redis.call("set", KEYS[1], ARGV[1], "px", ARGV[2])
return 2`)
)

func newScript(keys int, src string) *redsyncredis.Script {
	sum := sha1.Sum([]byte(src))
	return redsyncredis.NewScript(keys, src, hex.EncodeToString(sum[:]))
}
