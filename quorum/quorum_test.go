package quorum

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// script answers each node's call with a fixed vote after a delay; a
// negative delay means the node never answers until the test ends.
type script struct {
	votes  []Vote
	delays []time.Duration
	hang   chan struct{}
}

func (s *script) call(ctx context.Context, i int) Reply {
	if s.delays != nil && s.delays[i] < 0 {
		<-s.hang // a hung node that ignores its context
		return Reply{Vote: Failed, Err: errors.New("hung")}
	}
	if s.delays != nil {
		time.Sleep(s.delays[i])
	}
	if s.votes[i] == Failed {
		return Reply{Vote: Failed, Err: errors.New("down")}
	}
	return Reply{Vote: s.votes[i]}
}

func TestRunDecidesOnEveryMix(t *testing.T) {
	for n := 1; n <= 5; n++ {
		q := n/2 + 1
		// every assignment of yes/no/failed to n nodes
		total := 1
		for range n {
			total *= 3
		}
		for code := range total {
			votes := make([]Vote, n)
			c, yes := code, 0
			for i := range votes {
				votes[i] = Vote(c%3 + 1)
				c /= 3
				if votes[i] == Yes {
					yes++
				}
			}
			s := &script{votes: votes}
			var wg sync.WaitGroup
			res := Run(context.Background(), NewSeq(n), Config{Quorum: q, Timeout: time.Second, Tracker: &wg}, s.call)
			wg.Wait()
			want := Missed
			if yes >= q {
				want = Reached
			}
			if res.Outcome != want {
				t.Fatalf("n=%d votes=%v: outcome %v, want %v", n, votes, res.Outcome, want)
			}
			if res.Outcome == Reached && res.Yes != q {
				t.Fatalf("n=%d votes=%v: decided at %d yes, want exactly the quorum %d", n, votes, res.Yes, q)
			}
		}
	}
}

func TestRunDoesNotWaitForHungNodes(t *testing.T) {
	s := &script{
		votes:  []Vote{Yes, Yes, Yes, Yes, Yes},
		delays: []time.Duration{0, 0, 0, -1, -1},
		hang:   make(chan struct{}),
	}
	var wg sync.WaitGroup
	start := time.Now()
	res := Run(context.Background(), NewSeq(5), Config{Quorum: 3, Timeout: time.Hour, Tracker: &wg}, s.call)
	if res.Outcome != Reached {
		t.Fatalf("outcome %v, want Reached", res.Outcome)
	}
	if res.Replies[3].Vote != Pending || res.Replies[4].Vote != Pending {
		t.Fatalf("hung nodes should be pending at the decision: %+v", res.Replies)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("round waited %v for hung nodes", took)
	}
	close(s.hang)
	wg.Wait()
}

func TestRunTimesOutHungNodes(t *testing.T) {
	s := &script{
		votes:  []Vote{Yes, Yes, No, Yes, Yes},
		delays: []time.Duration{0, 0, 0, -1, -1},
		hang:   make(chan struct{}),
	}
	var wg sync.WaitGroup
	res := Run(context.Background(), NewSeq(5), Config{Quorum: 3, Timeout: 20 * time.Millisecond, Tracker: &wg}, s.call)
	if res.Outcome != Missed || res.Yes != 2 || res.No != 1 || res.Failed != 2 {
		t.Fatalf("got %+v, want Missed with 2 yes, 1 no, 2 failed", res)
	}
	for _, i := range []int{3, 4} {
		if !errors.Is(res.Replies[i].Err, ErrTimeout) {
			t.Fatalf("node %d: err %v, want ErrTimeout", i, res.Replies[i].Err)
		}
	}
	close(s.hang)
	wg.Wait()
}

func TestRunCanceled(t *testing.T) {
	s := &script{votes: []Vote{Yes, Yes, Yes}, delays: []time.Duration{-1, -1, -1}, hang: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	res := Run(ctx, NewSeq(3), Config{Quorum: 2, Timeout: time.Hour, Tracker: &wg}, s.call)
	if res.Outcome != Canceled {
		t.Fatalf("outcome %v, want Canceled", res.Outcome)
	}
	close(s.hang)
	wg.Wait()
}

func TestSeqOrdersCallsPerNode(t *testing.T) {
	seq := NewSeq(2)
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	record := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	// First round: node 1 is slow; the round decides without it.
	res := Run(context.Background(), seq, Config{Quorum: 1, Timeout: time.Hour, Tracker: &wg}, func(ctx context.Context, i int) Reply {
		if i == 1 {
			<-release
			record("first@1")
		}
		return Reply{Vote: Yes}
	})
	if res.Outcome != Reached {
		t.Fatalf("first round: %v", res.Outcome)
	}
	done := make(chan Result)
	go func() {
		done <- Run(context.Background(), seq, Config{Quorum: 2, Timeout: time.Hour, Tracker: &wg}, func(ctx context.Context, i int) Reply {
			if i == 1 {
				record("second@1")
			}
			return Reply{Vote: Yes}
		})
	}()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if r := <-done; r.Outcome != Reached {
		t.Fatalf("second round: %v", r.Outcome)
	}
	wg.Wait()
	if len(order) != 2 || order[0] != "first@1" || order[1] != "second@1" {
		t.Fatalf("calls on node 1 ran as %v, want first then second", order)
	}
}

func TestRunSendsNothingWhenAlreadyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	res := Run(ctx, NewSeq(3), Config{Quorum: 2, Timeout: time.Second}, func(context.Context, int) Reply {
		called = true
		return Reply{Vote: Yes}
	})
	if res.Outcome != Canceled || called || res.No != 3 {
		t.Fatalf("outcome %v, called %v, %d no: want Canceled, nothing sent", res.Outcome, called, res.No)
	}
}

// TestCallOutlivesCancellation: a call already sent completes even when the
// caller cancels, so that a later call on the node runs after it landed.
func TestCallOutlivesCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	callCtxErr := make(chan error, 1)
	started := make(chan struct{})
	res := make(chan Result, 1)
	go func() {
		res <- Run(ctx, NewSeq(1), Config{Quorum: 1, Timeout: time.Hour, Tracker: &wg}, func(c context.Context, _ int) Reply {
			close(started)
			time.Sleep(50 * time.Millisecond)
			callCtxErr <- c.Err()
			return Reply{Vote: Yes}
		})
	}()
	<-started
	cancel()
	if r := <-res; r.Outcome != Canceled {
		t.Fatalf("outcome %v, want Canceled", r.Outcome)
	}
	wg.Wait()
	if err := <-callCtxErr; err != nil {
		t.Fatalf("the call's context was cancelled with the caller: %v", err)
	}
}

// TestSeqHoldsOrderWhenAWaitingCallIsCanceled: a round whose caller gives up
// while its call on a node still waits for the previous call there must not
// let the next round's call (a clean-up) start before that previous call has
// returned: otherwise the clean-up can run before the call it cleans up after
// lands, and leave the key behind.
func TestSeqHoldsOrderWhenAWaitingCallIsCanceled(t *testing.T) {
	seq := NewSeq(1)
	var wg sync.WaitGroup
	defer wg.Wait()
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) }) // before wg.Wait: the slow call ends
	landed, started := make(chan struct{}), make(chan struct{})
	first := make(chan Result, 1)
	go func() { // an acquire whose call on the node is slow
		first <- Run(context.Background(), seq, Config{Quorum: 1, Timeout: time.Hour, Tracker: &wg}, func(context.Context, int) Reply {
			close(started)
			<-release
			close(landed)
			return Reply{Vote: Yes}
		})
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan Result, 1)
	go func() { // the next round waits for it, and its caller gives up
		second <- Run(ctx, seq, Config{Quorum: 1, Timeout: time.Hour, Tracker: &wg}, func(context.Context, int) Reply {
			return Reply{Vote: Yes}
		})
	}()
	time.Sleep(10 * time.Millisecond) // the second round is queued behind the first
	cancel()
	if r := <-second; r.Outcome != Canceled {
		t.Fatalf("second round: %v, want Canceled", r.Outcome)
	}
	third := make(chan bool, 1)
	go func() { // the clean-up
		Run(context.Background(), seq, Config{Quorum: 1, Timeout: time.Hour, Tracker: &wg}, func(context.Context, int) Reply {
			select {
			case <-landed:
				third <- true
			default:
				third <- false
			}
			return Reply{Vote: Yes}
		})
	}()
	select {
	case ok := <-third:
		t.Fatalf("the clean-up ran while the slow call was still in flight (after it: %v)", ok)
	case <-time.After(50 * time.Millisecond):
	}
	once.Do(func() { close(release) })
	if !<-third {
		t.Fatal("the clean-up ran before the slow call landed")
	}
	<-first
}

// TestSeqWait: Wait returns once every call started on the Seq returned,
// not when their round was decided.
func TestSeqWait(t *testing.T) {
	seq := NewSeq(2)
	release := make(chan struct{})
	var wg sync.WaitGroup
	res := Run(context.Background(), seq, Config{Quorum: 1, Timeout: time.Hour, Tracker: &wg}, func(_ context.Context, i int) Reply {
		if i == 1 {
			<-release
		}
		return Reply{Vote: Yes}
	})
	if res.Outcome != Reached {
		t.Fatalf("outcome %v", res.Outcome)
	}
	waited := make(chan struct{})
	go func() { seq.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while node 1's call was still running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-waited
	wg.Wait()
}

// TestSeqForgetsReturnedCalls: once its calls returned, a Seq keeps no
// channel: a held lock costs no memory per node for its past rounds.
func TestSeqForgetsReturnedCalls(t *testing.T) {
	seq := NewSeq(3)
	var wg sync.WaitGroup
	for range 2 {
		Run(context.Background(), seq, Config{Quorum: 2, Timeout: time.Second, Tracker: &wg}, func(context.Context, int) Reply {
			return Reply{Vote: Yes}
		})
	}
	wg.Wait()
	seq.Wait()
	for i, c := range seq.tail {
		if c != nil {
			t.Fatalf("node %d: a returned call's channel is still kept", i)
		}
	}
}
