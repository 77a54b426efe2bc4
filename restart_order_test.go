package quorumlock

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

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
	hold             bool
	once, doneOnce   sync.Once
	reached, release chan struct{}
	done             chan struct{}
}

func newHeldRead(hold bool) *heldRead {
	return &heldRead{hold: hold, reached: make(chan struct{}), release: make(chan struct{}), done: make(chan struct{})}
}

func (h *heldRead) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *heldRead) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *heldRead) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		a := cmd.Args()
		read := len(a) > 1 && (a[0] == "evalsha" && a[1] == readMarkerScript.Hash || a[0] == "eval" && a[1] == readMarkerScript.Src)
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
// at one moment. F must not take node 2 for fresh and obtain.
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
