package quorumlock

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	redsyncredis "github.com/go-redsync/redsync/v4/redis"

	"github.com/quorumlock/quorumlock/quorum"
)

// The per-node calls of each round, through redsync's node abstraction.

// acquireCall sets the key to value with the ttl where it is free. A node
// that grants it says how many waiters the key still has there (Value); a
// node where the key is taken says how long the holder has left there
// (Value, in ms) and who it is (Text), and, when waiter is not "", puts
// the waiter among the key's waiters with a lease of lease (fellows: how
// many other waiters of this Locker the key has); with fencing,
// every node that answers gives its counter (Extra). A node in restart
// quarantine fails with ErrRestartQuarantine: pending (Err a *pendingError,
// with its id) or for Value ms more; one that may not grant the ttl yet
// fails with errRaise.
func (l *Locker) acquireCall(key, rkey, fkey, value string, ttl time.Duration, waiter string, lease time.Duration, fellows int) quorum.Call {
	ms := strconv.FormatInt(ttl.Milliseconds(), 10)
	fence := "0"
	if l.opts.fencing {
		fence = "1"
	}
	nonce := value[strings.LastIndexByte(value, '/')+1:]
	marker := l.marker
	if !l.opts.quarantine {
		marker = rkey // unused; and a Cluster wants every key of a script in one slot
	}
	// The arguments are built once a round, not once a node.
	script, args, at := acquireAloneScript, []any{rkey, marker, fkey, value, ms, "", fence, nonce}, 5
	if waiter != "" {
		lease := strconv.FormatInt(max(lease.Milliseconds(), 1), 10)
		script, args, at = acquireScript, []any{rkey, marker, fkey, l.waitKey(key), l.leaseKey(key), value, ms, "", fence, nonce, waiter, lease, l.id, strconv.Itoa(fellows)}, 7
	}
	checked, unchecked := l.quarantineCalls(script, args, at)
	return func(ctx context.Context, i int) quorum.Reply {
		c := checked
		if !l.nodes[i].checked {
			c = unchecked
		}
		return l.onNode(ctx, i, c, func(v any) (quorum.Reply, error) {
			r, ok := v.([]any)
			if !ok || len(r) != 4 {
				return quorum.Reply{}, fmt.Errorf("unexpected acquire reply %v", v)
			}
			status, ms, counter := asInt(r[0]), asInt(r[1]), asInt(r[2])
			text, _ := r[3].(string)
			switch status {
			case 1:
				return quorum.Reply{Vote: quorum.Yes, Value: ms, Extra: counter}, nil
			case 0:
				return quorum.Reply{Vote: quorum.No, Value: ms, Extra: counter, Text: text}, nil
			case 2:
				return quorum.Reply{Vote: quorum.Failed, Err: &pendingError{id: text}}, nil
			case 3:
				left := time.Duration(ms) * time.Millisecond
				return quorum.Reply{Vote: quorum.Failed, Value: ms, Err: quarantinedFor(left)}, nil
			case 4:
				return quorum.Reply{Vote: quorum.Failed, Err: errRaise}, nil
			}
			return quorum.Reply{}, fmt.Errorf("unexpected acquire status %d", status)
		})
	}
}

// quarantineCalls fills in the quarantine's mode at args[at]: "" when off;
// "q" for nodes whose connections were checked when made, "v" for the
// others, whose scripts check the marker's start each time. It copies args
// only when both kinds of node are there.
func (l *Locker) quarantineCalls(script *redsyncredis.Script, args []any, at int) (checked, unchecked evalCall) {
	if !l.opts.quarantine {
		c := newEval(script, args...)
		return c, c
	}
	switch l.checked {
	case len(l.nodes):
		args[at] = "q"
		c := newEval(script, args...)
		return c, c
	case 0:
		args[at] = "v"
		c := newEval(script, args...)
		return c, c
	}
	other := slices.Clone(args)
	args[at], other[at] = "q", "v"
	return newEval(script, args...), newEval(script, other...)
}

// fenceCall raises the key's fencing counter to token on the nodes in
// granted; the others vote no.
func (l *Locker) fenceCall(fkey string, token uint64, granted []bool) quorum.Call {
	c := newEval(fenceScript, fkey, strconv.FormatUint(token, 10))
	return func(ctx context.Context, i int) quorum.Reply {
		if !granted[i] {
			return quorum.Reply{Vote: quorum.No}
		}
		return l.onNode(ctx, i, c, func(any) (quorum.Reply, error) {
			return voteIf(true), nil
		})
	}
}

func asInt(v any) int64 {
	n, _ := v.(int64)
	return n
}

// releaseCall deletes the key where it holds value, announcing it to the
// waiters when announce is set; only on the nodes in only when that is not
// nil. waiter, when not "", is the id the lock's Obtain waited under: a
// node that did not grant that Obtain may still list it among the waiters.
func (l *Locker) releaseCall(key, value, waiter string, only []bool, announce bool) quorum.Call {
	args := []any{l.lockKey(key), l.waitKey(key), l.leaseKey(key), value, "0"}
	if announce {
		args[4] = "1"
	}
	if waiter != "" {
		args = append(args, waiter)
	}
	c := newEval(releaseScript, args...)
	return func(ctx context.Context, i int) quorum.Reply {
		if only != nil && !only[i] {
			return quorum.Reply{Vote: quorum.No}
		}
		return l.onNode(ctx, i, c, func(v any) (quorum.Reply, error) {
			n, err := evalInt(v)
			return voteIf(n == 1), err
		})
	}
}

// ttlCall asks for the remaining milliseconds of the key where it holds value.
func (l *Locker) ttlCall(rkey, value string) quorum.Call {
	c := newEval(ttlScript, rkey, value)
	return func(ctx context.Context, i int) quorum.Reply {
		return l.onNode(ctx, i, c, func(v any) (quorum.Reply, error) {
			ms, err := evalInt(v)
			if err != nil || ms < 0 && ms != -1 {
				return quorum.Reply{Vote: quorum.No}, err
			}
			if ms == -1 { // no expiry: only a foreign write could do that; the local deadline bounds it
				ms = int64(time.Duration(1<<62) / time.Millisecond)
			}
			return quorum.Reply{Vote: quorum.Yes, Value: ms}, nil
		})
	}
}

// refreshCall sets the key's remaining time to ttl where it holds value, and
// takes it again where it is gone. A node that may not grant the ttl yet
// fails with errRaise.
func (l *Locker) refreshCall(rkey, value string, ttl time.Duration) quorum.Call {
	ms := strconv.FormatInt(ttl.Milliseconds(), 10)
	marker := l.marker
	if !l.opts.quarantine {
		marker = rkey // unused; and a Cluster wants every key of a script in one slot
	}
	checked, unchecked := l.quarantineCalls(refreshScript, []any{rkey, marker, value, ms, "1", ""}, 5)
	return func(ctx context.Context, i int) quorum.Reply {
		c := checked
		if !l.nodes[i].checked {
			c = unchecked
		}
		return l.onNode(ctx, i, c, func(v any) (quorum.Reply, error) {
			n, err := evalInt(v)
			if n == 4 {
				return quorum.Reply{Vote: quorum.Failed, Err: errRaise}, nil
			}
			return voteIf(n > 0), err
		})
	}
}

// onNode runs c on node i and lets decide read its reply; an error makes a
// failed vote.
func (l *Locker) onNode(ctx context.Context, i int, c evalCall, decide func(reply any) (quorum.Reply, error)) quorum.Reply {
	v, err := l.evalOn(ctx, i, c)
	var r quorum.Reply
	if err == nil {
		r, err = decide(v)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return quorum.Reply{Vote: quorum.Failed, Err: err}
	}
	return r
}

// eval runs script with args (its keys, then its arguments) on node i.
func (l *Locker) eval(ctx context.Context, i int, script *redsyncredis.Script, args ...any) (any, error) {
	return l.evalOn(ctx, i, newEval(script, args...))
}

// evalOn runs c on node i: through its client (wire.go), or through
// redsync's Conn for a node without one.
func (l *Locker) evalOn(ctx context.Context, i int, c evalCall) (any, error) {
	if w := l.nodes[i].wire; w != nil {
		return w.eval(ctx, c)
	}
	conn, err := l.nodes[i].pool.Get(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.Eval(c.script, c.args...)
}

// onEveryNode runs fn on every node in parallel, each under the node
// timeout, and returns what each returned. A node whose fn has not returned
// by then (its client ignores the context) is not waited for: its ok is
// false, and its goroutine finishes in the background, counted by the
// Locker. The caller is inside enter.
func onEveryNode[T any](ctx context.Context, l *Locker, fn func(ctx context.Context, i int) T) (out []T, ok []bool) {
	return onNodesUntil(ctx, l, fn, nil)
}

// onNodesUntil is onEveryNode that stops waiting as soon as enough (when
// not nil) says the answers so far suffice.
func onNodesUntil[T any](ctx context.Context, l *Locker, fn func(ctx context.Context, i int) T, enough func(out []T, ok []bool) bool) (out []T, ok []bool) {
	type answer struct {
		i int
		v T
	}
	answers := make(chan answer, len(l.nodes))
	ctx, cancel := context.WithTimeout(ctx, l.opts.nodeTimeout)
	defer cancel()
	for i := range l.nodes {
		l.bg.Go(func() { answers <- answer{i, fn(ctx, i)} })
	}
	out, ok = make([]T, len(l.nodes)), make([]bool, len(l.nodes))
	for range l.nodes {
		select {
		case a := <-answers:
			out[a.i], ok[a.i] = a.v, true
			if enough != nil && enough(out, ok) {
				return out, ok
			}
		case <-ctx.Done():
			return out, ok
		}
	}
	return out, ok
}

func voteIf(yes bool) quorum.Reply {
	if yes {
		return quorum.Reply{Vote: quorum.Yes}
	}
	return quorum.Reply{Vote: quorum.No}
}

// evalInt reads a script's integer reply.
func evalInt(v any) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("unexpected script reply %T", v)
	}
	return n, nil
}
