package sim

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// orderHook watches a Locker's commands to one node for the rule that
// keeps a lock's clean-up behind what it cleans up after (quorum.Seq): on
// one node, no call of a lock starts while another call of the same lock
// is still waiting for its reply. A lock's calls carry its value as their
// first argument (acquire, refresh, ttl, release, clean-up).
type orderHook struct {
	w    *world
	node int
}

// isLockValue reports whether v looks like a lock's value: the owner ("L"
// and digits), "/", 16 random bytes in base64url (22 characters).
func isLockValue(v string) bool {
	slash := strings.IndexByte(v, '/')
	if slash < 2 || v[0] != 'L' || len(v)-slash-1 != 22 {
		return false
	}
	for _, c := range v[1:slash] {
		if c < '0' || c > '9' {
			return false
		}
	}
	for _, c := range v[slash+1:] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// scriptCall returns the keys and arguments of a script call (EVAL or
// EVALSHA), or false.
func scriptCall(cmd redis.Cmder) (keys, argv []any, ok bool) {
	args := cmd.Args()
	if len(args) < 3 {
		return nil, nil, false
	}
	name, _ := args[0].(string)
	if name != "evalsha" && name != "eval" && !strings.EqualFold(name, "evalsha") && !strings.EqualFold(name, "eval") {
		return nil, nil, false
	}
	var n int
	switch v := args[2].(type) {
	case int:
		n = v
	case string:
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return nil, nil, false
		}
	default:
		return nil, nil, false
	}
	if n < 0 || len(args) < 3+n {
		return nil, nil, false
	}
	return args[3 : 3+n], args[3+n:], true
}

// valueOf returns the lock value a script call carries, or "", and the
// call's keys.
func valueOf(cmd redis.Cmder) (value, keys string) {
	k, argv, ok := scriptCall(cmd)
	if !ok || len(argv) == 0 {
		return "", ""
	}
	v, _ := argv[0].(string)
	if !isLockValue(v) {
		return "", ""
	}
	return v, fmt.Sprint(k)
}

func (h orderHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h orderHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		end := h.begin(cmd)
		defer end()
		return next(ctx, cmd)
	}
}

func (h orderHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			end := h.begin(cmd)
			defer end()
		}
		return next(ctx, cmds)
	}
}

// begin records that cmd is on its way, and reports a second call of its
// lock on the node; the returned function records its reply.
func (h orderHook) begin(cmd redis.Cmder) (end func()) {
	v, keys := valueOf(cmd)
	if v == "" {
		return func() {}
	}
	k := [2]string{strconv.Itoa(h.node), v}
	w := h.w
	w.mu.Lock()
	if prev, busy := w.inFlight[k]; busy {
		w.orderBroken = append(w.orderBroken, fmt.Sprintf("node %d: a call of lock %s (keys %s) started while its call with keys %s was still on its way",
			h.node, v, keys, prev))
	} else {
		w.inFlight[k] = keys
	}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		if w.inFlight[k] == keys {
			delete(w.inFlight, k)
		}
		w.mu.Unlock()
	}
}
