package quorumlockotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// An Option configures Hooks.
type Option func(*config)

type config struct {
	mp     metric.MeterProvider
	tp     trace.TracerProvider // nil: no spans
	keyAtt bool
}

func newConfig(opts []Option) config {
	c := config{mp: otel.GetMeterProvider()}
	for _, opt := range opts {
		if opt != nil {
			opt(&c)
		}
	}
	return c
}

// WithMeterProvider sets the provider the metrics are recorded with.
// Default otel.GetMeterProvider(), as it is when Hooks is called (the global
// provider forwards to one set later); nil keeps the default.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) {
		if mp != nil {
			c.mp = mp
		}
	}
}

// WithTracerProvider makes every obtain a span "quorumlock.obtain" from
// tp, covering the whole call including any wait. Default none: no spans.
//
// The Locker's hooks carry no context, so the spans have no parent: each
// starts a trace of its own.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithKeyAttribute adds the lock key, as quorumlock.key, to the attributes
// of the obtain, round and lost metrics. Default false: every distinct key
// makes series of its own, so turn it on only for a small, fixed set of
// keys. Spans carry the key whatever this says.
func WithKeyAttribute(on bool) Option {
	return func(c *config) { c.keyAtt = on }
}
