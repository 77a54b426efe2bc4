package sim

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// callKind names a Locker's script call by its keys (quorumlock's keys.go),
// or "": "acquire", "refresh", "release", "fence" (the fencing write-back),
// "ttl" or "marker" (the restart quarantine's reads, marks, announces and
// commits). A fault may take aim at one kind.
func callKind(cmd redis.Cmder) string {
	k, _, ok := scriptCall(cmd)
	if !ok || len(k) == 0 {
		return ""
	}
	keys := make([]string, len(k))
	for i := range k {
		keys[i], _ = k[i].(string)
	}
	n := len(keys)
	is := func(k, kind string) bool { return strings.HasPrefix(k, keyPrefix+kind+":") }
	switch {
	case n == 1 && is(keys[0], "lock"):
		return "ttl"
	case n == 1 && is(keys[0], "fence"):
		return "fence"
	case n == 1 && keys[0] == keyPrefix+"node":
		return "marker"
	case n == 2 && is(keys[0], "lock"):
		return "refresh"
	case n >= 3 && is(keys[0], "lock") && is(keys[2], "fence"): // keys[1] the marker, or the lock again with the quarantine off
		return "acquire"
	case n == 3 && is(keys[0], "lock") && is(keys[1], "wait"):
		return "release"
	}
	return ""
}

// callValue is the first argument of a script call: a lock's value (for a
// fence write-back, its token).
func callValue(cmd redis.Cmder) string {
	_, argv, _ := scriptCall(cmd)
	if len(argv) == 0 {
		return ""
	}
	v, _ := argv[0].(string)
	return v
}

// callFaultHook carries out, for one client of one Locker and one node, the
// faults aimed at a kind of call (callFault): the call's reply is lost
// after it ran, or the call never reaches the node, or it reaches it late.
// The client waits as it would for a reply that does not come in time:
// until its context ends or its read timeout passes.
type callFaultHook struct {
	w            *world
	client, node int
	timeout      time.Duration // the client's read timeout
}

// errLostReply is what a call whose reply did not come returns when its
// read timeout passes first.
type errLostReply struct{}

func (errLostReply) Error() string   { return "sim: i/o timeout (no reply)" }
func (errLostReply) Timeout() bool   { return true }
func (errLostReply) Temporary() bool { return true }

func (h callFaultHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h callFaultHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		kind := callKind(cmd)
		if kind == "" {
			return next(ctx, cmd)
		}
		f := h.w.takeCallFault(h.client, h.node, kind, callValue(cmd))
		if f == nil {
			return next(ctx, cmd)
		}
		var reply chan error          // the late call's, when there is one
		t := time.NewTimer(h.timeout) // the client waits from the moment it sends
		defer t.Stop()
		late := redis.NewCmd(context.Background(), cmd.Args()...)
		switch f.how {
		case "lose": // it runs on the node; its reply is lost
			_ = next(ctx, cmd)
			h.w.logf("client %d: the reply of node %d to its %s call is lost", h.client, h.node, kind)
		case "drop": // it never reaches the node
			h.w.logf("client %d: its %s call to node %d is lost on the way", h.client, kind, h.node)
		case "late": // it reaches the node after d, on a call of its own
			h.w.logf("client %d: its %s call to node %d is late by %v", h.client, kind, h.node, f.d)
			reply = make(chan error, 1)
			go func() { // it outlives the call when the call gives up first
				time.Sleep(f.d)
				reply <- next(context.Background(), late)
			}()
		}
		var err error = errLostReply{}
		select {
		case err = <-reply: // never for lose and drop: a nil channel
			if c, ok := cmd.(*redis.Cmd); ok && err == nil {
				c.SetVal(late.Val())
				return nil
			}
			if err == nil {
				err = errLostReply{}
			}
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
		}
		cmd.SetErr(err)
		return err
	}
}

func (h callFaultHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next // the simulator's clients are used as they are: no pipelines
}

// callFault is a fault waiting for a call: the first call of its kind from
// its client to one of its nodes, and the same call on the others (the
// same lock value: one round), meet it: how is "lose" (the reply is lost
// after the call ran), "drop" (the call never reaches the node) or "late"
// (it reaches the node after d).
type callFault struct {
	id, client int
	kind, how  string
	d          time.Duration
	value      string       // the call's lock value, once the first node met it
	left       map[int]bool // the nodes where it has not happened yet
}

// armCallFault makes the next call of kind from client lose its replies on
// nodes, until it happened or disarm. id names the fault.
func (w *world) armCallFault(id, client int, nodes []int, kind, how string, d time.Duration) (disarm func()) {
	f := &callFault{id: id, client: client, kind: kind, how: how, d: d, left: map[int]bool{}}
	for _, n := range nodes {
		f.left[n] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.callFaults = append(w.callFaults, f)
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.callFaults = slices.DeleteFunc(w.callFaults, func(o *callFault) bool { return o == f })
	}
}

// takeCallFault returns the fault a call of kind from client to node, of
// the lock value, meets, using it up there; nil when none.
func (w *world) takeCallFault(client, node int, kind, value string) *callFault {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.callFaults {
		if f.client != client || f.kind != kind || !f.left[node] || f.value != "" && f.value != value {
			continue
		}
		if kind != "marker" { // a marker call's first argument is no lock value: the next one on each node
			f.value = value
		}
		delete(f.left, node)
		return f
	}
	return nil
}
