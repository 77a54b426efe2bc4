package quorumlockotel

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/quorum"
)

func TestObtainResult(t *testing.T) {
	timedOut := &quorumlock.QuorumError{Op: "obtain", Key: "k", Quorum: 2, Answers: []quorumlock.NodeAnswer{
		{Vote: "yes"}, {Vote: "failed", Err: context.DeadlineExceeded}, {Vote: "failed", Err: quorum.ErrTimeout},
	}}
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "obtained"},
		{quorumlock.ErrNotObtained, "not_obtained"},
		{fmt.Errorf("%w: %q: the round took too long", quorumlock.ErrNotObtained, "k"), "not_obtained"},
		// Nodes that timed out are an error, not the caller's deadline.
		{fmt.Errorf("%w: %w", quorumlock.ErrNotObtained, timedOut), "error"},
		{fmt.Errorf("quorumlock: obtain %q: %w", "k", context.Canceled), "canceled"},
		{fmt.Errorf("quorumlock: obtain %q: %w", "k", context.DeadlineExceeded), "canceled"},
		{quorumlock.ErrClosed, "error"},
		{quorumlock.ErrInvalidTTL, "error"},
	} {
		if got := obtainResult(c.err); got != c.want {
			t.Errorf("obtainResult(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestNodeErrorType(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{quorumlock.ErrRestartQuarantine, "quarantine"},
		{quorum.ErrTimeout, "timeout"},
		{fmt.Errorf("read: %w", context.DeadlineExceeded), "timeout"},
		{context.Canceled, "canceled"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "connection_refused"},
		{errors.New("ERR unknown command"), "_OTHER"},
		{nil, "_OTHER"},
	} {
		if got := nodeErrorType(c.err); got != c.want {
			t.Errorf("nodeErrorType(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestServerAttrs(t *testing.T) {
	for _, c := range []struct {
		addr string
		want []attribute.KeyValue
	}{
		{"10.0.0.1:6379", []attribute.KeyValue{attribute.String("server.address", "10.0.0.1"), attribute.Int("server.port", 6379)}},
		{"[::1]:6380", []attribute.KeyValue{attribute.String("server.address", "::1"), attribute.Int("server.port", 6380)}},
		{"/run/redis.sock", []attribute.KeyValue{attribute.String("server.address", "/run/redis.sock")}},
		{"cluster a:1,b:2", []attribute.KeyValue{attribute.String("server.address", "cluster a:1,b:2")}},
	} {
		got := serverAttrs(c.addr)
		if attribute.NewSet(got...) != attribute.NewSet(c.want...) {
			t.Errorf("serverAttrs(%q) = %v, want %v", c.addr, got, c.want)
		}
	}
}
