package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/history"
)

// Config says which rules of the safety model (docs/safety.md) a run may
// break; the zero Config stays inside the model.
type Config struct {
	// InstantRestarts brings crashed nodes back empty at once with the
	// restart quarantine off (Redlock as published): outside the model.
	InstantRestarts bool
	// ClockJumps moves node clocks forward by seconds at once: outside.
	ClockJumps bool
	// Pauses lets holders act after their validity ended, without checking
	// it: outside.
	Pauses bool
}

// Outside reports whether c breaks a rule of the model.
func (c Config) Outside() bool { return c.InstantRestarts || c.ClockJumps || c.Pauses }

// The fixed parameters of every run, in virtual time.
const (
	nodeTimeout = 100 * time.Millisecond // a Locker's, or slowTimeout
	slowTimeout = 250 * time.Millisecond // another instance's, configured apart
	maxTTL      = 2 * time.Second
	opsFor      = 3 * time.Second // how long the workers start operations
	settleFor   = 6 * time.Second // after the operations: every lease, lock and waiter gone
	keyPrefix   = "quorumlock:"
)

// refreshTTLs are the ttls a holder refreshes to; a schedule obtains with
// the first few of them only, so that refreshes to longer ttls than any
// obtain used come up (the restart quarantine must count them).
var refreshTTLs = []time.Duration{300 * time.Millisecond, 500 * time.Millisecond, time.Second, maxTTL}

// Result is what one run came to.
type Result struct {
	Seed       uint64
	Violations []string // empty when the run was correct
	Trace      []string // every operation and fault, in order: the replay's record
	Obtains    int      // successful obtains
}

// Run runs the schedule of seed inside a synctest bubble of its own and
// returns what the checker found. t must not be parallel (the schedule
// fixes crypto/rand for its duration).
func Run(t *testing.T, seed uint64, cfg Config) Result {
	var res Result
	t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
		cryptotest.SetGlobalRandom(t, seed)
		synctest.Test(t, func(*testing.T) { res = run(seed, cfg) })
	})
	return res
}

// world is one run's nodes, network, Lockers and records.
type world struct {
	seed    uint64
	cfg     Config
	rng     *rand.Rand // the schedule's choices, made before anything runs
	nodes   []*node
	net     *network
	lockers []*quorumlock.Locker
	timeout []time.Duration // each Locker's node timeout
	clients [][]*redis.Client
	fencing bool
	// contention is the workload without node faults: a congested
	// network, instances configured apart, brief holds in quick succession.
	contention bool
	keys       []string
	obtainTTLs []time.Duration // the ttls the schedule obtains with
	origin     time.Time

	mu      sync.Mutex
	trace   []string
	hist    map[string]*history.History // by key
	store   map[string]uint64           // the fenced resource: highest token accepted, by key
	tokens  map[string][]fenced         // the fenced obtains, by key
	obtains int
	pending int // faults still to be undone

	inFlight    map[[2]string]string // node and lock value: the keys of the call on its way
	orderBroken []string             // calls of one lock on one node at once (order.go)
	callFaults  []*callFault         // the faults waiting for a call (callfaults.go)
	steps       []string             // what holders do in this schedule (workload.go)
	exposures   []string             // moments a quorum could grant a trusted lock (exposure.go)
	trusted     map[string]trusted   // the locks their holders trust, by id in the history
	shorten     bool                 // holders refresh to shorter ttls only
	losses      []loss               // the crashes that lost a node's data, as they happened (aim.go)
	lossMu      sync.Mutex           // one data-losing crash at a time (faults.go)
	mjMu        sync.Mutex           // guards mj; taken inside a node's script mutex
	mj          *markerJudge         // nil with the quarantine off (markers.go)
}

func (w *world) logf(format string, args ...any) {
	if debugTrace {
		println(fmt.Sprintf(format, args...))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.trace = append(w.trace, fmt.Sprintf("%9.3fms ", float64(time.Since(w.origin).Microseconds())/1000)+fmt.Sprintf(format, args...))
}

func (w *world) since(t time.Time) time.Duration { return t.Sub(w.origin) }

func run(seed uint64, cfg Config) Result {
	w := &world{seed: seed, cfg: cfg, rng: rand.New(rand.NewPCG(seed, 0x51ab)), origin: time.Now(),
		hist: map[string]*history.History{}, inFlight: map[[2]string]string{}, trusted: map[string]trusted{}, store: map[string]uint64{}, tokens: map[string][]fenced{}}
	n := 3 + 2*w.rng.IntN(2)
	for range n {
		rate := 1.0
		if w.rng.IntN(2) == 0 {
			rate += (w.rng.Float64()*2 - 1) * 0.004 // within the drift allowance
		}
		w.nodes = append(w.nodes, newNode(rate))
	}
	if !cfg.InstantRestarts { // with the quarantine on: markers to judge
		w.mj = newMarkerJudge(n)
		for i, nd := range w.nodes {
			nd.sc.after = func() { w.afterScript(i) }
		}
	}
	// Half the schedules inside the model are of the contention workload:
	// no node fails, but the network is congested, the instances are
	// configured apart, and they race for the keys with brief holds. The
	// others are of the faults workload.
	w.contention = !cfg.Outside() && w.rng.IntN(2) == 0

	tail := []float64{0, 0.02, 0.1, 0.25}[w.rng.IntN(4)]
	tailMax := []time.Duration{60 * time.Millisecond, 180 * time.Millisecond}[w.rng.IntN(2)] // below and above the node timeout
	if w.contention {                                                                        // late beyond the shorter node timeout: answers a caller gave up on land
		tail, tailMax = []float64{0.1, 0.25, 0.4}[w.rng.IntN(3)], 180*time.Millisecond
	}
	w.net = newNetwork(seed, w.nodes, 2*time.Millisecond, tail, tailMax)
	w.fencing = w.rng.IntN(2) == 0
	w.keys = []string{"k0", "k1"}[:1+w.rng.IntN(2)]
	w.obtainTTLs = refreshTTLs[:1+w.rng.IntN(len(refreshTTLs))]
	for _, k := range w.keys {
		w.hist[k] = &history.History{}
	}
	// Swarm testing again: each schedule's holders do some of the things a
	// holder can, so that a schedule of short refreshes is not diluted by
	// KeepAlive, nor one of KeepAlive by acts.
	for _, s := range holdSteps {
		if w.rng.IntN(2) == 0 {
			w.steps = append(w.steps, s)
		}
	}
	if len(w.steps) == 0 {
		w.steps = holdSteps
	}
	w.shorten = w.rng.IntN(2) == 0
	lockers := 2 + w.rng.IntN(2)
	for c := range lockers {
		// Instances configured apart: one may wait for a node longer than
		// another gives it, and take a late answer another gave up on.
		timeouts := []time.Duration{nodeTimeout, nodeTimeout, slowTimeout}
		if w.contention {
			timeouts = timeouts[1:]
		}
		w.timeout = append(w.timeout, timeouts[w.rng.IntN(len(timeouts))])
		w.lockers = append(w.lockers, w.newLocker(c))
	}
	w.logf("nodes %d, lockers %d (node timeouts %v), keys %v, fencing %v, ttls %v, late chunks %.0f%% by up to %v, contention %v, holds %v (refreshes only shorter %v), config %+v",
		n, lockers, w.timeout, w.keys, w.fencing, w.obtainTTLs, tail*100, tailMax, w.contention, w.steps, w.shorten, cfg)

	faults := w.planFaults()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.runFaults(ctx, faults) })
	watching, unwatch := context.WithCancel(context.Background())
	var watcher sync.WaitGroup
	watcher.Go(func() { w.watchExposure(watching) })
	for c := range w.lockers {
		for k := range 1 + w.rng.IntN(3) {
			r := rand.New(rand.NewPCG(seed, uint64(c*16+k+1)))
			wg.Go(func() { w.work(ctx, c, fmt.Sprintf("L%d.%d", c, k), r) })
		}
	}
	time.Sleep(opsFor)
	stop()
	closeAt := dur(w.rng, 100*time.Millisecond) // Close while calls are in flight
	time.Sleep(closeAt)
	for i, l := range w.lockers {
		l.Close()
		w.logf("locker %d closed", i)
	}
	wg.Wait()
	unwatch()
	watcher.Wait()
	w.heal()
	time.Sleep(settleFor)
	res := Result{Seed: seed, Violations: w.check()}
	for _, cs := range w.clients {
		for _, c := range cs {
			c.Close()
		}
	}
	w.net.closeAll()
	for _, nd := range w.nodes {
		nd.m.Close()
	}
	// Events of one instant are logged in whatever order their goroutines
	// ran: the trace lists them by time, then by text.
	sort.Strings(w.trace[1:]) // every line but the first starts with its time, fixed width
	res.Trace, res.Obtains = w.trace, w.obtains
	return res
}

// newLocker makes Locker c over clients whose connections are the
// simulator's links.
func (w *world) newLocker(c int) *quorumlock.Locker {
	var clients []redis.UniversalClient
	var own []*redis.Client
	timeout := w.timeout[c]
	for i := range w.nodes {
		cl := redis.NewClient(&redis.Options{
			Addr:                  fmt.Sprintf("127.0.0.1:%d", 7000+i), // never dialled: the Dialer is the simulator's
			Dialer:                func(ctx context.Context, _, _ string) (net.Conn, error) { return w.net.dial(c, i) },
			DialTimeout:           timeout,
			ReadTimeout:           timeout,
			WriteTimeout:          timeout,
			ContextTimeoutEnabled: true,
			// Never a wait for a connection: go-redis then takes a timer
			// from a process-wide pool, made in another schedule's bubble,
			// and the runtime stops ("select on synctest channel from
			// outside bubble").
			PoolSize:   1024,
			MaxRetries: -1, // a retry's backoff would sleep holding a pub/sub mutex
			Protocol:   2,
			// Small buffers: clients dial often (a connection whose call
			// timed out is closed), and the simulator's calls are small.
			ReadBufferSize:  4 << 10,
			WriteBufferSize: 4 << 10,
		})
		cl.AddHook(orderHook{w: w, node: i})
		cl.AddHook(callFaultHook{w: w, client: c, node: i, timeout: timeout})
		clients = append(clients, cl)
		own = append(own, cl)
	}
	w.clients = append(w.clients, own)
	opts := []quorumlock.Option{
		quorumlock.WithNodeTimeout(timeout),
		quorumlock.WithMaxTTL(maxTTL),
		quorumlock.WithLogger(nil),
		quorumlock.WithOwner(fmt.Sprintf("L%d", c)),
		quorumlock.WithKeyPrefix(keyPrefix),
		quorumlock.WithRestartQuarantine(!w.cfg.InstantRestarts),
	}
	if w.fencing {
		opts = append(opts, quorumlock.WithFencing())
	}
	l, err := quorumlock.New(clients, opts...)
	if err != nil {
		panic(fmt.Sprintf("sim: New: %v", err))
	}
	return l
}

// check judges the run: the history checker on every key, fencing tokens in
// lease order, and nothing of a lock left on any node once it settled.
func (w *world) check() []string {
	out := append([]string(nil), w.orderBroken...)
	out = append(out, w.exposures[:min(len(w.exposures), 3)]...)
	if w.mj != nil {
		w.mjMu.Lock()
		out = append(out, w.mj.found...)
		w.mjMu.Unlock()
	}
	for _, k := range w.keys {
		rep := history.Check(*w.hist[k])
		for _, v := range rep.Violations {
			out = append(out, fmt.Sprintf("key %s: %v", k, v))
		}
		out = append(out, checkFences(k, w.tokens[k])...)
	}
	for i, nd := range w.nodes {
		nd.tick() // its clock, and its keys' expiry, up to now
		keys := nd.m.Keys()
		sort.Strings(keys)
		for _, key := range keys {
			if strings.HasPrefix(key, keyPrefix+"lock:") || strings.HasPrefix(key, keyPrefix+"wait:") || strings.HasPrefix(key, keyPrefix+"lease:") {
				out = append(out, fmt.Sprintf("node %d: %s left after the run settled (ttl %v)", i, key, nd.m.TTL(key)))
			}
		}
	}
	return out
}

var debugTrace = os.Getenv("SIM_DEBUG") != ""

// quiet drops go-redis's own log lines (refused dials while a node is
// down): the trace tells what happened.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }
