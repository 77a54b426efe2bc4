package quorumlock

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

// shiftClock is the system clock moved forward by a settable offset, and,
// when step is set, moved again by step at every reading.
type shiftClock struct {
	mu     sync.Mutex
	offset time.Duration
	step   time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += c.step
	return time.Now().Add(c.offset)
}

func (c *shiftClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (c *shiftClock) set(offset, step time.Duration) {
	c.mu.Lock()
	c.offset, c.step = offset, step
	c.mu.Unlock()
}

func TestDriftAndValidity(t *testing.T) {
	if d := drift(10*time.Second, 0.01); d != 102*time.Millisecond {
		t.Fatalf("drift(10s, 0.01) = %v, want 102ms", d)
	}
	start := time.Now()
	if got := validUntil(start, time.Second, 0.01).Sub(start); got != 988*time.Millisecond {
		t.Fatalf("validity of a 1s lock = %v, want 988ms", got)
	}
}

// TestSlowRoundIsNotObtained: a round whose elapsed time eats the whole ttl
// yields no lock, and what it set on the nodes is removed.
func TestSlowRoundIsNotObtained(t *testing.T) {
	nodes := nodeset.Mini(t, 3)
	clock := &shiftClock{}
	l := newTestLocker(t, nodes, WithClock(clock))
	clock.set(0, time.Second) // every reading of the clock is a second later
	_, err := l.ObtainContext(context.Background(), "k", time.Second, 0)
	if !errors.Is(err, ErrNotObtained) || !strings.Contains(err.Error(), "longer than the ttl") {
		t.Fatalf("err = %v, want ErrNotObtained for a round longer than the ttl", err)
	}
	l.Close()
	for _, e := range nodes.Entries() {
		if e.Key != DefaultKeyPrefix+"node" {
			t.Fatalf("left behind: %v", e)
		}
	}
}

// TestTTLIsCappedByLocalValidity: the nodes still hold the key for almost
// the whole ttl, but the client's clock says the grant is nearly used up.
func TestTTLIsCappedByLocalValidity(t *testing.T) {
	clock := &shiftClock{}
	l := newTestLocker(t, nodeset.Mini(t, 3), WithClock(clock))
	lock, err := l.ObtainContext(context.Background(), "k", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if left := time.Until(lock.Deadline()); left <= 9*time.Second || left > 10*time.Second-drift(10*time.Second, DefaultDriftFactor) {
		t.Fatalf("Deadline is %v away, want just under 10s less the drift", left)
	}
	clock.set(9*time.Second, 0)
	if d := lock.TTL(); d <= 0 || d > time.Second {
		t.Fatalf("TTL = %v, want at most the 1s of local validity left", d)
	}
	clock.set(11*time.Second, 0)
	if d, err := lock.TTLContext(context.Background()); d != 0 || !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("TTL past local validity = %v, %v", d, err)
	}
	if err := lock.RefreshContext(context.Background(), time.Minute); !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("refresh past validity: %v, want ErrLockNotHeld", err)
	}
}
