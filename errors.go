package quorumlock

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotObtained means the lock is held by another client, or the wait
	// for it ran out.
	ErrNotObtained = errors.New("quorumlock: not obtained")

	// ErrLockNotHeld means the lock is no longer held on a quorum: it was
	// released, it expired, or it was lost.
	ErrLockNotHeld = errors.New("quorumlock: lock not held")

	// ErrClosed means the Locker was closed.
	ErrClosed = errors.New("quorumlock: locker closed")

	// ErrInvalidConfig means New, NewFromURLs or FromEnv was given nodes or
	// options it cannot work with; the wrapping error names which.
	ErrInvalidConfig = errors.New("quorumlock: invalid configuration")

	// ErrInvalidKey means the key is empty.
	ErrInvalidKey = errors.New("quorumlock: invalid key")

	// ErrInvalidTTL means a ttl is not positive, or too short for the node
	// timeout.
	ErrInvalidTTL = errors.New("quorumlock: invalid ttl")

	// ErrInvalidWait means the wait timeout is negative.
	ErrInvalidWait = errors.New("quorumlock: invalid wait timeout")
)

// NodeAnswer is what one node answered in a round that missed its quorum.
type NodeAnswer struct {
	Node int    // index in the Locker's node list
	Addr string // the node's address, without credentials
	Vote string // "yes", "no" or "failed"
	Err  error  // why it failed, for Vote "failed"
}

// QuorumError reports a round in which a quorum could not be reached because
// nodes failed or did not answer in time, and what each node answered. It
// unwraps to the node errors, so errors.Is(err, context.DeadlineExceeded)
// and the like work.
type QuorumError struct {
	Op      string // "obtain", "fence" (the fencing write-back), "release", "refresh" or "ttl"
	Key     string
	Quorum  int
	Answers []NodeAnswer
}

// Error lists the votes, node by node.
func (e *QuorumError) Error() string {
	var b strings.Builder
	yes := 0
	for _, a := range e.Answers {
		if a.Vote == "yes" {
			yes++
		}
	}
	fmt.Fprintf(&b, "quorumlock: %s %q: %d of %d nodes agreed, %d needed", e.Op, e.Key, yes, len(e.Answers), e.Quorum)
	for _, a := range e.Answers {
		fmt.Fprintf(&b, "; node %d (%s): %s", a.Node, a.Addr, a.Vote)
		if a.Err != nil {
			fmt.Fprintf(&b, ": %v", a.Err)
		}
	}
	return b.String()
}

// Unwrap returns the errors of the nodes that failed.
func (e *QuorumError) Unwrap() []error {
	var errs []error
	for _, a := range e.Answers {
		if a.Err != nil {
			errs = append(errs, a.Err)
		}
	}
	return errs
}
