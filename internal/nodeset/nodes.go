package nodeset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Nodes is what tests need of a node set, whether miniredis or real
// redis-server processes.
type Nodes interface {
	Len() int
	URLs() []string
	// Set puts node i in a state for key (the full key as stored).
	Set(i int, st State, key string, ttl time.Duration)
	// Reset brings every node back up, answering, and empty.
	Reset()
	// Holders counts the nodes whose key holds value.
	Holders(key, value string) int
	// Entries lists every key on every reachable node.
	Entries() []Entry
}

// Entry is one key found on a node.
type Entry struct {
	Node       int
	Key, Value string
	TTL        time.Duration // remaining time; 0 or less when none
}

// String renders the entry for messages.
func (e Entry) String() string {
	return fmt.Sprintf("node %d: %s=%s (ttl %v)", e.Node, e.Key, e.Value, e.TTL)
}

// MarkerKey is the node marker of quorumlock's default key prefix.
const MarkerKey = "quorumlock:node"

// Marker is a node marker as quorumlock writes it (see quarantine.go), as
// on nodes long in service: marked, not quarantined; the longest ttl
// granted, 1ms, is raised by the first lock granted with a longer one. It is
// that of a node that reports no run_id (miniredis); MarkerOf is that of a
// node that does.
func Marker() string { return MarkerOf("") }

// MarkerOf is Marker on the start of a node whose run_id is run.
func MarkerOf(run string) string { return "1:1:0:" + run + ":" }

// RunID returns the run_id a redis-server reports of its current start.
func RunID(ctx context.Context, c *redis.Client) (string, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return v, nil
		}
	}
	return "", errors.New("nodeset: INFO server names no run_id")
}
