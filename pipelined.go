package quorumlock

import (
	"context"
	"strings"
	"time"

	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/redis/go-redis/v9"
)

// pipelinedPool is redsync's node abstraction over a go-redis
// AutoPipeliner: the commands of concurrent calls to one node travel
// together, one write and one read for many, which is where throughput
// comes from when system calls are the bound. Used for the clients that
// NewFromURLs builds (with MaxRetries -1, since a batch is retried whole).
// A command's context does not reach a queued batch: the round's own timer
// and the client's read timeout (the node timeout) bound it instead.
type pipelinedPool struct{ ap *redis.AutoPipeliner }

func (p pipelinedPool) Get(ctx context.Context) (redsyncredis.Conn, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	return pipelinedConn{p.ap, ctx}, nil
}

type pipelinedConn struct {
	ap  *redis.AutoPipeliner
	ctx context.Context
}

func (c pipelinedConn) Get(name string) (string, error) {
	v, err := c.ap.Get(c.ctx, name).Result()
	return v, noNil(err)
}

func (c pipelinedConn) Set(name, value string) (bool, error) {
	reply, err := c.ap.Set(c.ctx, name, value, 0).Result()
	return reply == "OK", err
}

func (c pipelinedConn) SetNX(name, value string, expiry time.Duration) (bool, error) {
	return c.ap.SetNX(c.ctx, name, value, expiry).Result()
}

func (c pipelinedConn) PTTL(name string) (time.Duration, error) {
	return c.ap.PTTL(c.ctx, name).Result()
}

func (c pipelinedConn) Eval(script *redsyncredis.Script, keysAndArgs ...any) (any, error) {
	keys := make([]string, script.KeyCount)
	for i := range keys {
		keys[i], _ = keysAndArgs[i].(string)
	}
	args := keysAndArgs[script.KeyCount:]
	v, err := c.ap.EvalSha(c.ctx, script.Hash, keys, args...).Result()
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		v, err = c.ap.Eval(c.ctx, script.Src, keys, args...).Result()
	}
	return v, noNil(err)
}

func (c pipelinedConn) ScriptLoad(script *redsyncredis.Script) error {
	_, err := c.ap.ScriptLoad(c.ctx, script.Src).Result()
	return err
}

func (c pipelinedConn) Close() error { return nil }

func noNil(err error) error {
	if err == redis.Nil {
		return nil
	}
	return err
}
