package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock"
)

// nodesHelp documents, for exec and status, where the nodes come from.
const nodesHelp = `Nodes: --nodes URL,URL,... or else the environment variable QUORUMLOCK_NODES,
comma-separated: redis://[user:password@]host[:port][/db], rediss:// for TLS,
unix:///path, with go-redis's query parameters (?dial_timeout=3s). Use an odd
number of independent Redis servers. Prefer QUORUMLOCK_NODES for URLs holding
a password: command lines are visible to every user of the host.
`

// nodeFlags are the flags that say where the nodes are, shared by exec and
// status.
type nodeFlags struct {
	nodes       string
	nodeTimeout time.Duration
}

// addNodeFlags defines --nodes and --node-timeout on fs.
func addNodeFlags(fs *flag.FlagSet) *nodeFlags {
	f := &nodeFlags{}
	fs.StringVar(&f.nodes, "nodes", "", "comma-separated node URLs (default $"+quorumlock.EnvNodes+")")
	f.nodeTimeout = quorumlock.DefaultNodeTimeout
	fs.Var(&durationValue{d: &f.nodeTimeout, name: "node-timeout"}, "node-timeout", "how long a round waits for one node, a `duration`")
	return f
}

// errNoNodes is the error of a command line that names no node.
var errNoNodes = fmt.Errorf("no nodes: give --nodes URL,URL,... or set %s", quorumlock.EnvNodes)

// newLocker returns a Locker over the nodes of --nodes, else of
// QUORUMLOCK_NODES, logging the library's warnings to stderr. Its errors are
// all configuration errors (exit status 2); they never hold a password.
func (f *nodeFlags) newLocker(stderr io.Writer, opts ...quorumlock.Option) (*quorumlock.Locker, error) {
	// go-redis logs every failed dial on its own; the Locker's errors say
	// the same, once, node by node.
	redis.SetLogger(silentLog{})
	opts = append([]quorumlock.Option{
		quorumlock.WithNodeTimeout(f.nodeTimeout),
		quorumlock.WithLogger(warnLogger(stderr)),
	}, opts...)
	if urls := quorumlock.SplitURLs(f.nodes); len(urls) > 0 {
		return quorumlock.NewFromURLs(urls, opts...)
	}
	if strings.TrimSpace(os.Getenv(quorumlock.EnvNodes)) == "" {
		return nil, errNoNodes
	}
	return quorumlock.FromEnv(opts...)
}

// urls returns the node URLs the flags (or the environment) name.
func (f *nodeFlags) urls() []string {
	if urls := quorumlock.SplitURLs(f.nodes); len(urls) > 0 {
		return urls
	}
	return quorumlock.SplitURLs(os.Getenv(quorumlock.EnvNodes))
}

// warnLogger logs warnings and errors to w as text, without timestamps.
func warnLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// silentLog discards go-redis's internal log.
type silentLog struct{}

func (silentLog) Printf(context.Context, string, ...any) {}

// isConfigError reports whether err comes from a bad command line or
// configuration rather than from the nodes.
func isConfigError(err error) bool {
	return errors.Is(err, errNoNodes) ||
		errors.Is(err, quorumlock.ErrInvalidConfig) ||
		errors.Is(err, quorumlock.ErrInvalidKey) ||
		errors.Is(err, quorumlock.ErrInvalidTTL) ||
		errors.Is(err, quorumlock.ErrInvalidWait)
}

// splitValue splits a lock's value, "<owner>/<random>", for display; a value
// not of that form has no owner.
func splitValue(v string) (owner, random string) {
	if i := strings.LastIndex(v, "/"); i > 0 {
		return v[:i], v[i+1:]
	}
	return "", v
}

// short returns the first n characters of s: enough of a lock's random part
// to tell two holders apart.
func short(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// printable quotes s if it holds characters that would garble a terminal:
// lock values come from the nodes and may be anything.
func printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || (r >= 0x80 && r < 0xa0) {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}
