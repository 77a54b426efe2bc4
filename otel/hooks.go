package quorumlockotel

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/quorumlock/quorumlock"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/quorumlock/quorumlock/otel"

// durationBounds are the histogram buckets, in seconds: rounds take
// milliseconds (bounded by the node timeout), obtains that wait take up to
// their wait timeout.
var durationBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// recorder holds the instruments the hooks record with.
type recorder struct {
	keyAtt         bool
	tracer         trace.Tracer // nil: no spans
	obtainDuration metric.Float64Histogram
	obtainAttempts metric.Int64Counter
	roundDuration  metric.Float64Histogram
	nodeErrors     metric.Int64Counter
	lockLost       metric.Int64Counter
}

// Hooks returns quorumlock.Hooks that record the metrics listed in the
// package documentation with the meter provider (WithMeterProvider), and a
// span per obtain when a tracer provider is given (WithTracerProvider).
// Pass them to the Locker with quorumlock.WithHooks. It fails only if an
// instrument cannot be created.
func Hooks(opts ...Option) (quorumlock.Hooks, error) {
	c := newConfig(opts)
	m := c.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	r := &recorder{keyAtt: c.keyAtt}
	if c.tp != nil {
		r.tracer = c.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL))
	}
	var errs [5]error
	r.obtainDuration, errs[0] = m.Float64Histogram("quorumlock.obtain.duration",
		metric.WithDescription("Duration of obtain calls, including any wait for the lock."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(durationBounds...))
	r.obtainAttempts, errs[1] = m.Int64Counter("quorumlock.obtain.attempts",
		metric.WithDescription("Attempts made by obtain calls, each a round on the nodes."),
		metric.WithUnit("{attempt}"))
	r.roundDuration, errs[2] = m.Float64Histogram("quorumlock.round.duration",
		metric.WithDescription("Duration of rounds on the nodes, until a quorum was reached or out of reach."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(durationBounds...))
	r.nodeErrors, errs[3] = m.Int64Counter("quorumlock.node.errors",
		metric.WithDescription("Nodes that failed in a round, and nodes put in restart quarantine."),
		metric.WithUnit("{error}"))
	r.lockLost, errs[4] = m.Int64Counter("quorumlock.lock.lost",
		metric.WithDescription("Held locks lost: found gone from a quorum, or their validity ran out."),
		metric.WithUnit("{lock}"))
	if err := errors.Join(errs[:]...); err != nil {
		return quorumlock.Hooks{}, err
	}
	return quorumlock.Hooks{Obtain: r.obtain, Round: r.round, Node: r.node, Lost: r.lost}, nil
}

// withKey adds the key attribute when asked for and the key is known (a
// clean-up round has none).
func (r *recorder) withKey(attrs []attribute.KeyValue, key string) []attribute.KeyValue {
	if r.keyAtt && key != "" {
		attrs = append(attrs, keyKey.String(key))
	}
	return attrs
}

func (r *recorder) obtain(e quorumlock.ObtainEvent) {
	ctx := context.Background() // the hook is given none
	result := obtainResult(e.Err)
	set := metric.WithAttributes(r.withKey([]attribute.KeyValue{keyResult.String(result)}, e.Key)...)
	r.obtainDuration.Record(ctx, e.Took.Seconds(), set)
	r.obtainAttempts.Add(ctx, int64(e.Attempts), set)
	if r.tracer != nil {
		r.span(ctx, e, result)
	}
}

// span records the obtain, which has just returned, as a span that began
// e.Took ago.
func (r *recorder) span(ctx context.Context, e quorumlock.ObtainEvent, result string) {
	end := time.Now()
	_, span := r.tracer.Start(ctx, "quorumlock.obtain",
		trace.WithTimestamp(end.Add(-e.Took)),
		trace.WithAttributes(keyKey.String(e.Key), keyResult.String(result), keyAttempts.Int(e.Attempts)))
	// not_obtained is an expected answer, not a failure: the attribute tells it.
	if result == resultError || result == resultCanceled {
		span.RecordError(e.Err, trace.WithTimestamp(end))
		span.SetStatus(codes.Error, e.Err.Error())
	}
	span.End(trace.WithTimestamp(end))
}

func (r *recorder) round(e quorumlock.RoundEvent) {
	attrs := r.withKey([]attribute.KeyValue{keyOp.String(e.Op), keyOutcome.String(e.Outcome)}, e.Key)
	r.roundDuration.Record(context.Background(), e.Took.Seconds(), metric.WithAttributes(attrs...))
}

func (r *recorder) node(e quorumlock.NodeEvent) {
	attrs := append([]attribute.KeyValue{keyOp.String(e.Op), semconv.ErrorTypeKey.String(nodeErrorType(e.Err))}, serverAttrs(e.Addr)...)
	r.nodeErrors.Add(context.Background(), 1, metric.WithAttributes(attrs...))
}

func (r *recorder) lost(e quorumlock.LostEvent) {
	r.lockLost.Add(context.Background(), 1, metric.WithAttributes(r.withKey(nil, e.Key)...))
}
