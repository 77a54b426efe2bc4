package quorumlockotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/quorumlock/quorumlock"
	quorumlockotel "github.com/quorumlock/quorumlock/otel"
)

var (
	obtainedAttr    = attribute.String("quorumlock.result", "obtained")
	notObtainedAttr = attribute.String("quorumlock.result", "not_obtained")
	errorAttr       = attribute.String("quorumlock.result", "error")
	canceledAttr    = attribute.String("quorumlock.result", "canceled")
)

func op(name string) attribute.KeyValue      { return attribute.String("quorumlock.op", name) }
func outcome(name string) attribute.KeyValue { return attribute.String("quorumlock.outcome", name) }

func TestObtainAndRelease(t *testing.T) {
	e := newEnv(t, startNodes(t, 3))
	lock, err := e.locker.ObtainContext(context.Background(), "job", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.ReleaseContext(context.Background()); err != nil {
		t.Fatal(err)
	}

	m := e.metrics(t)
	if n, sum := observations(t, m["quorumlock.obtain.duration"], obtainedAttr); n != 1 || sum <= 0 {
		t.Fatalf("obtain.duration{obtained}: %d values summing to %v, want 1 > 0", n, sum)
	}
	if n, _ := observations(t, m["quorumlock.obtain.duration"]); n != 1 {
		t.Fatalf("obtain.duration: %d values in all, want 1", n)
	}
	if n := count(t, m["quorumlock.obtain.attempts"], obtainedAttr); n != 1 {
		t.Fatalf("obtain.attempts{obtained} = %d, want 1", n)
	}
	for _, o := range []string{"obtain", "release"} {
		if n, _ := observations(t, m["quorumlock.round.duration"], op(o), outcome("reached")); n != 1 {
			t.Fatalf("round.duration{%s, reached}: %d values, want 1", o, n)
		}
	}
	if n := count(t, m["quorumlock.node.errors"]); n != 0 {
		t.Fatalf("node.errors = %d with every node up", n)
	}
	if n := count(t, m["quorumlock.lock.lost"]); n != 0 {
		t.Fatalf("lock.lost = %d after a release", n)
	}
	for name, metric := range m {
		if attrKeys(metric)["quorumlock.key"] {
			t.Fatalf("%s carries the key without WithKeyAttribute", name)
		}
	}
	if metric := m["quorumlock.obtain.duration"]; metric.Unit != "s" {
		t.Fatalf("obtain.duration unit %q", metric.Unit)
	}
}

func TestContendedObtain(t *testing.T) {
	e := newEnv(t, startNodes(t, 3), quorumlockotel.WithKeyAttribute(true))
	ctx := context.Background()
	lock, err := e.locker.ObtainContext(ctx, "job", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if _, err := e.locker.ObtainContext(ctx, "job", 10*time.Second, 0); !errors.Is(err, quorumlock.ErrNotObtained) {
		t.Fatalf("second obtain: %v", err)
	}
	// Waiting a little makes more attempts.
	if _, err := e.locker.ObtainContext(ctx, "job", 10*time.Second, 150*time.Millisecond); !errors.Is(err, quorumlock.ErrNotObtained) {
		t.Fatalf("third obtain: %v", err)
	}

	events := e.obtained()
	if len(events) != 3 || events[2].Attempts < 2 {
		t.Fatalf("obtain events %+v", events)
	}
	m := e.metrics(t)
	key := attribute.String("quorumlock.key", "job")
	if n, _ := observations(t, m["quorumlock.obtain.duration"], notObtainedAttr, key); n != 2 {
		t.Fatalf("obtain.duration{not_obtained, key}: %d values, want 2", n)
	}
	want := int64(events[1].Attempts + events[2].Attempts)
	if n := count(t, m["quorumlock.obtain.attempts"], notObtainedAttr, key); n != want {
		t.Fatalf("obtain.attempts{not_obtained} = %d, want %d", n, want)
	}
	if n, _ := observations(t, m["quorumlock.round.duration"], op("obtain"), outcome("missed"), key); n != uint64(want) {
		t.Fatalf("round.duration{obtain, missed}: %d values, want %d", n, want)
	}
}

func TestCanceledObtain(t *testing.T) {
	e := newEnv(t, startNodes(t, 3))
	lock, err := e.locker.ObtainContext(context.Background(), "job", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := e.locker.ObtainContext(ctx, "job", 10*time.Second, 5*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("obtain past its context: %v", err)
	}
	if n, _ := observations(t, e.metrics(t)["quorumlock.obtain.duration"], canceledAttr); n != 1 {
		t.Fatalf("obtain.duration{canceled}: %d values, want 1", n)
	}
}

// heldElsewhere makes node i hold the key for another client, so that a
// round on the nodes must wait for the answers of the others.
func heldElsewhere(nodes []*miniredis.Miniredis, i int, key string) {
	nodes[i].Set(quorumlock.DefaultKeyPrefix+"lock:{"+key+"}", "another-client")
}

// TestNodeErrors: a closed node is counted, with its address. Node 1 holds
// the key for another client, so the round waits for node 2's failure (a
// round decided without a node's answer leaves it out of the hooks).
func TestNodeErrors(t *testing.T) {
	nodes := startNodes(t, 3)
	e := newEnv(t, nodes)
	downPort := port(t, nodes[2])
	nodes[2].Close() // before any connection to it: refused
	heldElsewhere(nodes, 1, "job")
	_, err := e.locker.ObtainContext(context.Background(), "job", 10*time.Second, 0)
	var qe *quorumlock.QuorumError
	if !errors.As(err, &qe) {
		t.Fatalf("obtain with one node down and one held: %v", err)
	}
	e.locker.Close() // waits for the clean-up round

	m := e.metrics(t)
	down := []attribute.KeyValue{
		op("obtain"),
		attribute.String("server.address", "127.0.0.1"),
		attribute.Int("server.port", downPort),
		attribute.String("error.type", "connection_refused"),
	}
	if n := count(t, m["quorumlock.node.errors"], down...); n != 1 {
		t.Fatalf("node.errors{obtain, node 2} = %d, want 1", n)
	}
	if n := count(t, m["quorumlock.node.errors"], op("obtain")); n != 1 {
		t.Fatalf("node.errors{obtain} = %d in all, want 1", n)
	}
	// No quorum because a node failed: an error, not "held elsewhere".
	if n, _ := observations(t, m["quorumlock.obtain.duration"], errorAttr); n != 1 {
		t.Fatalf("obtain.duration{error}: %d values, want 1", n)
	}
	if n, _ := observations(t, m["quorumlock.round.duration"], op("obtain"), outcome("missed")); n != 1 {
		t.Fatalf("round.duration{obtain, missed}: %d values, want 1", n)
	}
}

// TestQuarantine: a node that lost its data while the others kept theirs
// enters restart quarantine, counted with op "quarantine".
func TestQuarantine(t *testing.T) {
	nodes := startNodes(t, 3)
	e := newEnv(t, nodes)
	nodes[0].FlushAll()
	heldElsewhere(nodes, 1, "job") // the round needs node 0's answer
	if _, err := e.locker.ObtainContext(context.Background(), "job", 10*time.Second, 0); !errors.Is(err, quorumlock.ErrNotObtained) {
		t.Fatalf("obtain: %v", err)
	}
	e.locker.Close()
	m := e.metrics(t)
	q := []attribute.KeyValue{op("quarantine"), attribute.String("error.type", "quarantine"), attribute.Int("server.port", port(t, nodes[0]))}
	if n := count(t, m["quorumlock.node.errors"], q...); n != 1 {
		t.Fatalf("node.errors{quarantine} = %d, want 1", n)
	}
	// The refusal that revealed it: a node error of the obtain round.
	if n := count(t, m["quorumlock.node.errors"], op("obtain"), attribute.Int("server.port", port(t, nodes[0]))); n != 1 {
		t.Fatalf("node.errors{obtain, node 0} = %d, want 1", n)
	}
}

func TestLockLost(t *testing.T) {
	e := newEnv(t, startNodes(t, 3), quorumlockotel.WithKeyAttribute(true))
	lock, err := e.locker.ObtainContext(context.Background(), "job", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-lock.Lost(): // the validity ran out
	case <-time.After(10 * time.Second):
		t.Fatal("Lost() did not close")
	}
	m := e.metrics(t)
	if n := count(t, m["quorumlock.lock.lost"], attribute.String("quorumlock.key", "job")); n != 1 {
		t.Fatalf("lock.lost = %d, want 1", n)
	}
}

func TestSpans(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	nodes := startNodes(t, 3)
	e := newEnv(t, nodes, quorumlockotel.WithTracerProvider(tp))
	ctx := context.Background()

	lock, err := e.locker.ObtainContext(ctx, "job", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if _, err := e.locker.ObtainContext(ctx, "job", 10*time.Second, 0); !errors.Is(err, quorumlock.ErrNotObtained) {
		t.Fatalf("contended obtain: %v", err)
	}
	nodes[1].Close()
	nodes[2].Close()
	if _, err := e.locker.ObtainContext(ctx, "other", 10*time.Second, 0); err == nil {
		t.Fatal("obtained with two nodes of three down")
	}

	spans, events := sr.Ended(), e.obtained()
	if len(spans) != 3 || len(events) != 3 {
		t.Fatalf("%d spans for %d obtains, want 3", len(spans), len(events))
	}
	wantResult := []string{"obtained", "not_obtained", "error"}
	for i, s := range spans {
		ev := events[i]
		attrs := attribute.NewSet(s.Attributes()...)
		if s.Name() != "quorumlock.obtain" || s.InstrumentationScope().Name != quorumlockotel.ScopeName {
			t.Fatalf("span %d: %q from %q", i, s.Name(), s.InstrumentationScope().Name)
		}
		if got := s.EndTime().Sub(s.StartTime()); got != ev.Took {
			t.Fatalf("span %d lasts %v, the obtain took %v", i, got, ev.Took)
		}
		want := []attribute.KeyValue{
			attribute.String("quorumlock.key", ev.Key),
			attribute.String("quorumlock.result", wantResult[i]),
			attribute.Int("quorumlock.attempts", ev.Attempts),
		}
		if !matches(attrs, want) {
			t.Fatalf("span %d attributes %v, want %v", i, s.Attributes(), want)
		}
		failed := wantResult[i] == "error"
		if (s.Status().Code == codes.Error) != failed || (len(s.Events()) == 1) != failed {
			t.Fatalf("span %d (%s): status %v, events %v", i, wantResult[i], s.Status(), s.Events())
		}
		if failed && s.Events()[0].Name != "exception" {
			t.Fatalf("span %d: event %q, want the error recorded", i, s.Events()[0].Name)
		}
	}
}

func TestDefaultProvider(t *testing.T) {
	hooks, err := quorumlockotel.Hooks(quorumlockotel.WithMeterProvider(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if hooks.Obtain == nil || hooks.Round == nil || hooks.Node == nil || hooks.Lost == nil {
		t.Fatalf("hooks left unset: %+v", hooks)
	}
	// The global provider is a no-op until one is set: recording must not fail.
	hooks.Obtain(quorumlock.ObtainEvent{Key: "k", Took: time.Millisecond, Attempts: 1})
	hooks.Round(quorumlock.RoundEvent{Op: "obtain", Outcome: "reached"})
	hooks.Node(quorumlock.NodeEvent{Op: "obtain", Addr: "/run/redis.sock", Err: errors.New("x")})
	hooks.Lost(quorumlock.LostEvent{Key: "k"})
}
