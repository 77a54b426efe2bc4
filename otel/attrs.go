package quorumlockotel

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/quorum"
)

// The attribute keys of this package's own; the others are semconv's.
const (
	keyResult   = attribute.Key("quorumlock.result")
	keyOp       = attribute.Key("quorumlock.op")
	keyOutcome  = attribute.Key("quorumlock.outcome")
	keyKey      = attribute.Key("quorumlock.key")
	keyAttempts = attribute.Key("quorumlock.attempts")
)

// The values of quorumlock.result.
const (
	resultObtained    = "obtained"
	resultNotObtained = "not_obtained"
	resultError       = "error"
	resultCanceled    = "canceled"
)

// obtainResult classifies the error of an ObtainContext call. A
// *QuorumError is checked before the context errors: it unwraps to its
// nodes' errors, which may be a node's context.DeadlineExceeded.
func obtainResult(err error) string {
	var qe *quorumlock.QuorumError
	switch {
	case err == nil:
		return resultObtained
	case errors.As(err, &qe):
		return resultError // nodes failed: no quorum either way
	case errors.Is(err, quorumlock.ErrNotObtained):
		return resultNotObtained
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return resultCanceled
	}
	return resultError
}

// nodeErrorType names a node's failure with a small, fixed set of values.
func nodeErrorType(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, quorumlock.ErrRestartQuarantine):
		return "quarantine"
	case errors.Is(err, quorum.ErrTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	}
	return semconv.ErrorTypeOther.Value.AsString()
}

// serverAttrs splits a node address into server.address and server.port
// where it is host:port; anything else (a unix socket path, a Cluster's
// address list) is server.address whole.
func serverAttrs(addr string) []attribute.KeyValue {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if p, err := strconv.Atoi(port); err == nil {
			return []attribute.KeyValue{semconv.ServerAddress(host), semconv.ServerPort(p)}
		}
	}
	return []attribute.KeyValue{semconv.ServerAddress(addr)}
}
