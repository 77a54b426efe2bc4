package quorumlockotel_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/quorumlock/quorumlock"
	quorumlockotel "github.com/quorumlock/quorumlock/otel"
)

// startNodes starts n miniredis nodes with expiry in real time, each with
// the marker of a node long in service, stopped when the test ends.
func startNodes(t *testing.T, n int) []*miniredis.Miniredis {
	t.Helper()
	nodes := make([]*miniredis.Miniredis, n)
	for i := range nodes {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		m.ClockTTL(true)
		m.Set("quorumlock:node", "60000:60000:0::") // granting up to a minute (miniredis tells no run_id)
		t.Cleanup(m.Close)
		nodes[i] = m
	}
	return nodes
}

// env is a Locker whose hooks record into a ManualReader, and the obtain
// events as the Locker gave them.
type env struct {
	locker *quorumlock.Locker
	reader *sdkmetric.ManualReader

	mu     sync.Mutex
	events []quorumlock.ObtainEvent
}

// newEnv returns a Locker over nodes with quorumlockotel's hooks, closed
// when the test ends.
func newEnv(t *testing.T, nodes []*miniredis.Miniredis, opts ...quorumlockotel.Option) *env {
	t.Helper()
	e := &env{reader: sdkmetric.NewManualReader()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	hooks, err := quorumlockotel.Hooks(append([]quorumlockotel.Option{quorumlockotel.WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	record := hooks.Obtain
	hooks.Obtain = func(ev quorumlock.ObtainEvent) {
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
		record(ev)
	}
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = "redis://" + n.Addr()
	}
	e.locker, err = quorumlock.NewFromURLs(urls, quorumlock.WithHooks(hooks), quorumlock.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.locker.Close() })
	return e
}

// obtained returns the obtain events so far.
func (e *env) obtained() []quorumlock.ObtainEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]quorumlock.ObtainEvent(nil), e.events...)
}

// metrics collects what was recorded, by metric name.
func (e *env) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != quorumlockotel.ScopeName {
			t.Fatalf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// matches reports whether set holds every one of want.
func matches(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// count adds up the counter's data points that carry every one of want.
func count(t *testing.T, m metricdata.Metrics, want ...attribute.KeyValue) int64 {
	t.Helper()
	if m.Name == "" {
		return 0 // nothing recorded
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok || !sum.IsMonotonic {
		t.Fatalf("%s is %T, want a monotonic Sum[int64]", m.Name, m.Data)
	}
	var n int64
	for _, dp := range sum.DataPoints {
		if matches(dp.Attributes, want) {
			n += dp.Value
		}
	}
	return n
}

// observations adds up the histogram's data points that carry every one of
// want: how many values, and their sum.
func observations(t *testing.T, m metricdata.Metrics, want ...attribute.KeyValue) (uint64, float64) {
	t.Helper()
	if m.Name == "" {
		return 0, 0
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, want a Histogram[float64]", m.Name, m.Data)
	}
	var n uint64
	var s float64
	for _, dp := range h.DataPoints {
		if matches(dp.Attributes, want) {
			n += dp.Count
			s += dp.Sum
		}
	}
	return n, s
}

// attrKeys lists every attribute key on the metric's data points.
func attrKeys(m metricdata.Metrics) map[attribute.Key]bool {
	keys := map[attribute.Key]bool{}
	add := func(s attribute.Set) {
		for _, kv := range s.ToSlice() {
			keys[kv.Key] = true
		}
	}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			add(dp.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, dp := range d.DataPoints {
			add(dp.Attributes)
		}
	}
	return keys
}

// port returns a miniredis node's port.
func port(t *testing.T, m *miniredis.Miniredis) int {
	t.Helper()
	p, err := strconv.Atoi(m.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
