package sim

import (
	"context"
	"fmt"
	"regexp"
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

// lockValue matches a lock's value: the owner, "/", 16 random bytes in
// base64url.
var lockValue = regexp.MustCompile(`^L[0-9]+/[A-Za-z0-9_-]{22}$`)

// valueOf returns the lock value a script call carries, or "", and the
// call's keys.
func valueOf(cmd redis.Cmder) (value, keys string) {
	args := cmd.Args()
	if len(args) < 3 {
		return "", ""
	}
	name, _ := args[0].(string)
	if n := strings.ToLower(name); n != "evalsha" && n != "eval" {
		return "", ""
	}
	n, err := strconv.Atoi(fmt.Sprint(args[2]))
	if err != nil || len(args) <= 3+n {
		return "", ""
	}
	v, _ := args[3+n].(string)
	if len(v) < 24 || v[0] != 'L' || !lockValue.MatchString(v) {
		return "", ""
	}
	return v, fmt.Sprint(args[3 : 3+n])
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
