package quorumlock

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Defaults of the options. Every option left out of New takes these.
const (
	// DefaultDriftFactor is the share of the ttl set aside for clock drift
	// between client and nodes; 2 ms are added to it.
	DefaultDriftFactor = 0.01
	// DefaultNodeTimeout is how long a round waits for one node.
	DefaultNodeTimeout = 100 * time.Millisecond
	// DefaultMinBackoff is the first pause between two attempts to obtain.
	DefaultMinBackoff = 8 * time.Millisecond
	// DefaultMaxBackoff is the longest pause between two attempts to obtain.
	DefaultMaxBackoff = 256 * time.Millisecond
	// DefaultKeyPrefix is put before every key on the nodes.
	DefaultKeyPrefix = "quorumlock:"
	// DefaultMaxTTL is the longest ttl Obtain and Refresh accept.
	DefaultMaxTTL = time.Hour
)

// Limits the options are checked against.
const (
	maxDriftFactor = 0.5
	maxNodeTimeout = time.Minute
	maxBackoff     = time.Minute
	maxMaxTTL      = 24 * time.Hour
)

// An Option configures a Locker in New, NewFromURLs or FromEnv.
type Option func(*options)

type options struct {
	driftFactor float64
	nodeTimeout time.Duration
	maxTTL      time.Duration
	minBackoff  time.Duration
	maxBackoff  time.Duration
	keyPrefix   string
	logger      *slog.Logger
	clock       Clock
	fencing     bool
	quarantine  bool
	owner       string
	hooks       Hooks
	errs        []error
}

func newOptions(opts []Option) (options, error) {
	o := options{
		driftFactor: DefaultDriftFactor,
		nodeTimeout: DefaultNodeTimeout,
		maxTTL:      DefaultMaxTTL,
		minBackoff:  DefaultMinBackoff,
		maxBackoff:  DefaultMaxBackoff,
		keyPrefix:   DefaultKeyPrefix,
		logger:      slog.Default(),
		clock:       systemClock{},
		quarantine:  true,
		owner:       defaultOwner(),
	}
	for _, opt := range opts {
		if opt == nil {
			o.invalid("an Option is nil")
			continue
		}
		opt(&o)
	}
	if len(o.errs) > 0 {
		return o, o.errs[0]
	}
	return o, nil
}

func (o *options) invalid(format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
}

// WithDriftFactor sets the share of the ttl set aside for clock drift
// between the client and the nodes: validity = ttl - elapsed - ttl*factor -
// 2ms. Default DefaultDriftFactor (0.01); allowed 0 <= factor < 0.5.
func WithDriftFactor(factor float64) Option {
	return func(o *options) {
		if !(factor >= 0 && factor < maxDriftFactor) {
			o.invalid("drift factor %v is outside [0, %v)", factor, maxDriftFactor)
			return
		}
		o.driftFactor = factor
	}
}

// WithNodeTimeout sets how long a round waits for any one node before it
// counts that node as failed, whatever the client's own timeouts. A ttl must
// exceed twice this. Default DefaultNodeTimeout (100ms); allowed up to a
// minute.
func WithNodeTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 || d > maxNodeTimeout {
			o.invalid("node timeout %v is outside (0, %v]", d, maxNodeTimeout)
			return
		}
		o.nodeTimeout = d
	}
}

// WithMaxTTL sets the longest ttl Obtain and Refresh accept; a longer one
// is refused with ErrInvalidTTL. A lock meant to last longer is kept alive
// with KeepAlive instead. Every client of one set of nodes should use the
// same maximum: a node that restarted without its data, when it cannot
// learn from the other nodes how long the locks it forgot may last, grants
// nothing until this long after its start. Default DefaultMaxTTL (1h);
// allowed up to 24h.
func WithMaxTTL(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 || d > maxMaxTTL || d%time.Millisecond != 0 {
			o.invalid("max ttl %v is outside (0, %v] or not whole milliseconds", d, maxMaxTTL)
			return
		}
		o.maxTTL = d
	}
}

// WithRetryBackoff sets the pauses between attempts while Obtain waits: the
// n-th pause is drawn at random from [d/2, d] with d = min * 2^n, capped at
// max. Defaults DefaultMinBackoff (8ms) and DefaultMaxBackoff (256ms).
func WithRetryBackoff(min, max time.Duration) Option {
	return func(o *options) {
		if min <= 0 || max < min || max > maxBackoff {
			o.invalid("retry backoff [%v, %v] must satisfy 0 < min <= max <= %v", min, max, maxBackoff)
			return
		}
		o.minBackoff, o.maxBackoff = min, max
	}
}

// WithKeyPrefix sets the prefix put before every key on the nodes, to keep
// locks apart from other data. Default DefaultKeyPrefix ("quorumlock:"); it
// may be empty, and must not hold braces (they would decide which Redis
// Cluster slot a lock's keys hash to).
func WithKeyPrefix(prefix string) Option {
	return func(o *options) {
		if strings.ContainsAny(prefix, "{}") {
			o.invalid("key prefix %q holds a brace: it would change the Cluster slot of a lock's keys", prefix)
			return
		}
		o.keyPrefix = prefix
	}
}

// WithLogger sets where the Locker logs: warnings for configuration it
// accepts but advises against and for errors the bool forms swallow, debug
// records for node failures. Default slog.Default(); nil discards.
func WithLogger(logger *slog.Logger) Option {
	return func(o *options) {
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		o.logger = logger
	}
}

// WithClock sets the clock used for validity, waiting and backoff. Default
// the system clock; tests may pass a fake one.
func WithClock(c Clock) Option {
	return func(o *options) {
		if c == nil {
			o.invalid("clock is nil")
			return
		}
		o.clock = c
	}
}

// WithFencing makes every obtain return a fencing token (Lock.Fence):
// strictly greater than every token handed out before for that key, by any
// client of the same nodes, so that a store can reject writes from a holder
// whose lock expired. It costs a second round per obtain. Counters live at
// <prefix>fence:{key} and never expire. Default off.
func WithFencing() Option {
	return func(o *options) { o.fencing = true }
}

// WithRestartQuarantine turns the restart quarantine on or off. When on,
// a node that comes back without its data grants no lock until every lock
// it may have forgotten has expired: the longest ttl the other nodes were
// told of, since it started (docs/safety.md). The nodes decide it
// themselves from a marker key (<prefix>node); it costs nothing while they
// keep their data, and a ttl longer than any before is announced to a
// quorum once (two rounds) before its first use. Every client of one set of
// nodes must use the same setting. Default on; off is Redlock as
// published, which needs a crashed node to stay down for the longest ttl.
func WithRestartQuarantine(on bool) Option {
	return func(o *options) { o.quarantine = on }
}

// WithOwner sets the name put at the front of every lock's value, so that
// `quorumlock status` and a look at the nodes tell who holds a lock.
// Default "<hostname>:<pid>". It must not be empty or contain a control
// character (a newline among them).
func WithOwner(name string) Option {
	return func(o *options) {
		if name == "" || strings.ContainsFunc(name, unicode.IsControl) {
			o.invalid("owner %q must be non-empty and without control characters (a single line)", name)
			return
		}
		o.owner = name
	}
}

// WithHooks sets functions the Locker calls as it works, for metrics.
// Default none.
func WithHooks(h Hooks) Option {
	return func(o *options) { o.hooks = h }
}

func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}
