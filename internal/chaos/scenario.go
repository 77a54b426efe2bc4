package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/quorumlock/quorumlock"
	"github.com/quorumlock/quorumlock/internal/history"
)

// A scripted schedule: a few clients and faults in a fixed order, each
// showing one case of the safety model. Clients A and B are separate
// Lockers with their own links, on miniredis nodes.
type script struct {
	cluster *Cluster
	lockers []*quorumlock.Locker
	rec     *history.Recorder
	store   *fencedStore // written to by acts of fenced locks
	ttl     time.Duration
}

// Outcome is a scripted schedule's history, checked, and what the fenced
// store decided (with fencing).
type Outcome struct {
	history.Report
	Accepted, Rejected int
}

func (s *script) outcome() Outcome {
	h := s.rec.History()
	o := Outcome{Report: history.Check(h)}
	for _, w := range h.Writes {
		if w.Accepted {
			o.Accepted++
		} else {
			o.Rejected++
		}
	}
	return o
}

const scriptKey = "job"

// scriptNodeTimeout is the Lockers' node timeout in scripted schedules.
const scriptNodeTimeout = 100 * time.Millisecond

func newScript(nodes, clients int, ttl time.Duration, opts []quorumlock.Option) (*script, error) {
	c, err := NewCluster(nodes, clients, "")
	if err != nil {
		return nil, err
	}
	s := &script{cluster: c, rec: history.NewRecorder(), ttl: ttl}
	s.store = &fencedStore{rec: s.rec}
	for i := range clients {
		o := append([]quorumlock.Option{quorumlock.WithLogger(nil), quorumlock.WithNodeTimeout(scriptNodeTimeout)}, opts...)
		l, err := quorumlock.NewFromURLs(c.URLs(i), o...)
		if err != nil {
			s.close()
			return nil, err
		}
		s.lockers = append(s.lockers, l)
	}
	return s, nil
}

func (s *script) close() {
	for _, l := range s.lockers {
		l.Close()
	}
	s.cluster.Close()
}

// obtain records client's attempt; the lock is nil when not obtained.
func (s *script) obtain(client int, ttl, wait time.Duration) (*quorumlock.Lock, string) {
	id := fmt.Sprintf("%c", 'A'+client)
	call := s.rec.Since()
	lock, err := s.lockers[client].ObtainContext(context.Background(), scriptKey, ttl, wait)
	if err != nil {
		s.rec.Obtain(id, id, call, s.rec.Since(), false, 0)
		return nil, id
	}
	s.rec.Obtain(id, id, call, s.rec.Since(), true, s.rec.At(lock.Deadline()))
	return lock, id
}

// act is the guarded work; a fenced lock writes its token to the store.
func (s *script) act(lock *quorumlock.Lock, id string) {
	start := s.rec.Since()
	if lock.Fence() > 0 {
		s.store.write(id, lock.Fence())
	}
	time.Sleep(time.Millisecond)
	s.rec.Act(id, start, s.rec.Since())
}

func (s *script) release(lock *quorumlock.Lock, id string) {
	if lock == nil {
		return
	}
	call := s.rec.Since()
	lock.Release()
	s.rec.Release(id, call, s.rec.Since())
}

// A node restarts empty while a holder's lock rests on a bare quorum that
// includes it. Client A is cut off from node 2 while it obtains, so it holds
// nodes 0 and 1 of 3; node 0 then crashes and comes back at once with no
// data (or its clock jumps forward by the ttl, with jump); client B then
// finds nodes 0 and 2 free. Outside the safety model: B must be refused
// only if the Locker keeps the delayed-restart rule itself.
func bareQuorumLoss(jump bool, opts []quorumlock.Option) (Outcome, error) {
	s, err := newScript(3, 2, 5*time.Second, opts)
	if err != nil {
		return Outcome{}, err
	}
	defer s.close()
	s.cluster.Partition(0, []int{2}, true)
	a, ida := s.obtain(0, s.ttl, 0)
	if a == nil {
		return Outcome{}, fmt.Errorf("client A could not obtain the lock on nodes 0 and 1")
	}
	// Heal only once A's call to node 2, stuck in the partition, has timed
	// out: else it could still land there after the heal.
	time.Sleep(3 * scriptNodeTimeout)
	s.cluster.Partition(0, []int{2}, false)
	if jump {
		err = s.cluster.JumpClock(0, s.ttl)
	} else if err = s.cluster.Crash(0); err == nil {
		err = s.cluster.Restart(0, false)
	}
	if err != nil {
		return Outcome{}, err
	}
	// B may wait a second, far less than A's validity: on a busy machine
	// its first round can fail on a slow node, and the schedule is about
	// what B gets while A holds.
	b, idb := s.obtain(1, s.ttl, time.Second)
	if b != nil {
		s.act(b, idb)
	}
	s.act(a, ida) // A still holds its lease, and acts
	s.release(b, idb)
	s.release(a, ida)
	return s.outcome(), nil
}

// InstantRestart runs the instant-empty-restart schedule and checks its
// history. With the Locker's restart quarantine on (the default), the
// restarted node refuses B and there is no violation; pass
// quorumlock.WithRestartQuarantine(false) to see Redlock without it.
func InstantRestart(opts ...quorumlock.Option) (Outcome, error) {
	return bareQuorumLoss(false, opts)
}

// ClockJumpOnNode runs the clock-jump schedule and checks its history.
func ClockJumpOnNode(opts ...quorumlock.Option) (Outcome, error) {
	return bareQuorumLoss(true, opts)
}

// PausedClient runs a paused-client schedule: A obtains a short lock and pauses past its validity (a GC
// pause, a SIGSTOP); B obtains it once it expired; A wakes and acts without
// checking, while B holds the lock.
func PausedClient(opts ...quorumlock.Option) (Outcome, error) {
	s, err := newScript(3, 2, time.Second, opts)
	if err != nil {
		return Outcome{}, err
	}
	defer s.close()
	a, ida := s.obtain(0, s.ttl, 0)
	if a == nil {
		return Outcome{}, fmt.Errorf("client A could not obtain the lock")
	}
	b, idb := s.obtain(1, 10*s.ttl, 5*s.ttl) // waits until A's lock expires
	if b == nil {
		return Outcome{}, fmt.Errorf("client B did not get the lock after A's expired")
	}
	s.act(b, idb)
	s.act(a, ida) // A, back from its pause
	s.release(b, idb)
	s.release(a, ida)
	return s.outcome(), nil
}

// HolderCrash runs a crashed-holder schedule: with two of five nodes down, A obtains a lock and crashes
// without releasing it; B waits for it. It returns how long after A's crash
// B got the lock: liveness asks for at most about the ttl.
func HolderCrash(ttl time.Duration, opts ...quorumlock.Option) (time.Duration, Outcome, error) {
	s, err := newScript(5, 2, ttl, opts)
	if err != nil {
		return 0, Outcome{}, err
	}
	defer s.close()
	if err := s.cluster.Crash(3); err != nil {
		return 0, Outcome{}, err
	}
	if err := s.cluster.Crash(4); err != nil {
		return 0, Outcome{}, err
	}
	a, _ := s.obtain(0, ttl, 0)
	if a == nil {
		return 0, Outcome{}, fmt.Errorf("client A could not obtain the lock with three of five nodes up")
	}
	crashed := time.Now() // A is gone: no release, no refresh
	b, idb := s.obtain(1, ttl, 10*ttl)
	took := time.Since(crashed)
	if b == nil {
		return took, s.outcome(), fmt.Errorf("client B did not get the lock within %v", 10*ttl)
	}
	s.act(b, idb)
	s.release(b, idb)
	return took, s.outcome(), nil
}
