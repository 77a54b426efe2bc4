package quorumlock

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// The restart quarantine: a node that lost its data grants no lock until
// every lock it may have forgotten has expired (docs/safety.md).

// TestSilentPeersDoNotMakeARestartLookFresh: five nodes, two of them down
// since the deployment began (never marked). A holds a lock on the other
// three. One of those restarts empty, and for B the other two holders do
// not answer. What B hears is three nodes without markers, and silence:
// silence is no evidence that the nodes are fresh, and B must not obtain.
func TestSilentPeersDoNotMakeARestartLookFresh(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	for _, i := range []int{3, 4} {
		nodes.Nodes[i].M.Del(nodeset.MarkerKey)
		nodes.Set(i, nodeset.Hung, "", 0)
	}
	a := newTestLocker(t, nodes)
	lock, err := a.ObtainContext(context.Background(), "k", 20*time.Second, 0)
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	defer lock.Release()
	settle(a)
	nodes.Nodes[0].M.FlushAll() // a holder restarts without its data
	nodes.Set(1, nodeset.Hung, "", 0)
	nodes.Set(2, nodeset.Hung, "", 0)
	nodes.Nodes[3].Proxy.Heal()
	nodes.Nodes[4].Proxy.Heal()

	b := newTestLocker(t, nodes)
	if lockB, err := b.ObtainContext(context.Background(), "k", 20*time.Second, 0); err == nil {
		lockB.Release()
		t.Fatalf("B obtained while A holds the lock for %v more", time.Until(lock.Deadline()))
	}
}

// TestLongerRefreshIsRemembered: A obtains for 300ms, then refreshes to 30s.
// A holder restarts empty. Its quarantine must cover the 30s, not the 300ms
// of the first grant: B must not obtain while A is valid.
func TestLongerRefreshIsRemembered(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	nodes.Set(2, nodeset.Hung, "", 0) // A holds nodes 0 and 1
	a := newTestLocker(t, nodes)
	lock, err := a.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	defer lock.Release()
	if err := lock.RefreshContext(context.Background(), 30*time.Second); err != nil {
		t.Fatalf("A's refresh to 30s: %v", err)
	}
	settle(a)
	nodes.Nodes[0].M.FlushAll() // a holder restarts without its data
	nodes.Nodes[2].Proxy.Heal()

	b := newTestLocker(t, nodes)
	lockB, err := b.ObtainContext(context.Background(), "k", 300*time.Millisecond, 3*time.Second)
	if err == nil {
		lockB.Release()
		t.Fatalf("B obtained while A holds the lock for %v more", time.Until(lock.Deadline()))
	}
}

// TestYoungMarkerDoesNotMakeARestartLookFresh: three redis-server nodes. A
// holds a lock on nodes 0 and 1. Node 0 restarts empty; later node 2
// restarts too and is marked again (a young marker). For B, node 1 (the
// old marker) does not answer. Node 0 was up before node 2's young marker
// was made, but after A's lock was granted: it must not pass as a node
// that lost nothing.
func TestYoungMarkerDoesNotMakeARestartLookFresh(t *testing.T) {
	nodes := nodeset.StartReal(t, 3)
	nodes.Set(2, nodeset.Hung, "", 0)
	a := newTestLocker(t, nodes)
	lock, err := a.ObtainContext(context.Background(), "k", 30*time.Second, 0)
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	defer lock.Release()
	settle(a)
	restartEmpty(t, nodes, 0)
	time.Sleep(2500 * time.Millisecond) // node 0 is up for a while before node 2's marker is made
	nodes.Procs.Servers[2].Cont()
	restartEmpty(t, nodes, 2)
	young := direct(t, nodes, 2) // marked again just now, told of 1s only
	young.Set(context.Background(), nodeset.MarkerKey, markerWith(t, young, time.Second), 0)
	nodes.Set(1, nodeset.Hung, "", 0)
	defer nodes.Resume()

	b := newTestLocker(t, nodes)
	lockB, err := b.ObtainContext(context.Background(), "k", time.Second, 2*time.Second)
	if err == nil {
		lockB.Release()
		t.Fatalf("B obtained while A holds the lock for %v more", time.Until(lock.Deadline()))
	}
}

// TestFirstObtainsOnFreshNodes: the first locks of a new deployment, taken
// at once by several clients with wait 0, are plain contention: no failure
// caused by markers, and exactly one winner of each key.
func TestFirstObtainsOnFreshNodes(t *testing.T) {
	for round := range 5 {
		nodes := nodeset.Mini(t, 5)
		for _, n := range nodes.Nodes {
			n.M.Del(nodeset.MarkerKey)
		}
		lockers := make([]*Locker, 4)
		for i := range lockers {
			lockers[i] = newTestLocker(t, nodes, WithNodeTimeout(time.Second)) // 40 first calls at once, under -race: slow, not failed
		}
		var mu sync.Mutex
		var failures []error
		winners := map[string]int{}
		var wg sync.WaitGroup
		for c := range 40 {
			l := lockers[c%len(lockers)]
			key := fmt.Sprintf("k%d", c/2) // two callers per key
			wg.Go(func() {
				lock, err := l.ObtainContext(context.Background(), key, 5*time.Second, 0)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners[key]++
				case !errors.Is(err, ErrNotObtained) || errors.As(err, new(*QuorumError)):
					failures = append(failures, err)
				}
				_ = lock
			})
		}
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("round %d: %d of 40 first obtains failed, e.g. %v", round, len(failures), failures[0])
		}
		for k := range 20 {
			if w := winners[fmt.Sprintf("k%d", k)]; w != 1 {
				t.Fatalf("round %d: key k%d has %d winners, want 1", round, k, w)
			}
		}
	}
}

// TestRestartedNodeServesOneShotCallers: a node that restarted empty longer
// ago than the longest ttl has forgotten nothing that still matters: a new
// Locker with wait 0 (quorumlock exec without --wait) must obtain through
// it when it is needed for the quorum.
func TestRestartedNodeServesOneShotCallers(t *testing.T) {
	nodes := nodeset.StartReal(t, 3)
	l := newTestLocker(t, nodes)
	lock, err := l.ObtainContext(context.Background(), "warm-up", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	lock.Release()
	settle(l)
	restartEmpty(t, nodes, 0)
	time.Sleep(2500 * time.Millisecond) // up for more than the longest ttl, whole seconds counted safely
	nodes.Set(1, nodeset.Held, DefaultKeyPrefix+"lock:{k}", time.Minute)
	for i := range 3 {
		one := newTestLocker(t, nodes)
		lock, err := one.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0)
		if err != nil {
			t.Fatalf("one-shot caller %d: %v", i, err)
		}
		lock.Release()
		one.Close()
	}
}

// TestQuarantineLastsTheLongestTTL: a node that just restarted empty, where
// the longest ttl the nodes know is 300ms, is kept out for 300ms from the
// call that found it back: not a second more for the whole-second uptime,
// and not less than 300ms after its restart. The quarantine is the node's
// own state: its marker says until when, on its own clock.
func TestQuarantineLastsTheLongestTTL(t *testing.T) {
	nodes := nodeset.StartReal(t, 3)
	l := newTestLocker(t, nodes)
	lock, err := l.ObtainContext(context.Background(), "warm-up", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	lock.Release()
	settle(l)
	const longest = 300 * time.Millisecond
	restarted := time.Now() // before the restart: the node starts after this
	restartEmpty(t, nodes, 0)
	nodes.Set(1, nodeset.Held, DefaultKeyPrefix+"lock:{k}", time.Minute) // node 0 is needed
	b := newTestLocker(t, nodes)
	b.ObtainContext(context.Background(), "k", longest, 0)
	found := time.Now() // after the call that found node 0 back
	settle(b)
	left, ok := guardLeft(t, direct(t, nodes, 0))
	checked := time.Now()
	if !ok {
		t.Fatal("node 0 holds no quarantine of its own")
	}
	const slack = 10 * time.Millisecond // the node's clock and ours
	if most := longest - checked.Sub(found); left > max(most, 0)+slack {
		t.Fatalf("node 0 is kept out %v more, %v after the call that found it: longer than the longest ttl, %v", left, checked.Sub(found), longest)
	}
	if least := longest - checked.Sub(restarted); left < least-slack {
		t.Fatalf("node 0 is kept out %v more, %v after its restart: less than the longest ttl, %v", left, checked.Sub(restarted), longest)
	}
}

// restartEmpty kills node i and starts it again without its data.
func restartEmpty(t *testing.T, nodes *nodeset.Real, i int) {
	t.Helper()
	s := nodes.Procs.Servers[i]
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
}

// direct returns a client straight to node i, closed with the test.
func direct(t *testing.T, nodes *nodeset.Real, i int) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: nodes.Procs.Addrs()[i], MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// guardLeft reads a node's marker, "<ttl>:<announced ttl>:<quarantined
// until, ms on the node's clock>:...", and says how long the node's
// quarantine lasts from now on its clock.
func guardLeft(t *testing.T, c *redis.Client) (time.Duration, bool) {
	ctx := context.Background()
	v, err := c.Get(ctx, nodeset.MarkerKey).Result()
	if err != nil {
		return 0, false
	}
	parts := strings.Split(v, ":")
	if len(parts) < 3 {
		return 0, false
	}
	until, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return 0, false
	}
	now, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	return time.UnixMilli(until).Sub(now), true
}

// TestBurstHasOneWinner: a burst of callers with wait 0 on one key, from
// several Lockers, on nodes that are all up, new or long in service: every
// burst has exactly one winner. A split vote (no caller on a quorum) must
// not leave the burst without one.
func TestBurstHasOneWinner(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		for run := range *burstRuns {
			// A subtest each, so that each burst's nodes and clients are closed after it.
			t.Run(fmt.Sprintf("fresh=%v/%d", fresh, run), func(t *testing.T) { burstOfOne(t, fresh) })
			if t.Failed() {
				return
			}
		}
	}
}

// burstOfOne runs one burst of TestBurstHasOneWinner.
func burstOfOne(t *testing.T, fresh bool) {
	nodes := nodeset.Mini(t, 5)
	if fresh {
		for _, n := range nodes.Nodes {
			n.M.Del(nodeset.MarkerKey)
		}
	}
	lockers := make([]*Locker, 4)
	for i := range lockers {
		// Generous timeouts: under -race on a busy machine calls are slow, not failed.
		lockers[i] = newTestLocker(t, nodes, WithNodeTimeout(3*time.Second))
	}
	var mu sync.Mutex
	var wins int
	var failures, lost []error
	var wg sync.WaitGroup
	for c := range burstCallers {
		wg.Go(func() {
			_, err := lockers[c%len(lockers)].ObtainContext(context.Background(), "k", 10*time.Second, 0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrNotObtained):
				failures = append(failures, err)
			default:
				lost = append(lost, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || len(failures) > 0 {
		t.Fatalf("%d winners, errors %v; losers' errors, e.g. %v", wins, failures, lost[:min(len(lost), 3)])
	}
}

// burstCallers is the size of a burst in TestBurstHasOneWinner.
const burstCallers = 100

// burstRuns is how many bursts TestBurstHasOneWinner runs on new nodes and
// on nodes long in service: a few in CI, more for a longer search.
var burstRuns = flag.Int("burst.runs", 8, "bursts of TestBurstHasOneWinner, each way")

// TestNewDeploymentWithANodeDown: five new nodes, one of them down. Four
// pending nodes and a silent one cannot tell a new deployment from four
// that lost their data beside one that holds a lock with two of them
// (docs/safety.md, Limits): no lock is granted until the nodes have been
// pending for the maximum ttl (miniredis reports no start, so the pending
// ids' time counts), and then one is, without the fifth node.
func TestNewDeploymentWithANodeDown(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	for _, n := range nodes.Nodes {
		n.M.Del(nodeset.MarkerKey)
	}
	nodes.Set(4, nodeset.Hung, "", 0)
	const maxTTL = time.Second
	l := newTestLocker(t, nodes, WithMaxTTL(maxTTL))
	began := time.Now() // before the nodes became pending
	_, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0)
	if err == nil || time.Since(began) < maxTTL && !errors.Is(err, ErrRestartQuarantine) {
		t.Fatalf("first obtain: %v, want ErrRestartQuarantine", err)
	}
	for {
		lock, err := l.ObtainContext(context.Background(), "k", 300*time.Millisecond, 0)
		if err == nil {
			if took := time.Since(began); took < maxTTL {
				t.Fatalf("obtained %v after the nodes became pending, before the maximum ttl %v", took, maxTTL)
			}
			lock.Release()
			return
		}
		if time.Since(began) > maxTTL+10*time.Second { // generous: a bound against hanging
			t.Fatalf("not obtained %v after the nodes became pending: %v", time.Since(began), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
