package chaos

import (
	"fmt"
	"sync"
	"time"

	"github.com/quorumlock/quorumlock/internal/faultproxy"
)

// Cluster is N nodes, each reached by every client through a proxy of its
// own, so that faults can hit a node for everyone (crash, hang, slow) or a
// link between one client and some nodes (partition).
type Cluster struct {
	nodes   []backend
	proxies [][]*faultproxy.Proxy // [client][node]

	mu          sync.Mutex
	proxyHung   []bool          // node hung through its proxies (miniredis)
	slow        []time.Duration // node's added latency
	partitioned [][]bool        // [client][node]
}

// NewCluster starts n nodes for the given number of clients: miniredis
// servers, or redis-server processes when redisPath is not empty.
func NewCluster(n, clients int, redisPath string) (*Cluster, error) {
	c := &Cluster{proxyHung: make([]bool, n), slow: make([]time.Duration, n)}
	for range n {
		var b backend
		var err error
		if redisPath != "" {
			b, err = newReal(redisPath)
		} else {
			b, err = newMini()
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("start node: %w", err)
		}
		c.nodes = append(c.nodes, b)
		if err := b.mark(); err != nil {
			c.Close()
			return nil, fmt.Errorf("mark node: %w", err)
		}
	}
	for range clients {
		row := make([]*faultproxy.Proxy, n)
		for i, b := range c.nodes {
			p, err := faultproxy.New(b.addr())
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("start proxy: %w", err)
			}
			row[i] = p
		}
		c.proxies = append(c.proxies, row)
		c.partitioned = append(c.partitioned, make([]bool, n))
	}
	return c, nil
}

// Len returns the number of nodes.
func (c *Cluster) Len() int { return len(c.nodes) }

// URLs returns the node URLs client should use: its own proxies.
func (c *Cluster) URLs(client int) []string {
	urls := make([]string, len(c.nodes))
	for i, p := range c.proxies[client] {
		urls[i] = "redis://" + p.Addr()
	}
	return urls
}

// Crash stops node i abruptly.
func (c *Cluster) Crash(i int) error { return c.nodes[i].crash() }

// Restart brings node i back, with its data (keep) or empty.
func (c *Cluster) Restart(i int, keep bool) error { return c.nodes[i].restart(keep) }

// JumpClock moves node i's clock forward: its keys expire d early.
func (c *Cluster) JumpClock(i int, d time.Duration) error { return c.nodes[i].jumpClock(d) }

// Hang makes node i stop answering: SIGSTOP for a redis-server, a blackhole
// in every client's proxy for miniredis.
func (c *Cluster) Hang(i int) error {
	signalled, err := c.nodes[i].hang()
	if err != nil || signalled {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.proxyHung[i] = true
	c.applyNode(i)
	return nil
}

// Resume undoes Hang.
func (c *Cluster) Resume(i int) error {
	if err := c.nodes[i].resume(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proxyHung[i] {
		c.proxyHung[i] = false
		c.applyNode(i)
	}
	return nil
}

// Slow adds latency d to every link to node i; 0 removes it.
func (c *Cluster) Slow(i int, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slow[i] = d
	c.applyNode(i)
}

// Partition cuts client off from the given nodes (packets dropped), or heals
// those links when cut is false.
func (c *Cluster) Partition(client int, nodes []int, cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, i := range nodes {
		c.partitioned[client][i] = cut
		c.apply(client, i)
	}
}

func (c *Cluster) applyNode(i int) {
	for client := range c.proxies {
		c.apply(client, i)
	}
}

// apply sets the proxy between client and node i to what the faults on
// both ask for. The caller holds c.mu.
func (c *Cluster) apply(client, i int) {
	p := c.proxies[client][i]
	p.Heal()
	if c.slow[i] > 0 {
		p.Delay(c.slow[i])
	}
	if c.proxyHung[i] || c.partitioned[client][i] {
		p.Blackhole()
	}
}

// Entries lists every key on every node that is up.
func (c *Cluster) Entries() ([]Entry, error) {
	var out []Entry
	for i, b := range c.nodes {
		es, err := b.entries()
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		for _, e := range es {
			e.Node = i
			out = append(out, e)
		}
	}
	return out, nil
}

// Close stops every proxy and node.
func (c *Cluster) Close() {
	for _, row := range c.proxies {
		for _, p := range row {
			p.Close()
		}
	}
	for _, b := range c.nodes {
		b.resume()
		b.close()
	}
}
