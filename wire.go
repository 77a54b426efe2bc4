package quorumlock

import (
	"context"
	"strings"
	"sync/atomic"

	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/redis/go-redis/v9"
)

// wire sends a node's script calls straight through its go-redis client,
// as EVALSHA with the arguments a round built once for every node (redsync's
// Conn would copy and box them again on each node). A call alone on its node
// goes through the client, the fastest way for one command; calls that find
// others in flight on the node go through the client's AutoPipeliner
// (NewFromURLs), so that their commands travel together, one write and one
// read for many: that is where throughput comes from when system calls are
// the bound. The lock's per-node ordering holds either way: a call starts
// only after the previous one returned. A command's context does not reach
// a queued batch: the round's own timer and the client's read timeout (the
// node timeout) bound it instead.
type wire struct {
	plain     doer
	piped     doer // nil: every call goes through plain
	inflight  atomic.Int32
	pipelined atomic.Int64 // calls that went through the pipeliner
}

// doer is what wire needs of a go-redis client or pipeliner (whose Do
// would not batch).
type doer interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// evalCall is a script with its keys and arguments, as sent to the nodes:
// built once a round, for every node.
type evalCall struct {
	script *redsyncredis.Script
	args   []any // its keys, then its arguments
	sha    []any // the EVALSHA command
}

func newEval(script *redsyncredis.Script, args ...any) evalCall {
	sha := make([]any, 3+len(args))
	sha[0], sha[1], sha[2] = "evalsha", script.Hash, script.KeyCount
	copy(sha[3:], args)
	return evalCall{script: script, args: sha[3:], sha: sha}
}

// eval runs c and returns the node's reply; a nil reply is nil, not an
// error. A node that does not know the script yet is sent its source.
func (w *wire) eval(ctx context.Context, c evalCall) (any, error) {
	d := w.plain
	if w.inflight.Add(1) > 1 && w.piped != nil {
		d = w.piped
		w.pipelined.Add(1)
	}
	defer w.inflight.Add(-1)
	v, err := process(ctx, d, c.sha) // shared by every node's command, and never changed
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		v, err = process(ctx, d, append([]any{"eval", c.script.Src}, c.sha[2:]...))
	}
	if err == redis.Nil {
		return nil, nil
	}
	return v, err
}

// process sends one EVAL or EVALSHA command and returns its reply.
func process(ctx context.Context, d doer, args []any) (any, error) {
	cmd := redis.NewCmd(ctx, args...)
	cmd.SetFirstKeyPos(3)
	_ = d.Process(ctx, cmd)
	return cmd.Result()
}
