package chaos

import (
	"context"
	"time"

	"github.com/go-redsync/redsync/v4"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock"
)

// Quorumlock is quorumlock as the README sets it up: NewFromURLs with the
// default options (the restart quarantine on), plus opts.
func Quorumlock(name string, opts ...quorumlock.Option) Contender {
	return Contender{Name: name, Open: func(addrs []string) (ContentionClient, error) {
		urls := make([]string, len(addrs))
		for i, a := range addrs {
			urls[i] = "redis://" + a
		}
		l, err := quorumlock.NewFromURLs(urls, append([]quorumlock.Option{quorumlock.WithLogger(nil)}, opts...)...)
		if err != nil {
			return nil, err
		}
		return qlClient{l}, nil
	}}
}

type qlClient struct{ l *quorumlock.Locker }

func (c qlClient) Obtain(ctx context.Context, key string, ttl, wait time.Duration) (ContentionLock, error) {
	lock, err := c.l.ObtainContext(ctx, key, ttl, wait)
	if err != nil {
		return nil, err
	}
	return qlLock{lock}, nil
}

func (c qlClient) Close() { c.l.Close() }

type qlLock struct{ *quorumlock.Lock }

func (l qlLock) Release(ctx context.Context) { l.ReleaseContext(ctx) }

// RedsyncTuned is redsync tuned as far as its options go, as in bench/:
// go-redis clients with quorumlock's node timeout (commands bounded by it
// and by the context, no client retries, a 1s dial), fail-fast rounds
// bounded by the same timeout, and a 10ms retry delay with as many tries as
// the wait allows.
func RedsyncTuned() Contender {
	return Contender{Name: "redsync (tuned)", Open: func(addrs []string) (ContentionClient, error) {
		c := &rsClient{}
		pools := make([]redsyncredis.Pool, len(addrs))
		for i, a := range addrs {
			cl := redis.NewClient(TunedClientOptions(a))
			c.clients = append(c.clients, cl)
			pools[i] = goredis.NewPool(cl)
		}
		c.rs = redsync.New(pools...)
		return c, nil
	}}
}

// TunedClientOptions are go-redis options for a peer's client of addr with
// the timeouts quorumlock's NewFromURLs gives its own: commands bounded by
// the node timeout and the context, no client retries, a 1s dial.
func TunedClientOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		DialTimeout:           time.Second,
		DialerRetries:         1,
		ReadTimeout:           quorumlock.DefaultNodeTimeout,
		WriteTimeout:          quorumlock.DefaultNodeTimeout,
		PoolTimeout:           quorumlock.DefaultNodeTimeout,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
	}
}

// redsyncRetryDelay is the tuned redsync's pause between attempts.
const redsyncRetryDelay = 10 * time.Millisecond

type rsClient struct {
	rs      *redsync.Redsync
	clients []*redis.Client
}

func (c *rsClient) Obtain(ctx context.Context, key string, ttl, wait time.Duration) (ContentionLock, error) {
	m := c.rs.NewMutex(key,
		redsync.WithExpiry(ttl),
		redsync.WithFailFast(true),
		redsync.WithTimeoutFactor(float64(quorumlock.DefaultNodeTimeout)/float64(ttl)),
		redsync.WithRetryDelay(redsyncRetryDelay),
		redsync.WithTries(max(1, int(wait/redsyncRetryDelay))))
	ctx, cancel := context.WithTimeout(ctx, max(wait, quorumlock.DefaultNodeTimeout))
	defer cancel()
	if err := m.LockContext(ctx); err != nil {
		return nil, err
	}
	return rsLock{m}, nil
}

func (c *rsClient) Close() {
	for _, cl := range c.clients {
		cl.Close()
	}
}

type rsLock struct{ m *redsync.Mutex }

func (l rsLock) Deadline() time.Time { return l.m.Until() }

func (l rsLock) Release(ctx context.Context) { l.m.UnlockContext(ctx) }
