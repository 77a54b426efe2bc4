package quorumlock

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// What a client reads of the markers is evidence only when read after the
// node it marks lost its data: these schedules delay one marker read past a
// restart.

// heldRead is a go-redis hook that holds the first marker read on its
// client until release is closed (bounded by the call's context): a slow
// link, or a retry on a new connection. reached is closed when it holds it;
// done when a marker read it did not hold returned.
type heldRead struct {
	passHooks
	hold             bool
	once, doneOnce   sync.Once
	reached, release chan struct{}
	done             chan struct{}
}

func newHeldRead(hold bool) *heldRead {
	return &heldRead{hold: hold, reached: make(chan struct{}), release: make(chan struct{}), done: make(chan struct{})}
}

// passHooks passes dials and pipelines through, for hooks of single calls.
type passHooks struct{}

// runs reports whether cmd runs script (EVALSHA, or EVAL of its source).
func runs(cmd redis.Cmder, script *redsyncredis.Script) bool {
	a := cmd.Args()
	return len(a) > 1 && (a[0] == "evalsha" && a[1] == script.Hash || a[0] == "eval" && a[1] == script.Src)
}

func (passHooks) DialHook(next redis.DialHook) redis.DialHook { return next }
func (passHooks) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *heldRead) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		read := runs(cmd, readMarkerScript)
		if read && h.hold {
			first := false
			h.once.Do(func() { first = true })
			if first {
				close(h.reached)
				select {
				case <-h.release:
				case <-ctx.Done():
				}
			}
		}
		err := next(ctx, cmd)
		if read && !h.hold {
			h.doneOnce.Do(func() { close(h.done) })
		}
		return err
	}
}

// heldLocker is a Locker over plain go-redis clients of addrs (as a user of
// New has them: go-redis's default retries), node i with hooks[i].
func heldLocker(t *testing.T, addrs []string, hooks []*heldRead, opts ...Option) *Locker {
	t.Helper()
	var clients []redis.UniversalClient
	for i, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		c.AddHook(hooks[i])
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	l, err := New(clients, append([]Option{WithLogger(nil)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestFreshNeedsOneMoment: a new deployment of three nodes. F reads nodes 0
// and 1 pending; its read of node 2 is slow. Meanwhile A marks every node
// fresh and obtains on nodes 0 and 2; node 2 restarts empty. F's read of
// node 2 finds it pending again: every node F read was pending, but never
// at one moment. F must not take node 2 for fresh and obtain. (Node 2's new
// id sends F to a second read, where nodes 0 and 1 are marked: F marks node
// 2 on that evidence, quarantined for A's 10s.)
func TestFreshNeedsOneMoment(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	var addrs []string
	for _, n := range nodes.Nodes {
		n.M.Del(nodeset.MarkerKey)
		addrs = append(addrs, n.M.Addr())
	}
	hooks := []*heldRead{newHeldRead(false), newHeldRead(false), newHeldRead(true)}
	f := heldLocker(t, addrs, hooks, WithNodeTimeout(2*time.Second))
	a := newTestLocker(t, nodes)
	rkey := a.lockKey("k")
	nodes.Set(1, nodeset.Held, rkey, time.Minute) // A will get nodes 0 and 2

	type result struct {
		lock *Lock
		err  error
	}
	fDone := make(chan result, 1)
	go func() {
		lock, err := f.ObtainContext(context.Background(), "k", 5*time.Second, 0)
		fDone <- result{lock, err}
	}()
	<-hooks[0].done
	<-hooks[1].done
	<-hooks[2].reached

	lockA, err := a.ObtainContext(context.Background(), "k", 10*time.Second, 0)
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	defer lockA.Release()
	settle(a)
	nodes.Nodes[1].M.Del(rkey)  // the other key on node 1 goes
	nodes.Nodes[2].M.FlushAll() // node 2 restarts without its data
	close(hooks[2].release)     // F's read of node 2 lands now
	if r := <-fDone; r.err == nil {
		r.lock.Release()
		t.Fatalf("F obtained while A holds the lock for %v more", time.Until(lockA.Deadline()))
	}
}

// TestEvidenceReadAfterTheLoss: E reads nodes 1 and 2 (locks up to 1s);
// its read of node 0, pending, is slow. Meanwhile A marks node 0, announces
// and commits 10s, obtains for 10s on nodes 0 and 1, and node 0 restarts
// empty. E's read of node 0 finds the new start pending: the markers E read
// before that are no evidence of what node 0 forgot.
func TestEvidenceReadAfterTheLoss(t *testing.T) {
	nodes := nodeset.StartReal(t, 3)
	ctx := context.Background()
	for _, i := range []int{1, 2} {
		c := direct(t, nodes, i)
		c.Set(ctx, nodeset.MarkerKey, markerWith(t, c, time.Second), 0)
	}
	restartEmpty(t, nodes, 0)
	time.Sleep(2500 * time.Millisecond) // node 0 has been up for longer than 1s + 1s
	hooks := []*heldRead{newHeldRead(true), newHeldRead(false), newHeldRead(false)}
	e := heldLocker(t, nodes.Procs.Addrs(), hooks, WithNodeTimeout(2*time.Second))
	a := newTestLocker(t, nodes)
	rkey := a.lockKey("k")
	nodes.Set(2, nodeset.Held, rkey, time.Minute) // A will get nodes 0 and 1

	eDone := make(chan error, 1)
	go func() {
		_, err := e.ObtainContext(ctx, "k", 5*time.Second, 0)
		eDone <- err
	}()
	<-hooks[1].done
	<-hooks[2].done
	<-hooks[0].reached

	lockA, err := a.ObtainContext(ctx, "k", 10*time.Second, 0)
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	defer lockA.Release()
	settle(a)
	restartEmpty(t, nodes, 0) // a holder of A's 10s lock
	direct(t, nodes, 2).Del(ctx, rkey)
	close(hooks[0].release)
	<-eDone
	b := newTestLocker(t, nodes)
	if lockB, err := b.ObtainContext(ctx, "k", time.Second, 2*time.Second); err == nil {
		lockB.Release()
		t.Fatalf("B obtained while A holds the lock for %v more", time.Until(lockA.Deadline()))
	}
}

// markerWith is the marker of a node long in service on c (nil: a
// miniredis node), granting and told of ttls up to d.
func markerWith(t *testing.T, c *redis.Client, d time.Duration) string {
	t.Helper()
	run := ""
	if c != nil {
		var err error
		if run, err = nodeset.RunID(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	ms := strconv.FormatInt(d.Milliseconds(), 10)
	return ms + ":" + ms + ":0:" + run + ":"
}

// TestRestartFromASnapshotWithClientsOfNew: the same with clients passed to
// New, whose connections quorumlock does not check when made: the scripts
// check the marker's start themselves.
func TestRestartFromASnapshotWithClientsOfNew(t *testing.T) {
	nodes := nodeset.StartReal(t, 3)
	ctx := context.Background()
	var clients []redis.UniversalClient
	for _, a := range nodes.Procs.Addrs() {
		c := redis.NewClient(&redis.Options{Addr: a})
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	newLocker := func() *Locker {
		l, err := New(clients, WithLogger(nil), WithNodeTimeout(testNodeTimeout))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	a := newLocker()
	warm, err := a.ObtainContext(ctx, "warm-up", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	warm.Release()
	settle(a)
	if err := direct(t, nodes, 0).Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rkey := a.lockKey("k")
	nodes.Set(2, nodeset.Held, rkey, time.Minute)
	lockA, err := a.ObtainContext(ctx, "k", 10*time.Second, 0)
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	defer lockA.Release()
	settle(a)
	s := nodes.Procs.Servers[0]
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	nodes.Set(2, nodeset.Free, rkey, 0)
	b := newLocker()
	if lockB, err := b.ObtainContext(ctx, "k", 10*time.Second, 0); err == nil {
		lockB.Release()
		t.Fatalf("B obtained while A holds the lock for %v more", time.Until(lockA.Deadline()))
	}
}

// TestFlushIsALoss: FLUSHALL on a node in service for a while loses its
// data without a restart: its uptime says nothing of when the locks went.
func TestFlushIsALoss(t *testing.T) {
	nodes := nodeset.StartReal(t, 3)
	time.Sleep(2500 * time.Millisecond) // up for longer than the ttl + 1s
	a := newTestLocker(t, nodes)
	rkey := a.lockKey("k")
	nodes.Set(2, nodeset.Held, rkey, time.Minute) // A gets nodes 0 and 1
	lockA, err := a.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	defer lockA.Release()
	settle(a)
	direct(t, nodes, 0).FlushAll(context.Background())
	nodes.Set(2, nodeset.Free, rkey, 0)
	b := newTestLocker(t, nodes)
	if lockB, err := b.ObtainContext(context.Background(), "k", time.Second, 0); err == nil && time.Now().Before(lockA.Deadline()) {
		lockB.Release()
		t.Fatalf("B obtained while A holds the lock for %v more", time.Until(lockA.Deadline()))
	}
}

// TestRestartFromASnapshotIsALoss: a node restarts from a snapshot taken
// before A's lock (Redis's default persistence): its marker comes back,
// A's lock does not. The marker is of an earlier start: the node must be
// quarantined as if it came back empty.
func TestRestartFromASnapshotIsALoss(t *testing.T) {
	nodes := nodeset.StartReal(t, 3)
	ctx := context.Background()
	a := newTestLocker(t, nodes)
	warm, err := a.ObtainContext(ctx, "warm-up", 10*time.Second, 0) // markers told of 10s
	if err != nil {
		t.Fatal(err)
	}
	warm.Release()
	settle(a)
	if err := direct(t, nodes, 0).Save(ctx).Err(); err != nil { // a periodic snapshot
		t.Fatal(err)
	}
	rkey := a.lockKey("k")
	nodes.Set(2, nodeset.Held, rkey, time.Minute) // A gets nodes 0 and 1
	lockA, err := a.ObtainContext(ctx, "k", 10*time.Second, 0)
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	defer lockA.Release()
	settle(a)
	s := nodes.Procs.Servers[0]
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil { // loads the snapshot
		t.Fatal(err)
	}
	nodes.Set(2, nodeset.Free, rkey, 0)
	b := newTestLocker(t, nodes)
	if lockB, err := b.ObtainContext(ctx, "k", 10*time.Second, 0); err == nil {
		lockB.Release()
		t.Fatalf("B obtained while A holds the lock for %v more", time.Until(lockA.Deadline()))
	}
}

// TestClusterAmongNodes: a Redis Cluster among the nodes keeps no
// node-wide marker, and without one the other nodes' markers no longer tell
// what a quorum forgot (a node pending with every other plain node is no
// new deployment). The Locker says so and turns the quarantine off: Redlock
// as published, whose rule a restarted node must keep by staying down.
func TestClusterAmongNodes(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	var clients []redis.UniversalClient
	for i, n := range nodes.Nodes {
		var c redis.UniversalClient = redis.NewClient(&redis.Options{Addr: n.Proxy.Addr(), MaxRetries: -1})
		if i >= 3 {
			c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{n.M.Addr()}, MaxRetries: -1})
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	var logged bytes.Buffer
	l, err := New(clients, WithLogger(slog.New(slog.NewTextHandler(&logged, nil))), WithNodeTimeout(testNodeTimeout))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !strings.Contains(logged.String(), "restart quarantine is off") {
		t.Fatalf("no warning that the quarantine is off: %q", logged.String())
	}
	nodes.Nodes[0].M.FlushAll() // no marker, no pending: nothing refuses
	nodes.Set(1, nodeset.Held, l.lockKey("k"), time.Minute)
	lock, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
	if err != nil {
		t.Fatalf("with the quarantine off, a node back empty grants at once: %v", err)
	}
	lock.Release()
	if nodes.Nodes[0].M.Exists(nodeset.MarkerKey) {
		t.Fatal("a marker was written with the quarantine off")
	}
}

// TestSplitVoteValidityFromTheFirstRound: a split vote settled by asking
// again: the lock's validity counts from before the first round, whose keys
// are the oldest, not from the round that reached the quorum.
func TestSplitVoteValidityFromTheFirstRound(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	var l *Locker
	var once sync.Once
	rkey := ""
	l = newTestLocker(t, nodes, WithOwner("a"), WithHooks(Hooks{Round: func(e RoundEvent) {
		if e.Op == "obtain" && e.Outcome == "missed" {
			once.Do(func() { // the loser cleans up, slowly
				time.Sleep(50 * time.Millisecond)
				for _, i := range []int{1, 2} {
					nodes.Nodes[i].M.Del(rkey)
				}
			})
		}
	}}))
	rkey = l.lockKey("k")
	for _, n := range nodes.Nodes {
		n.M.Set(nodeset.MarkerKey, markerWith(t, nil, time.Minute))
	}
	for _, i := range []int{1, 2} { // another contender ("b/...", larger) on two nodes
		nodes.Set(i, nodeset.Held, rkey, time.Minute)
		nodes.Nodes[i].M.Set(rkey, "b/contender")
	}
	nodes.Nodes[0].M.Set(rkey, "c/third") // and a third on one
	nodes.Nodes[0].M.SetTTL(rkey, 30*time.Millisecond)
	ttl := 10 * time.Second
	before := time.Now()
	lock, err := l.ObtainContext(context.Background(), "k", ttl, 0)
	if err != nil {
		t.Fatalf("the winner of the split: %v", err)
	}
	defer lock.Release()
	if latest := before.Add(ttl - drift(ttl, DefaultDriftFactor) + 25*time.Millisecond); lock.Deadline().After(latest) {
		t.Fatalf("validity until %v after the call began, want at most %v: counted from a later round", lock.Deadline().Sub(before), latest.Sub(before))
	}
}

// lateAcquire is a go-redis hook that holds the first acquire on its client
// until a marker read has gone through this client (bounded by the call's
// context): a reply that arrives after its round was decided.
type lateAcquire struct {
	passHooks
	once, readOnce sync.Once
	read           chan struct{}
}

func (h *lateAcquire) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if runs(cmd, acquireScript) || runs(cmd, acquireAloneScript) {
			first := false
			h.once.Do(func() { first = true })
			if first {
				select {
				case <-h.read:
				case <-ctx.Done():
				}
			}
		}
		err := next(ctx, cmd)
		if runs(cmd, readMarkerScript) {
			h.readOnce.Do(func() { close(h.read) })
		}
		return err
	}
}

// TestFreshWithALateReply: the first obtain of a new deployment, with wait
// 0, where one node's reply comes after the round was decided. The markers
// read after the round are all pending: read again, they still are, so
// there was one moment when every node was pending, and the obtain must
// succeed (the demo's first lock failed so under load).
func TestFreshWithALateReply(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	var clients []redis.UniversalClient
	for i, n := range nodes.Nodes {
		n.M.Del(nodeset.MarkerKey)
		c := redis.NewClient(&redis.Options{Addr: n.M.Addr()})
		if i == 2 {
			c.AddHook(&lateAcquire{read: make(chan struct{})})
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	l, err := New(clients, WithLogger(nil), WithNodeTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	lock, err := l.ObtainContext(context.Background(), "k", 10*time.Second, 0)
	if err != nil {
		t.Fatalf("first obtain on fresh nodes: %v", err)
	}
	if err := lock.ReleaseContext(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestFreshWithASlowRead: the first obtain of a new deployment, with wait
// 0, where the marker read of one node takes longer than the node timeout
// (a busy machine): the nodes it read are all pending, so the obtain tries
// once more, and that try's read completes the marking (the demo's first
// lock failed so under load).
func TestFreshWithASlowRead(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	var addrs []string
	for _, n := range nodes.Nodes {
		n.M.Del(nodeset.MarkerKey)
		addrs = append(addrs, n.M.Addr())
	}
	hooks := []*heldRead{newHeldRead(false), newHeldRead(false), newHeldRead(true)} // node 2's first read waits out its context
	l := heldLocker(t, addrs, hooks, WithNodeTimeout(300*time.Millisecond))
	lock, err := l.ObtainContext(context.Background(), "k", 5*time.Second, 0)
	if err != nil {
		t.Fatalf("first obtain on fresh nodes, one read slow: %v", err)
	}
	lock.Release()
}

// TestMarkedMeanwhileIsUsable: the first obtain of a new deployment finds
// every node pending; before its marker read gets there, another Locker
// marks every node and announces its longer ttl. The read finds nothing
// left to mark, but nodes that may grant: the obtain tries again and
// succeeds (it gave up with "not marked yet" before: racing first clients
// under load failed so).
func TestMarkedMeanwhileIsUsable(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	for _, n := range nodes.Nodes {
		n.M.Del(nodeset.MarkerKey)
	}
	hooks := []*heldRead{newHeldRead(true), newHeldRead(true), newHeldRead(true)}
	a := heldLocker(t, nodes.Addrs(), hooks, WithNodeTimeout(2*time.Second))
	got := make(chan error, 1)
	go func() {
		lock, err := a.ObtainContext(context.Background(), "a", 5*time.Second, 0)
		if err == nil {
			lock.Release()
		}
		got <- err
	}()
	for _, h := range hooks {
		<-h.reached // A's round found every node pending; its reads wait
	}
	b := newTestLocker(t, nodes, WithNodeTimeout(2*time.Second))
	lockB, err := b.ObtainContext(context.Background(), "b", 10*time.Second, 0)
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	defer lockB.Release()
	for _, h := range hooks {
		close(h.release)
	}
	if err := <-got; err != nil {
		t.Fatalf("A, after B marked every node: %v", err)
	}
}
