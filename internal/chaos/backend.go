package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/internal/nodeset"
	"github.com/quorumlock/quorumlock/internal/redisproc"
)

// errUnsupported marks a fault a kind of node cannot take.
var errUnsupported = errors.New("not supported by this kind of node")

// Entry is one key found on a node at the end of a campaign.
type Entry struct {
	Node       int
	Key, Value string
	TTL        time.Duration
}

// backend is one Redis server that faults can be applied to directly.
type backend interface {
	addr() string
	crash() error            // stop abruptly, as a kill
	restart(keep bool) error // come back on the same address, with or without the data
	hang() (bool, error)     // hang the server itself; false: let the proxies do it
	resume() error           // undo hang
	jumpClock(d time.Duration) error
	entries() ([]Entry, error) // the keys it holds now
	mark() error               // write quorumlock's marker of a node long in service
	close()
}

// mini is a miniredis server whose keys expire in real time.
type mini struct {
	mu    sync.Mutex
	m     *miniredis.Miniredis
	where string
	down  bool
}

func newMini() (*mini, error) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, err
	}
	m.ClockTTL(true)
	return &mini{m: m, where: m.Addr()}, nil
}

func (n *mini) addr() string { return n.where }

func (n *mini) crash() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.down {
		n.m.Close()
		n.down = true
	}
	return nil
}

func (n *mini) restart(keep bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.down {
		n.m.Close()
	}
	if keep {
		if err := n.m.Restart(); err != nil {
			return err
		}
	} else {
		m := miniredis.NewMiniRedis()
		var err error
		for range 50 { // the port may take a moment to free
			if err = m.StartAddr(n.where); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("restart empty on %s: %w", n.where, err)
		}
		n.m = m
	}
	n.m.ClockTTL(true)
	n.down = false
	return nil
}

func (n *mini) hang() (bool, error) { return false, nil }
func (n *mini) resume() error       { return nil }

func (n *mini) jumpClock(d time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.m.FastForward(d)
	return nil
}

func (n *mini) entries() ([]Entry, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return nil, nil
	}
	var out []Entry
	for _, k := range n.m.Keys() {
		v, _ := n.m.Get(k)
		out = append(out, Entry{Key: k, Value: v, TTL: n.m.TTL(k)})
	}
	return out, nil
}

func (n *mini) mark() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m.Set(nodeset.MarkerKey, nodeset.Marker())
}

func (n *mini) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.m.Close()
	n.down = true
}

// real is a redis-server process without persistence: a restart comes back
// empty; a hang is SIGSTOP.
type real struct {
	s      *redisproc.Server
	client *redis.Client // direct, for inspection
}

func newReal(path string) (*real, error) {
	s, err := redisproc.Start(path, redisproc.Config{})
	if err != nil {
		return nil, err
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	return &real{s: s, client: c}, nil
}

func (n *real) addr() string { return n.s.Addr() }
func (n *real) crash() error { return n.s.Kill() }

func (n *real) restart(keep bool) error {
	if keep {
		return errUnsupported // no persistence: a restart loses the data
	}
	if n.s.Running() {
		if err := n.s.Kill(); err != nil {
			return err
		}
	}
	return n.s.Restart()
}

func (n *real) hang() (bool, error)             { return true, n.s.Stop() }
func (n *real) resume() error                   { return n.s.Cont() }
func (n *real) jumpClock(d time.Duration) error { return errUnsupported }

func (n *real) entries() ([]Entry, error) {
	if !n.s.Running() {
		return nil, nil
	}
	ctx := context.Background()
	keys, err := n.client.Keys(ctx, "*").Result()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, k := range keys {
		v, _ := n.client.Get(ctx, k).Result()
		ttl, _ := n.client.PTTL(ctx, k).Result()
		out = append(out, Entry{Key: k, Value: v, TTL: ttl})
	}
	return out, nil
}

func (n *real) mark() error {
	ctx := context.Background()
	run, err := nodeset.RunID(ctx, n.client)
	if err != nil {
		return err
	}
	return n.client.Set(ctx, nodeset.MarkerKey, nodeset.MarkerOf(run), 0).Err()
}

func (n *real) close() {
	n.client.Close()
	n.s.Close()
}
