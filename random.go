package quorumlock

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// random is a Locker's source of jitter and nonces, seeded from
// crypto/rand when the Locker is made: a test that makes crypto/rand
// deterministic (testing/cryptotest) makes every choice of the Locker
// deterministic too, lock values and waiter ids included.
type random struct {
	mu sync.Mutex
	r  *mrand.Rand
}

func newRandom() (*random, error) {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("quorumlock: random seed: %w", err)
	}
	return &random{r: mrand.New(mrand.NewChaCha8(seed))}, nil
}

// upTo returns a duration in [0, d]; 0 when d is not positive.
func (r *random) upTo(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Duration(r.r.Int64N(int64(d) + 1))
}

// uint64 returns a random number.
func (r *random) uint64() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.r.Uint64()
}
