package bench

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/chaos"
)

// A locker is one implementation under test, with its own clients.
type locker interface {
	// obtain takes key for benchTTL. wait == 0: one attempt (as far as the
	// implementation allows); wait > 0: wait up to that long, retrying the
	// way the implementation's user would.
	obtain(ctx context.Context, key string, wait time.Duration) (held, error)
	// obtainFor is obtain with a ttl of its own.
	obtainFor(ctx context.Context, key string, ttl, wait time.Duration) (held, error)
	// close closes the locker and the clients it built.
	close()
}

// held is an obtained lock.
type held interface {
	// release releases it; an error means it was not confirmed released on
	// a quorum (the lock then expires at its ttl).
	release(ctx context.Context) error
}

// An impl names an implementation and opens a locker of it on the nodes.
type impl struct {
	name string
	open func(tb testing.TB, addrs []string) locker
}

// Implementation names, as they appear in sub-benchmark names (impl=...).
const (
	nameQuorumlock     = "quorumlock"
	nameRedsyncDefault = "redsync-default"
	nameRedsyncTuned   = "redsync-tuned"
	nameRedislock      = "redislock-1node"
)

// The implementations, in the order of the columns of every table.
var (
	implQuorumlock     = impl{nameQuorumlock, openQuorumlock}
	implRedsyncDefault = impl{nameRedsyncDefault, openRedsyncDefault}
	implRedsyncTuned   = impl{nameRedsyncTuned, openRedsyncTuned}
	implRedislock      = impl{nameRedislock, openRedislock}

	allImpls    = []impl{implQuorumlock, implRedsyncDefault, implRedsyncTuned, implRedislock}
	quorumImpls = []impl{implQuorumlock, implRedsyncDefault, implRedsyncTuned}
)

// ---- quorumlock ----

type qlLocker struct {
	l      *quorumlock.Locker
	rounds *roundLog // acquire rounds, when counted
}

// openQuorumlock builds the Locker the way the README tells users to:
// NewFromURLs with default options.
func openQuorumlock(tb testing.TB, addrs []string) locker {
	return openQuorumlockWith(tb, addrs)
}

// openQuorumlockCounting is openQuorumlock with a hook that records when
// each acquire round began (rounds).
func openQuorumlockCounting(tb testing.TB, addrs []string) locker {
	log := &roundLog{}
	q := openQuorumlockWith(tb, addrs, quorumlock.WithHooks(quorumlock.Hooks{
		Round: func(e quorumlock.RoundEvent) {
			if e.Op == "obtain" {
				log.add(time.Now().Add(-e.Took))
			}
		},
	}))
	q.rounds = log
	return q
}

// roundLog records when rounds began.
type roundLog struct {
	mu    sync.Mutex
	began []time.Time
}

func (r *roundLog) add(t time.Time) {
	r.mu.Lock()
	r.began = append(r.began, t)
	r.mu.Unlock()
}

// in counts the rounds that began in [from, to).
func (r *roundLog) in(from, to time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range r.began {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n
}

func openQuorumlockWith(tb testing.TB, addrs []string, opts ...quorumlock.Option) qlLocker {
	urls := make([]string, len(addrs))
	for i, a := range addrs {
		urls[i] = "redis://" + a
	}
	l, err := quorumlock.NewFromURLs(urls, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	// One Obtain+Release before anything else, as a service's first lock:
	// on the new nodes it marks them and announces the ttl (docs/safety.md),
	// a cost paid once per deployment that these benchmarks do not measure.
	ctx := context.Background()
	if lk, err := l.ObtainContext(ctx, "bench:first", benchTTL, 0); err != nil {
		tb.Fatalf("quorumlock: first obtain: %v", err)
	} else if err := lk.ReleaseContext(ctx); err != nil {
		tb.Fatalf("quorumlock: first release: %v", err)
	}
	return qlLocker{l: l}
}

func (q qlLocker) obtain(ctx context.Context, key string, wait time.Duration) (held, error) {
	return q.obtainFor(ctx, key, benchTTL, wait)
}

func (q qlLocker) obtainFor(ctx context.Context, key string, ttl, wait time.Duration) (held, error) {
	lk, err := q.l.ObtainContext(ctx, key, ttl, wait)
	if err != nil {
		return nil, err
	}
	return (*qlHeld)(lk), nil
}

func (q qlLocker) close() { _ = q.l.Close() }

type qlHeld quorumlock.Lock

func (h *qlHeld) release(ctx context.Context) error {
	return (*quorumlock.Lock)(h).ReleaseContext(ctx)
}

// ---- redsync ----

// redsyncTunedDelay is the tuned redsync's pause between attempts: a fifth
// of its default's 50ms minimum, close to quorumlock's first pause (4-8ms).
const redsyncTunedDelay = 10 * time.Millisecond

type rsLocker struct {
	rs      *redsync.Redsync
	clients []*redis.Client
	tuned   bool
}

// openRedsyncDefault is redsync as its README sets it up: go-redis clients
// with default options, redsync.New(pools...), NewMutex(key, WithExpiry).
func openRedsyncDefault(tb testing.TB, addrs []string) locker {
	r := &rsLocker{}
	pools := make([]redsyncredis.Pool, len(addrs))
	for i, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		r.clients = append(r.clients, c)
		pools[i] = goredis.NewPool(c)
	}
	r.rs = redsync.New(pools...)
	return r
}

// openRedsyncTuned is redsync tuned as far as its options go: clients with
// the same timeouts quorumlock's NewFromURLs gives its own (commands bounded
// by 100ms and by the context, no client retries, 1s dial), fail-fast rounds
// bounded by 100ms (WithTimeoutFactor(0.01) of the 10s ttl), a 10ms retry
// delay and as many tries as the wait allows.
func openRedsyncTuned(tb testing.TB, addrs []string) locker {
	r := &rsLocker{tuned: true}
	pools := make([]redsyncredis.Pool, len(addrs))
	for i, a := range addrs {
		c := redis.NewClient(chaos.TunedClientOptions(a))
		r.clients = append(r.clients, c)
		pools[i] = goredis.NewPool(c)
	}
	r.rs = redsync.New(pools...)
	return r
}

func (r *rsLocker) obtain(ctx context.Context, key string, wait time.Duration) (held, error) {
	return r.obtainFor(ctx, key, benchTTL, wait)
}

func (r *rsLocker) obtainFor(ctx context.Context, key string, ttl, wait time.Duration) (held, error) {
	var m *redsync.Mutex
	if r.tuned {
		m = r.rs.NewMutex(key,
			redsync.WithExpiry(ttl),
			redsync.WithFailFast(true),
			redsync.WithTimeoutFactor(0.01),
			redsync.WithRetryDelay(redsyncTunedDelay),
			redsync.WithTries(max(1, int(wait/redsyncTunedDelay))))
	} else {
		// The default: 32 tries, 50-250ms apart. A wait only bounds it.
		m = r.rs.NewMutex(key, redsync.WithExpiry(ttl))
	}
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	if err := m.LockContext(ctx); err != nil {
		return nil, err
	}
	return (*rsHeld)(m), nil
}

func (r *rsLocker) close() {
	for _, c := range r.clients {
		_ = c.Close()
	}
}

type rsHeld redsync.Mutex

var errNotReleased = errors.New("not released on a quorum")

func (h *rsHeld) release(ctx context.Context) error {
	ok, err := (*redsync.Mutex)(h).UnlockContext(ctx)
	if ok {
		return nil
	}
	if err == nil {
		err = errNotReleased
	}
	return err
}

// ---- redislock ----

// redislockRetry is how a redislock user waits: its own example retries
// every 100ms.
const redislockRetry = 100 * time.Millisecond

type rlLocker struct {
	c      *redislock.Client
	client *redis.Client
}

// openRedislock is bsm/redislock as its README sets it up, on the first
// node only.
func openRedislock(tb testing.TB, addrs []string) locker {
	c := redis.NewClient(&redis.Options{Addr: addrs[0]})
	return &rlLocker{c: redislock.New(c), client: c}
}

func (r *rlLocker) obtain(ctx context.Context, key string, wait time.Duration) (held, error) {
	return r.obtainFor(ctx, key, benchTTL, wait)
}

func (r *rlLocker) obtainFor(ctx context.Context, key string, ttl, wait time.Duration) (held, error) {
	var opt *redislock.Options
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
		opt = &redislock.Options{RetryStrategy: redislock.LinearBackoff(redislockRetry)}
	}
	lk, err := r.c.Obtain(ctx, key, ttl, opt)
	if err != nil {
		return nil, err
	}
	return (*rlHeld)(lk), nil
}

func (r *rlLocker) close() { _ = r.client.Close() }

type rlHeld redislock.Lock

func (h *rlHeld) release(ctx context.Context) error {
	return (*redislock.Lock)(h).Release(ctx)
}
