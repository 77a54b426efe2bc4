package quorumlock

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/redis/go-redis/v9"
)

// hybridPool is redsync's node abstraction for the clients NewFromURLs
// builds. A call alone on its node goes straight through the client, the
// fastest way for one command; calls that find others in flight on the node
// go through the client's AutoPipeliner, so that their commands travel
// together, one write and one read for many: that is where throughput comes
// from when system calls are the bound. The lock's per-node ordering holds
// either way: a call starts only after the previous one returned.
type hybridPool struct {
	plain     redsyncredis.Pool
	piped     pipelinedPool
	inflight  atomic.Int32
	pipelined atomic.Int64 // calls that went through the pipeliner
}

func (p *hybridPool) Get(ctx context.Context) (redsyncredis.Conn, error) {
	if p.inflight.Load() == 0 {
		return p.counted(p.plain.Get(ctx))
	}
	p.pipelined.Add(1)
	return p.counted(p.piped.Get(ctx))
}

// counted wraps a conn so that the pool knows it is in use until Close.
func (p *hybridPool) counted(c redsyncredis.Conn, err error) (redsyncredis.Conn, error) {
	if err != nil {
		return nil, err
	}
	p.inflight.Add(1)
	return &countedConn{Conn: c, pool: p}, nil
}

type countedConn struct {
	redsyncredis.Conn
	pool   *hybridPool
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.pool.inflight.Add(-1)
	}
	return c.Conn.Close()
}

// pipelinedPool is redsync's node abstraction over a go-redis
// AutoPipeliner (the clients have MaxRetries -1: a batch is retried whole). A
// command's context does not reach a queued batch: the round's own timer
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
