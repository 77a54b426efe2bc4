package quorumlock

import "time"

// Clock tells the time for validity math, waiting and backoff. Now must
// carry a monotonic reading, as time.Now does, so that wall-clock jumps on
// the client never stretch a lock. A clockwork.Clock satisfies it.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// minDrift is added to every drift allowance: the Redlock reference
// implementation's 2 ms for the granularity of Redis expiry.
const minDrift = 2 * time.Millisecond

// drift is the clock-drift allowance for a lock of the given ttl.
func drift(ttl time.Duration, factor float64) time.Duration {
	return time.Duration(float64(ttl)*factor) + minDrift
}

// validUntil is the moment a lock granted with ttl by a round that started
// at start stops being valid: start + ttl - drift. Measuring from before the
// first send means the elapsed round trip is already subtracted.
func validUntil(start time.Time, ttl time.Duration, factor float64) time.Time {
	return start.Add(ttl - drift(ttl, factor))
}
