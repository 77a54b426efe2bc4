package quorumlock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvNodes is the environment variable FromEnv reads: comma-separated node URLs.
const EnvNodes = "QUORUMLOCK_NODES"

// FromEnv returns a Locker over the nodes listed in QUORUMLOCK_NODES, as
// comma-separated URLs (see NewFromURLs), so that each environment names its
// own nodes.
func FromEnv(opts ...Option) (*Locker, error) {
	v := os.Getenv(EnvNodes)
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%w: %s is empty or not set", ErrInvalidConfig, EnvNodes)
	}
	return NewFromURLs(SplitURLs(v), opts...)
}

// SplitURLs splits a comma-separated list of node URLs, dropping blanks.
func SplitURLs(list string) []string {
	var urls []string
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// NewFromURLs returns a Locker over one new client per URL:
// redis://[user:password@]host[:port][/db], rediss:// for TLS, or
// unix:///path, with go-redis's query parameters (dial_timeout=...). Unless
// a URL sets them, the clients get timeouts fit for locking: commands bounded
// by the node timeout and the caller's context, no retries (the Locker
// retries), a 1s dial timeout. Close closes the clients.
func NewFromURLs(urls []string, opts ...Option) (*Locker, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	clientOpts, err := parseNodeURLs(urls, o.nodeTimeout)
	if err != nil {
		return nil, err
	}
	clients := make([]redis.UniversalClient, len(clientOpts))
	for i, co := range clientOpts {
		if o.quarantine {
			co.OnConnect = verifyOnConnect(o.keyPrefix + markerName)
		}
		clients[i] = redis.NewClient(co)
	}
	l, err := newLocker(clients, o, true)
	if err == nil {
		for i := range l.nodes {
			l.nodes[i].checked = o.quarantine
		}
		l.checked = len(l.nodes)
		err = l.pipeline()
	}
	if err != nil {
		for _, c := range clients {
			c.Close()
		}
		return nil, err
	}
	return l, nil
}

// pipeline lets each node's calls share the client's auto-pipeliner when
// several are in flight (see wire).
func (l *Locker) pipeline() error {
	for i := range l.nodes {
		c, ok := l.nodes[i].client.(*redis.Client)
		if !ok {
			continue
		}
		ap, err := c.AutoPipeline()
		if err != nil {
			return fmt.Errorf("node %s: %w", l.nodes[i].addr, err)
		}
		l.nodes[i].wire.piped = ap
	}
	return nil
}

// parseNodeURLs parses a node list into client options, rejecting an empty
// list, a bad URL and two URLs of one server.
func parseNodeURLs(urls []string, nodeTimeout time.Duration) ([]*redis.Options, error) {
	if len(urls) == 0 {
		return nil, fmt.Errorf("%w: no node URLs", ErrInvalidConfig)
	}
	opts := make([]*redis.Options, len(urls))
	ids := make([]string, len(urls))
	for i, raw := range urls {
		o, err := parseNodeURL(raw, nodeTimeout)
		if err != nil {
			return nil, fmt.Errorf("%w: node %d: %w", ErrInvalidConfig, i, err)
		}
		opts[i], ids[i] = o, serverIdentity(o)
	}
	if err := checkDistinct(ids); err != nil {
		return nil, err
	}
	return opts, nil
}

// parseNodeURL parses one node URL into client options fit for locking.
// Its errors never repeat the URL, which may hold a password.
func parseNodeURL(raw string, nodeTimeout time.Duration) (*redis.Options, error) {
	if !strings.Contains(raw, "://") { // never quoted: it may hold a password
		return nil, errors.New("no scheme: add redis:// (rediss:// for TLS, unix:// for a socket), e.g. redis://host:6379")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("not a URL: %v", err)
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return nil, fmt.Errorf("%s: scheme must be redis, rediss or unix", u.Redacted())
	}
	if u.Scheme != "unix" && u.Host == "" {
		return nil, fmt.Errorf("%s: no host", u.Redacted())
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", u.Redacted(), strings.ReplaceAll(err.Error(), raw, u.Redacted()))
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = time.Second
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = nodeTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = nodeTimeout
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = nodeTimeout
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = -1
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1
	}
	opt.ContextTimeoutEnabled = true
	opt.Dialer = failOnUse(redis.NewDialer(opt))
	return opt, nil
}

// failOnUse turns a dial that failed into a connection that fails at its
// first use, with the dial's error. go-redis counts failed dials and, once
// there were as many as its pool size, refuses every call with the last
// error until a probe, once a second, gets through: a node that is back
// stays out for up to a second more. A connection that fails on use is
// dropped instead, and the next call dials again.
func failOnUse(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return failedConn{err}, nil
		}
		return c, nil
	}
}

// failedConn is a connection whose dial failed: every read and write
// returns that error.
type failedConn struct{ err error }

func (c failedConn) Read([]byte) (int, error)         { return 0, c.err }
func (c failedConn) Write([]byte) (int, error)        { return 0, c.err }
func (c failedConn) Close() error                     { return nil }
func (c failedConn) LocalAddr() net.Addr              { return failedAddr{} }
func (c failedConn) RemoteAddr() net.Addr             { return failedAddr{} }
func (c failedConn) SetDeadline(time.Time) error      { return nil }
func (c failedConn) SetReadDeadline(time.Time) error  { return nil }
func (c failedConn) SetWriteDeadline(time.Time) error { return nil }

type failedAddr struct{}

func (failedAddr) Network() string { return "tcp" }
func (failedAddr) String() string  { return "unconnected" }
