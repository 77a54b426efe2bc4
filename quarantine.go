package quorumlock

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/quorum"
)

// The restart quarantine (docs/safety.md): a node grants no lock until
// every lock it may have forgotten has expired. Each node keeps its state
// in its marker, <prefix>node, without expiry:
//
//	absent                      lost its data, or never used: grants nothing
//	p:<run>:<time>.<nonce>      pending, since the first call that found it
//	                            absent, or made during another start
//	<C>:<A>:<G>:<run>:<proof>   marked during start <run>: grants ttls up
//	                            to C ms once its clock (ms) passed G; A >= C
//	                            is the longest ttl announced to it; proof
//	                            lists the pending ids of a fresh marking
//
// The node decides in the acquire and refresh scripts; this file holds what
// the clients do to bring a node back: mark a pending node on evidence, and
// announce then commit a longer ttl.

// ErrRestartQuarantine is the error of a node in restart quarantine: it
// came back without its data (or is new) and grants no lock until every
// lock it may have forgotten has expired, or until the other nodes have
// told enough to mark it. It still answers releases.
var ErrRestartQuarantine = errors.New("quorumlock: node in restart quarantine")

// errRaise is the error of a node that grants no ttl longer than the ones
// announced to a quorum; the client announces the longer one and tries again.
var errRaise = errors.New("grants no ttl this long until a quorum of nodes is told of it")

// markerStatus is what a node's marker says, as read by readMarkerScript.
type markerStatus struct {
	read    bool // the node answered
	pending bool
	id      string // when pending
	c, a    int64  // when marked
	guard   time.Duration
	proof   []string
}

// markerLua is put before every script that reads a marker. A marker
// counts only when made during the node's current start (its run_id, from
// INFO server; "" where the node does not tell): one from an earlier start
// came back with a snapshot, or with a replica promoted in its master's
// place, and says nothing of the locks lost since. own(m, nil) trusts the
// run: the caller's connection was checked when it was made (verifyScript).
const markerLua = `local function runid()
  local info = redis.pcall("info", "server")
  if type(info) == "string" then return string.match(info, "run_id:(%x+)") or "" end
  return ""
end
local function own(m, run)
  if not m then return nil end
  if not run then
    local c, a, g = string.match(m, "^(%d+):(%d+):(%d+):%x*:")
    if not c then return nil end
    return tonumber(c), tonumber(a), tonumber(g)
  end
  local c, a, g, r, p = string.match(m, "^(%d+):(%d+):(%d+):(%x*):(.*)$")
  if not c or r ~= run then return nil end
  return tonumber(c), tonumber(a), tonumber(g), p
end
local function pending(key, m, run, nonce)
  if not m or string.match(m, "^p:(%x*):") ~= run then
    local t = redis.call("time")
    m = "p:" .. run .. ":" .. t[1] .. "." .. t[2] .. "." .. nonce
    redis.call("set", key, m)
  end
  return string.sub(m, 3)
end
local function nowms()
  local t = redis.call("time")
  return t[1] * 1000 + math.floor(t[2] / 1000)
end
`

// verifyScript runs on every connection the clients of NewFromURLs open,
// before anything else is sent on it: a marker of an earlier start becomes
// pending. A restart or a failover breaks every connection, so every
// command the node runs after it comes after this, and the scripts on the
// way of a lock need not ask INFO server each time. KEYS[1] is the marker,
// ARGV[1] a nonce.
var verifyScript = markerLua + `local run = runid()
local m = redis.call("get", KEYS[1])
if m and not own(m, run) and string.match(m, "^p:(%x*):") ~= run then pending(KEYS[1], m, run, ARGV[1]) end
return 1`

// verifyOnConnect is the OnConnect of the clients NewFromURLs builds.
func verifyOnConnect(marker string) func(ctx context.Context, cn *redis.Conn) error {
	return func(ctx context.Context, cn *redis.Conn) error {
		return cn.Eval(ctx, verifyScript, []string{marker}, strconv.FormatUint(mrand.Uint64(), 36)).Err()
	}
}

// The marker's scripts. A marker that is absent or not the node's own
// becomes pending, with an id unique to this start: the run_id, the node's
// time and the caller's nonce.
var (
	// readMarkerScript reads KEYS[1]: {1, C, A, ms of quarantine left,
	// proof} when marked, {0, 0, 0, 0, id} when pending. ARGV[1] is the nonce.
	readMarkerScript = newScript(1, markerLua+`local run = runid()
local m = redis.call("get", KEYS[1])
local c, a, g, p = own(m, run)
if not c then return {0, 0, 0, 0, pending(KEYS[1], m, run, ARGV[1])} end
return {1, c, a, math.max(g - nowms(), 0), p}`)

	// markScript marks KEYS[1] if it is still pending with id ARGV[1]:
	// mode ARGV[2] "f" (fresh), "j" (join) or "e" (evidence) with C ARGV[3],
	// A ARGV[4] and proof ARGV[5]; "e" quarantines it until s + A; "b"
	// (bound) marks it with C 0 and A ARGV[6] only once s lies that long
	// behind. s is when it lost its data at the latest: the time in its
	// pending id, or its start if earlier, now - (uptime_in_seconds - 1s)
	// (Redis's whole-second uptime may exceed the true one by up to a
	// second), counted only on a master that saw no FLUSHALL, FLUSHDB or
	// SWAPDB since it started. It returns {1, ms of quarantine} when
	// marked, {2, 0} when it is no longer pending with that id (marked by
	// another client, or started again), {0, 0} when not marked.
	markScript = newScript(1, markerLua+`local info, run = redis.pcall("info", "server"), ""
if type(info) == "string" then run = string.match(info, "run_id:(%x+)") or "" end
if redis.call("get", KEYS[1]) ~= "p:" .. ARGV[1] then return {2, 0} end
local c, a, g, left = ARGV[3], ARGV[4], 0, 0
if ARGV[2] == "e" or ARGV[2] == "b" then
  local now = nowms()
  local s = now
  local ps, pu = string.match(ARGV[1], "^%x*:(%d+)%.(%d+)%.")
  if ps then s = tonumber(ps) * 1000 + math.floor(tonumber(pu) / 1000) end
  if type(info) == "string" then
    local stats, repl = redis.pcall("info", "commandstats"), redis.pcall("info", "replication")
    if type(stats) == "string" and type(repl) == "string" and string.find(repl, "role:master")
        and not string.find(stats, "cmdstat_flush") and not string.find(stats, "cmdstat_swapdb") then
      local up = tonumber(string.match(info, "uptime_in_seconds:(%d+)") or "0")
      s = math.min(s, now - math.max(up - 1, 0) * 1000)
    end
  end
  if ARGV[2] == "b" then
    if now - s < tonumber(ARGV[6]) then return {0, 0} end
    c, a = "0", ARGV[6]
  else
    left = s + tonumber(a) - now
    if left > 0 then g = now + left else left = 0 end
  end
end
redis.call("set", KEYS[1], c .. ":" .. a .. ":" .. string.format("%.0f", g) .. ":" .. run .. ":" .. ARGV[5])
return {1, left}`)

	// raiseScript raises KEYS[1], when marked during this start, for a ttl
	// of ARGV[2] ms: with ARGV[1] "a" (announce) A to at least it; with "c"
	// (commit) C to at least it, where A already is. 1 when done, 0 when
	// not marked (or not announced).
	raiseScript = newScript(1, markerLua+`local run = runid()
local c, a, g, p = own(redis.call("get", KEYS[1]), run)
if not c then return 0 end
local t = tonumber(ARGV[2])
if ARGV[1] == "a" then
  a = math.max(a, t)
elseif a < t then
  return 0
else
  c = math.max(c, t)
end
redis.call("set", KEYS[1], string.format("%.0f:%.0f:%.0f:", c, a, g) .. run .. ":" .. p)
return 1`)
)

// quarantine is the clients' side of the restart quarantine for a Locker.
type quarantine struct {
	l *Locker

	mu     sync.Mutex
	flight *repairFlight // the repair in progress, shared by concurrent callers
}

// on reports whether node i keeps a marker: the quarantine is on, and the
// node is one server (a Cluster keeps no node-wide marker).
func (q *quarantine) on(i int) bool { return q.l.opts.quarantine && q.l.nodes[i].single }

// needs tells what an acquire or refresh round asks of the quarantine:
// pending nodes to mark, a ttl to announce.
func needs(res quorum.Result) (pending, raise bool) {
	for _, r := range res.Replies {
		switch r.Err.(type) {
		case nil:
		case *pendingError:
			pending = true
		default:
			raise = raise || r.Err == errRaise
		}
	}
	return pending, raise
}

// repair marks the pending nodes it can and announces and commits ttl where
// nodes refused it; it reports whether a node may now grant what it did not,
// so that another try may succeed. Concurrent callers share one repair when
// it does what they need: they would read and write the same markers. The
// repair runs in the background, each of its fan-outs bounded by the node
// timeout, and stops when the Locker closes; a caller whose ctx ends stops
// waiting for it. The caller is inside enter.
//
// again reports a repair that could not read every node, all those it read
// pending: a new deployment whose slow node kept the marking back, which
// the next try's repair may well complete.
func (q *quarantine) repair(ctx context.Context, res quorum.Result, ttl time.Duration) (changed, again bool) {
	for {
		f, mine := q.start(res, ttl)
		if f == nil {
			return false, false
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return false, false
		case <-q.l.done:
			return false, false
		}
		if mine || f.covers(res, ttl) {
			return f.changed, f.again
		}
		// Another caller's repair, which did not do what this one needs.
	}
}

// repairLater starts a repair and does not wait for it, for a round that
// succeeded without the nodes it found pending or short of ttl. The caller
// is inside enter.
func (q *quarantine) repairLater(res quorum.Result, ttl time.Duration) {
	q.start(res, ttl)
}

// start starts the repair res asks for, or returns the one in progress
// (mine false); nil when res asks for none.
func (q *quarantine) start(res quorum.Result, ttl time.Duration) (f *repairFlight, mine bool) {
	pending, raise := needs(res)
	if !pending && !raise {
		return nil, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.flight != nil {
		return q.flight, false
	}
	f = &repairFlight{done: make(chan struct{}), pending: pending, raise: raise, ttl: ttl}
	q.flight = f
	q.l.bg.Go(func() {
		defer func() {
			q.mu.Lock()
			q.flight = nil
			q.mu.Unlock()
			close(f.done)
		}()
		ctx := q.l.closing // ends with the Locker
		if pending {
			var low bool // a node marked with C below ttl
			f.changed, low, f.again = q.examine(ctx, res, ttl)
			f.raise = f.raise || low
		}
		if f.raise {
			f.changed = q.raise(ctx, ttl) || f.changed
		}
	})
	return f, true
}

// repairFlight is one repair, shared by the callers that need it meanwhile.
type repairFlight struct {
	done    chan struct{}
	pending bool          // it marked pending nodes
	raise   bool          // and announced and committed ttl
	ttl     time.Duration // of the caller that started it
	changed bool          // a node may now grant what it did not
	again   bool          // a node did not answer, every other one was pending
}

// covers reports whether f did what res, for ttl, asks.
func (f *repairFlight) covers(res quorum.Result, ttl time.Duration) bool {
	pending, raise := needs(res)
	return (!pending || f.pending) && (!raise || f.raise && f.ttl >= ttl)
}

// examine reads every node's marker and marks the pending nodes the
// answers give evidence for: all pending (a new deployment), a pending id
// in a fresh marking's proof, N-q+1 other nodes marked or every node
// answering, or an uptime past the maximum ttl. usable reports a node that
// may grant now (marked without quarantine, or by another client
// meanwhile); low a node marked with C below ttl; again a read that missed
// a node, every node it read pending.
func (q *quarantine) examine(ctx context.Context, res quorum.Result, ttl time.Duration) (usable, low, again bool) {
	l := q.l
	nonce := strconv.FormatUint(l.rnd.uint64(), 36)
	seen := make([]string, len(l.nodes)) // the pending ids the round gave
	for i, r := range res.Replies {
		if p, ok := r.Err.(*pendingError); ok {
			seen[i] = p.id
		}
	}
	st := q.readMarkers(ctx, nonce, seen)
	// A node pending with an id the round did not give (a late reply, or a
	// restart since): read again, with this read's ids as the round's.
	reread := false
	for i, s := range st {
		reread = reread || s.pending && s.id != seen[i]
	}
	if reread {
		for i, s := range st {
			seen[i] = s.id // "" where not pending
		}
		st = q.readMarkers(ctx, nonce, seen)
	}
	answered := func(i int) bool { return st[i].read }
	// Only a node pending before the read, and still pending with the same
	// id in it, may be marked: then everything read here was read after it
	// lost its data.
	still := func(i int) bool {
		return seen[i] != "" && answered(i) && st[i].pending && st[i].id == seen[i]
	}
	evidence := len(l.nodes) - l.quorum + 1
	var ids, all []int
	everyone := true // every node answered
	allPending := true
	for i := range l.nodes {
		if !q.on(i) {
			continue
		}
		all = append(all, i)
		everyone = everyone && answered(i)
		allPending = allPending && (!answered(i) || st[i].pending)
		if still(i) {
			ids = append(ids, i)
		}
	}
	type mark struct {
		mode, c, a, proof string
	}
	marks := make([]*mark, len(l.nodes))
	ms := func(d int64) string { return strconv.FormatInt(d, 10) }
	if len(ids) == len(all) && len(all) > 0 { // every node pending at the end of the round
		proof := make([]string, len(ids))
		for k, i := range ids {
			proof[k] = st[i].id
		}
		for _, i := range ids {
			marks[i] = &mark{"f", "0", ms(ttl.Milliseconds()), strings.Join(proof, ",")}
		}
	} else {
		for _, y := range ids {
			var known int
			var c, a int64
			var joined []string
			for _, i := range all {
				if i == y || !answered(i) || st[i].pending {
					continue
				}
				known++
				c, a = max(c, st[i].c), max(a, st[i].a)
				if slices.Contains(st[i].proof, st[y].id) {
					joined = st[i].proof
				}
			}
			switch {
			case joined != nil:
				marks[y] = &mark{"j", ms(c), ms(a), strings.Join(joined, ",")}
			case known >= evidence || everyone && known > 0: // N-q+1 markers, or every marker there is
				marks[y] = &mark{"e", ms(c), ms(a), ""}
			default:
				marks[y] = &mark{"b", "0", "0", ""}
			}
		}
	}
	maxTTL := ms(l.opts.maxTTL.Milliseconds())
	type result struct {
		status int64 // as markScript's
		left   time.Duration
	}
	done, ok := onEveryNode(ctx, l, func(ctx context.Context, i int) result {
		m := marks[i]
		if m == nil {
			return result{}
		}
		v, err := l.eval(ctx, i, markScript, l.markerKey(), st[i].id, m.mode, m.c, m.a, m.proof, maxTTL)
		r, _ := v.([]any)
		if err != nil || len(r) != 2 {
			return result{}
		}
		return result{asInt(r[0]), time.Duration(asInt(r[1])) * time.Millisecond}
	})
	for i, m := range marks {
		if m == nil && seen[i] != "" && answered(i) && !st[i].pending {
			// Pending in the round, marked by another client meanwhile: it
			// may grant ttl once its guard is over, or once ttl is announced.
			if st[i].c < ttl.Milliseconds() {
				low = true
			} else if st[i].guard <= 0 {
				usable = true
			}
		}
		if m == nil || !ok[i] {
			continue
		}
		if done[i].status == 2 { // another client marked it meanwhile
			usable = true
		}
		if done[i].status != 1 {
			continue
		}
		c, _ := strconv.ParseInt(m.c, 10, 64)
		low = low || c < ttl.Milliseconds()
		usable = usable || done[i].left == 0
		if left := done[i].left; left > 0 {
			n := l.nodes[i]
			l.opts.logger.Warn("quorumlock: a node restarted without its data: it grants no lock until the longest ttl has passed since its start",
				"node", n.addr, "quarantined_for", left)
			l.hooks.nodeEvent(NodeEvent{Op: "quarantine", Node: i, Addr: n.addr, Err: ErrRestartQuarantine})
		}
	}
	return usable, low, !everyone && allPending
}

// readMarkers reads every node's marker, making absent ones pending. It
// stops waiting for slow nodes once the nodes pending in seen have answered
// and N-q+1 markers are read: evidence for every pending node.
func (q *quarantine) readMarkers(ctx context.Context, nonce string, seen []string) []markerStatus {
	l := q.l
	evidence := len(l.nodes) - l.quorum + 1
	st, _ := onNodesUntil(ctx, l, func(ctx context.Context, i int) markerStatus {
		if !q.on(i) {
			return markerStatus{}
		}
		return l.readMarker(ctx, i, nonce)
	}, func(st []markerStatus, answered []bool) bool {
		marked := 0
		for i, s := range st {
			if seen[i] != "" && !answered[i] {
				return false
			}
			if s.read && !s.pending {
				marked++
			}
		}
		return marked >= evidence
	})
	return st
}

// raise announces ttl to the marked nodes and, once a quorum confirmed it,
// commits it: only then does a node grant it. It reports whether a node
// now grants ttl.
func (q *quarantine) raise(ctx context.Context, ttl time.Duration) bool {
	l := q.l
	call := func(mode string) quorum.Call {
		c := newEval(raiseScript, l.markerKey(), mode, strconv.FormatInt(ttl.Milliseconds(), 10))
		return func(ctx context.Context, i int) quorum.Reply {
			if !q.on(i) {
				return quorum.Reply{Vote: quorum.No}
			}
			return l.onNode(ctx, i, c, func(v any) (quorum.Reply, error) {
				n, err := evalInt(v)
				return voteIf(n == 1), err
			})
		}
	}
	seq := quorum.NewSeq(len(l.nodes)) // on each node, the commit after its announce
	if res := l.round(ctx, "announce", "", seq, call("a")); res.Outcome != quorum.Reached {
		return false
	}
	cfg := l.roundConfig()
	cfg.Quorum = 1 // every commit is backed by the announce: take what lands
	cfg.Settled = func([]quorum.Reply, int) bool { return false }
	return l.roundWith(ctx, "commit", "", seq, cfg, call("c")).Yes > 0
}

// readMarker reads node i's marker, making it pending when it is absent.
func (l *Locker) readMarker(ctx context.Context, i int, nonce string) markerStatus {
	v, err := l.eval(ctx, i, readMarkerScript, l.markerKey(), nonce)
	r, ok := v.([]any)
	if err != nil || !ok || len(r) != 5 {
		return markerStatus{} // no answer: evidence of nothing
	}
	text, _ := r[4].(string)
	if asInt(r[0]) == 0 {
		return markerStatus{read: true, pending: true, id: text}
	}
	// A tampered marker can hold numbers Redis turns negative: no less than 0.
	s := markerStatus{read: true, c: max(asInt(r[1]), 0), a: max(asInt(r[2]), 0), guard: time.Duration(max(asInt(r[3]), 0)) * time.Millisecond}
	if text != "" {
		s.proof = strings.Split(text, ",")
	}
	return s
}

// pendingError is the error of a pending node: restarted without its data,
// or new, and not marked yet.
type pendingError struct{ id string }

func (e *pendingError) Error() string {
	return fmt.Sprintf("%v: not marked yet (restarted without its data, or new)", ErrRestartQuarantine)
}

func (e *pendingError) Unwrap() error { return ErrRestartQuarantine }

// quarantinedFor is the error of a node quarantined for left more.
func quarantinedFor(left time.Duration) error {
	return fmt.Errorf("%w for %v more", ErrRestartQuarantine, left)
}
