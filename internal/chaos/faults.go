package chaos

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is a kind of fault.
type Kind string

// The faults inside Redlock's safety model: locking must stay safe, and
// live while a majority is reachable.
const (
	CrashRestart      Kind = "crash-restart"      // a node crashes and comes back with its data
	CrashDelayed      Kind = "crash-delayed"      // a node crashes and comes back empty after the longest ttl
	Hang              Kind = "hang"               // a node stops answering, then resumes
	SlowAbove         Kind = "slow-above"         // a node answers later than the node timeout
	SlowBelow         Kind = "slow-below"         // a node answers late, within the node timeout
	PartitionMinority Kind = "partition-minority" // a client loses its links to a minority of nodes
	PartitionMajority Kind = "partition-majority" // a client loses its links to a majority of nodes
)

// The faults outside it: they can let two holders in, and the checker must
// say so.
const (
	RestartInstant Kind = "restart-instant" // a node crashes and comes back empty at once
	ClockJump      Kind = "clock-jump"      // a node's clock jumps forward by a ttl
	Pause          Kind = "pause"           // a client pauses past its validity, then acts without checking
)

// Inside lists the faults inside the safety model.
var Inside = []Kind{CrashRestart, CrashDelayed, Hang, SlowAbove, SlowBelow, PartitionMinority, PartitionMajority}

// Outside lists the faults outside the safety model.
var Outside = []Kind{RestartInstant, ClockJump, Pause}

// IsInside reports whether k is inside the safety model.
func (k Kind) IsInside() bool { return slices.Contains(Inside, k) }

// realOK reports whether a redis-server node (no persistence, no clock
// control) can take the fault.
func (k Kind) realOK() bool { return k != CrashRestart && k != ClockJump }

// nodeFault reports whether the fault occupies a node while it lasts.
func (k Kind) nodeFault() bool {
	switch k {
	case CrashRestart, CrashDelayed, Hang, SlowAbove, SlowBelow, RestartInstant, ClockJump:
		return true
	}
	return false
}

// impairs reports whether the fault takes its node out of the quorum while
// it lasts, so that inside the model at most a minority may be impaired.
func (k Kind) impairs() bool { return k.nodeFault() && k != SlowBelow }

// ParseMix reads a fault mix: comma-separated kinds, or "inside",
// "outside", "all", or "none".
func ParseMix(s string) ([]Kind, error) {
	var mix []Kind
	for _, f := range strings.Split(s, ",") {
		switch f = strings.TrimSpace(f); f {
		case "", "none":
		case "inside":
			mix = append(mix, Inside...)
		case "outside":
			mix = append(mix, Outside...)
		case "all":
			mix = append(append(mix, Inside...), Outside...)
		default:
			k := Kind(f)
			if !slices.Contains(Inside, k) && !slices.Contains(Outside, k) {
				return nil, fmt.Errorf("unknown fault %q (known: %s, or inside, outside, all, none)", f, strings.Join(kindNames(), ", "))
			}
			mix = append(mix, k)
		}
	}
	slices.Sort(mix)
	return slices.Compact(mix), nil
}

func kindNames() []string {
	var names []string
	for _, k := range append(slices.Clone(Inside), Outside...) {
		names = append(names, string(k))
	}
	return names
}
