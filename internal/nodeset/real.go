package nodeset

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/internal/redisproc"
)

// Real is N redis-server processes: Down is SIGKILL (a crash; Reset brings
// the node back empty), Hung is SIGSTOP (Reset sends SIGCONT).
type Real struct {
	Procs   *redisproc.Set
	clients []*redis.Client // direct, for setting up and inspecting
	hung    []bool          // stopped by Set(Hung): not asked until resumed
}

var _ Nodes = (*Real)(nil)

// StartReal starts n redis-server processes, skipping the test when
// redis-server is missing unless QUORUMLOCK_REQUIRE_REDIS=1.
func StartReal(t testing.TB, n int) *Real {
	t.Helper()
	r := &Real{Procs: redisproc.StartSet(t, n, redisproc.Config{}), hung: make([]bool, n)}
	for _, a := range r.Procs.Addrs() {
		c := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
		r.clients = append(r.clients, c)
		t.Cleanup(func() { c.Close() })
		r.mark(c)
	}
	return r
}

// mark writes the marker of a node long in service on c.
func (r *Real) mark(c *redis.Client) {
	ctx := context.Background()
	run, _ := RunID(ctx, c)
	c.Set(ctx, MarkerKey, MarkerOf(run), 0)
}

// Len returns the number of nodes.
func (r *Real) Len() int { return len(r.clients) }

// URLs returns redis:// URLs of the servers.
func (r *Real) URLs() []string {
	var urls []string
	for _, a := range r.Procs.Addrs() {
		urls = append(urls, "redis://"+a)
	}
	return urls
}

// Set puts node i in state st for key.
func (r *Real) Set(i int, st State, key string, ttl time.Duration) {
	ctx := context.Background()
	switch st {
	case Free:
		r.clients[i].Del(ctx, key)
	case Held:
		r.clients[i].Set(ctx, key, OtherValue, ttl)
	case Down:
		r.Procs.Servers[i].Kill()
	case Hung:
		r.Procs.Servers[i].Stop()
		r.hung[i] = true
	}
}

// Reset resumes stopped servers, restarts killed ones and empties them all.
func (r *Real) Reset() {
	r.Resume()
	for _, c := range r.clients {
		c.FlushAll(context.Background())
		r.mark(c)
	}
}

// Resume resumes stopped servers and restarts killed ones, keeping data.
func (r *Real) Resume() {
	for i, s := range r.Procs.Servers {
		s.Cont()
		r.hung[i] = false
		if !s.Running() {
			s.Restart()
		}
	}
}

// Holders counts the nodes whose key holds value; hung nodes are not asked.
func (r *Real) Holders(key, value string) int {
	n := 0
	for i, c := range r.clients {
		if r.hung[i] {
			continue
		}
		if v, err := c.Get(context.Background(), key).Result(); err == nil && v == value {
			n++
		}
	}
	return n
}

// Entries lists every key on every node but the hung ones.
func (r *Real) Entries() []Entry {
	ctx := context.Background()
	var out []Entry
	for i, c := range r.clients {
		if r.hung[i] {
			continue
		}
		keys, _ := c.Keys(ctx, "*").Result()
		for _, k := range keys {
			v, _ := c.Get(ctx, k).Result()
			ttl, _ := c.PTTL(ctx, k).Result()
			out = append(out, Entry{Node: i, Key: k, Value: v, TTL: ttl})
		}
	}
	return out
}
