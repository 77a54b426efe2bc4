package quorumlock

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/internal/nodeset"
	"github.com/quorumlock/quorumlock/internal/redisproc"
)

// TestNewRejectsTypedNilClient: a nil *redis.Client inside the interface is
// a configuration error, not a panic.
func TestNewRejectsTypedNilClient(t *testing.T) {
	var c *redis.Client
	var cc *redis.ClusterClient
	for _, nodes := range [][]redis.UniversalClient{{c}, {cc}} {
		l, err := New(nodes, WithLogger(nil))
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "nil") {
			t.Fatalf("New(typed nil) = %v, %v; want ErrInvalidConfig naming the nil node", l, err)
		}
	}
}

// TestTTLMustBeWholeMilliseconds: the nodes keep ttls in milliseconds; a
// ttl with a fraction of one is refused rather than silently cut.
func TestTTLMustBeWholeMilliseconds(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3))
	ctx := context.Background()
	if _, err := l.ObtainContext(ctx, "k", time.Second+time.Microsecond, 0); !errors.Is(err, ErrInvalidTTL) || !strings.Contains(err.Error(), "millisecond") {
		t.Fatalf("Obtain(1.000001s) = %v, want ErrInvalidTTL about milliseconds", err)
	}
	lock, err := l.ObtainContext(ctx, "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if err := lock.RefreshContext(ctx, 2*time.Second+500*time.Microsecond); !errors.Is(err, ErrInvalidTTL) {
		t.Fatalf("Refresh(2.0005s) = %v, want ErrInvalidTTL", err)
	}
}

// TestHugeTTLIsRefused: a ttl beyond the maximum (near math.MaxInt64, say)
// is refused with ErrInvalidTTL by Obtain and Refresh.
func TestHugeTTLIsRefused(t *testing.T) {
	l := newTestLocker(t, nodeset.Mini(t, 3))
	ctx := context.Background()
	huge := time.Duration(math.MaxInt64 - 1)
	if _, err := l.ObtainContext(ctx, "k", huge, 0); !errors.Is(err, ErrInvalidTTL) {
		t.Fatalf("Obtain(MaxInt64) = %v, want ErrInvalidTTL", err)
	}
	lock, err := l.ObtainContext(ctx, "k", time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if err := lock.RefreshContext(ctx, huge); !errors.Is(err, ErrInvalidTTL) {
		t.Fatalf("Refresh(MaxInt64) = %v, want ErrInvalidTTL", err)
	}
}

// TestWaiterOnAHugeHolderDoesNotSpin: a holder (another client, another
// library) whose key has a remaining time near math.MaxInt64 nanoseconds
// must not make a waiter's pause overflow into a busy loop.
func TestWaiterOnAHugeHolderDoesNotSpin(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	attempts := 0
	l := newTestLocker(t, nodes, WithHooks(Hooks{Obtain: func(e ObtainEvent) { attempts = e.Attempts }}))
	rkey := l.lockKey("k")
	for i := range nodes.Len() {
		nodes.Set(i, nodeset.Held, rkey, time.Duration(math.MaxInt64))
	}
	if _, err := l.ObtainContext(context.Background(), "k", time.Second, 300*time.Millisecond); !errors.Is(err, ErrNotObtained) {
		t.Fatalf("err = %v, want ErrNotObtained", err)
	}
	if attempts > 10 {
		t.Fatalf("%d attempts in a 300ms wait on a holder that never expires: the waiter spins", attempts)
	}
}

// TestKeysOfAnyContentShareOneClusterSlot: a lock and its fencing counter
// must hash to one Redis Cluster slot whatever the key holds (a key that
// starts with "}" makes an empty hash tag), and distinct keys must stay
// distinct on the nodes. Asked of a cluster-enabled redis-server.
func TestKeysOfAnyContentShareOneClusterSlot(t *testing.T) {
	set := redisproc.StartSet(t, 1, redisproc.Config{Args: []string{"--cluster-enabled", "yes"}})
	c := redis.NewClient(&redis.Options{Addr: set.Addrs()[0]})
	defer c.Close()
	l := newTestLocker(t, nodeset.Mini(t, 1))
	ctx := context.Background()
	keys := []string{"k", "}", "}k", "k}", "{", "{}", "}{", "a{b}c", `\`, `\}`, `}\`, "{k}", "k}}"}
	seen := map[string]string{}
	for _, k := range keys {
		rkey, fkey := l.lockKey(k), l.fenceKey(k)
		a, err := c.ClusterKeySlot(ctx, rkey).Result()
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.ClusterKeySlot(ctx, fkey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("key %q: lock %q in slot %d, counter %q in slot %d", k, rkey, a, fkey, b)
		}
		if other, dup := seen[rkey]; dup {
			t.Errorf("keys %q and %q both map to %q", other, k, rkey)
		}
		seen[rkey] = k
	}
	if got := l.lockKey("k"); got != DefaultKeyPrefix+"lock:{k}" {
		t.Errorf("lockKey(k) = %q: plain keys must keep their names", got)
	}
}
