package quorumlock

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

func TestNewRejectsBadConfiguration(t *testing.T) {
	a := redis.NewClient(&redis.Options{Addr: "127.0.0.1:7001"})
	b := redis.NewClient(&redis.Options{Addr: "127.0.0.1:7002"})
	sameServer := redis.NewClient(&redis.Options{Addr: "localhost:7001", DB: 3})
	t.Cleanup(func() { a.Close(); b.Close(); sameServer.Close() })

	cases := []struct {
		name  string
		nodes []redis.UniversalClient
		opts  []Option
		want  string
	}{
		{"no nodes", nil, nil, "no nodes"},
		{"nil node", []redis.UniversalClient{a, nil, b}, nil, "node 1 is nil"},
		{"same client twice", []redis.UniversalClient{a, b, a}, nil, "nodes 0 and 2 are the same client"},
		{"same server twice", []redis.UniversalClient{a, b, sameServer}, nil, "nodes 0 and 2 are the same server"},
		{"drift negative", []redis.UniversalClient{a}, []Option{WithDriftFactor(-0.1)}, "drift factor"},
		{"drift too large", []redis.UniversalClient{a}, []Option{WithDriftFactor(0.5)}, "drift factor"},
		{"node timeout zero", []redis.UniversalClient{a}, []Option{WithNodeTimeout(0)}, "node timeout"},
		{"node timeout huge", []redis.UniversalClient{a}, []Option{WithNodeTimeout(time.Hour)}, "node timeout"},
		{"backoff inverted", []redis.UniversalClient{a}, []Option{WithRetryBackoff(time.Second, time.Millisecond)}, "retry backoff"},
		{"nil clock", []redis.UniversalClient{a}, []Option{WithClock(nil)}, "clock is nil"},
		{"nil option", []redis.UniversalClient{a}, []Option{nil}, "Option is nil"},
		{"max ttl zero", []redis.UniversalClient{a}, []Option{WithMaxTTL(0)}, "max ttl"},
		{"max ttl beyond a day", []redis.UniversalClient{a}, []Option{WithMaxTTL(25 * time.Hour)}, "max ttl"},
		{"max ttl not whole milliseconds", []redis.UniversalClient{a}, []Option{WithMaxTTL(time.Second + 1)}, "max ttl"},
		{"brace in the key prefix", []redis.UniversalClient{a}, []Option{WithKeyPrefix("app{1}:")}, "brace"},
		{"owner on two lines", []redis.UniversalClient{a}, []Option{WithOwner("a\nb")}, "owner"},
		{"control byte in the owner", []redis.UniversalClient{a}, []Option{WithOwner("\x01web")}, "owner"}, // a release of its locks would read as "taken"
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := New(c.nodes, c.opts...)
			if err == nil {
				l.Close()
				t.Fatalf("New accepted it")
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrInvalidConfig naming %q", err, c.want)
			}
		})
	}
}

func TestNewWarnsOnEvenNodeCount(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	a := redis.NewClient(&redis.Options{Addr: "127.0.0.1:7001"})
	b := redis.NewClient(&redis.Options{Addr: "127.0.0.1:7002"})
	t.Cleanup(func() { a.Close(); b.Close() })
	l, err := New([]redis.UniversalClient{a, b}, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Quorum() != 2 || !strings.Contains(buf.String(), "even number of nodes") {
		t.Fatalf("quorum %d, log %q: want quorum 2 and a warning", l.Quorum(), buf.String())
	}
}

func TestNewFromURLs(t *testing.T) {
	l, err := NewFromURLs([]string{"redis://127.0.0.1:7001", "rediss://user:pw@example.com:7002/2", "unix:///tmp/redis.sock"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o := l.nodes[1].client.(*redis.Client).Options()
	if o.Addr != "example.com:7002" || o.DB != 2 || o.Username != "user" || o.Password != "pw" || o.TLSConfig == nil {
		t.Fatalf("rediss URL parsed as %+v", o)
	}
	if !o.ContextTimeoutEnabled || o.MaxRetries != 0 || o.ReadTimeout != DefaultNodeTimeout {
		t.Fatalf("URL clients should get locking timeouts, got ctx=%v retries=%d read=%v", o.ContextTimeoutEnabled, o.MaxRetries, o.ReadTimeout)
	}
	if o := l.nodes[0].client.(*redis.Client).Options(); o.Addr != "127.0.0.1:7001" {
		t.Fatalf("addr %q", o.Addr)
	}
}

func TestNewFromURLsRejects(t *testing.T) {
	cases := map[string][]string{
		"no node URLs":          nil,
		"scheme must be redis":  {"http://a:1"},
		"no host":               {"redis://"},
		"not a URL":             {"redis://a:1", "redis://[::1"},
		"invalid database":      {"redis://a:1/x"},
		"same server":           {"redis://a:1/0", "redis://A:1/1"},
		"unexpected option":     {"redis://a:1?frobnicate=1"},
		"same server (default)": {"redis://h", "redis://h:6379"},
	}
	for want, urls := range cases {
		t.Run(want, func(t *testing.T) {
			l, err := NewFromURLs(urls)
			if err == nil {
				l.Close()
				t.Fatalf("accepted %q", urls)
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(strings.TrimSuffix(want, " (default)"))) {
				t.Fatalf("err = %v, want ErrInvalidConfig mentioning %q", err, want)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvNodes, "")
	if _, err := FromEnv(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), EnvNodes) {
		t.Fatalf("empty %s: err = %v", EnvNodes, err)
	}
	t.Setenv(EnvNodes, " redis://127.0.0.1:7001, redis://127.0.0.1:7002 ,,redis://127.0.0.1:7003")
	l, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(l.nodes) != 3 || l.Quorum() != 2 {
		t.Fatalf("%d nodes, quorum %d; want 3 and 2", len(l.nodes), l.Quorum())
	}
}

func TestURLErrorsHidePasswords(t *testing.T) {
	for _, u := range []string{
		"redis://user:s3cr3t@host:1/notadb",
		"redis://user:s3cr3t@host:1?bogus=1",
		"redis://:s3cr3t@host:1/1/2",
		"redis://user:s3cr3t@host:port",
	} {
		_, err := NewFromURLs([]string{u})
		if err == nil {
			t.Fatalf("%s accepted", u)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("error reveals the password: %v", err)
		}
	}
}

// TestNodeBackIsReachedAtOnce: go-redis stops dialling a server after as
// many failed dials as its pool size, and tries again once a second. The
// clients NewFromURLs builds must reach a node the moment it is back.
func TestNodeBackIsReachedAtOnce(t *testing.T) {
	nodes := nodeset.StartReal(t, 3)
	l := newTestLocker(t, nodes, WithRestartQuarantine(false)) // the node comes back empty: not the point here
	ctx := context.Background()
	nodes.Set(0, nodeset.Down, "", 0)
	for range 10*runtime.GOMAXPROCS(0) + 5 { // more failed dials than the pool size
		if lock, err := l.ObtainContext(ctx, "warm", time.Second, 0); err == nil {
			lock.Release()
		}
	}
	settle(l)
	nodes.Resume()
	nodes.Set(1, nodeset.Held, l.lockKey("k"), time.Minute) // node 0 is needed
	lock, err := l.ObtainContext(ctx, "k", time.Second, 0)
	if err != nil {
		t.Fatalf("node 0 is back, but: %v", err)
	}
	lock.Release()
}
