package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// path is what the network does between one client and one node.
type path struct {
	slow     time.Duration // added to every chunk's delay
	hung     chan struct{} // while not nil, chunks wait until it is closed
	cut      bool          // chunks are dropped and dials fail
	loseNext int           // replies to drop (the command ran), closing their connection
}

// network carries the bytes between the Lockers' clients and the nodes.
type network struct {
	seed  uint64
	nodes []*node
	base  time.Duration // the largest delay of a healthy chunk
	// A share tail of the chunks is late by up to tailMax more, above or
	// below the node timeout: rounds then land in every order, and partly
	// after their callers gave up on them.
	tail    float64
	tailMax time.Duration

	mu    sync.Mutex
	paths map[[2]int]*path
	conns map[int][]*conn // by node
}

func newNetwork(seed uint64, nodes []*node, base time.Duration, tail float64, tailMax time.Duration) *network {
	return &network{seed: seed, nodes: nodes, base: base, tail: tail, tailMax: tailMax, paths: map[[2]int]*path{}, conns: map[int][]*conn{}}
}

func (w *network) path(client, node int) *path {
	p := w.paths[[2]int{client, node}]
	if p == nil {
		p = &path{}
		w.paths[[2]int{client, node}] = p
	}
	return p
}

// conn is one connection: the client's end, the node's end, and the
// forwarders between them.
type conn struct {
	client, node int
	cEnd, sEnd   net.Conn // the simulator's ends of the two pipes
	once         sync.Once
	closed       chan struct{}
	handshake    atomic.Bool // the last request was part of the connection's handshake
}

// isHandshake reports whether a request chunk is a command of a
// connection's set-up.
func isHandshake(chunk []byte) bool {
	// *<n>\r\n$<len>\r\n<NAME>...
	parts := bytes.SplitN(chunk, []byte("\r\n"), 3)
	if len(parts) < 3 {
		return false
	}
	name := strings.ToUpper(string(parts[2][:min(len(parts[2]), 6)]))
	for _, h := range []string{"HELLO", "CLIENT", "SELECT", "AUTH"} {
		if strings.HasPrefix(name, h) {
			return true
		}
	}
	return false
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.cEnd.Close()
		c.sEnd.Close()
	})
}

var errRefused = errors.New("sim: connection refused")

// dial connects client to node: its end of a pipe whose other end the
// simulator forwards to the node, while the node is up and the path not cut.
func (w *network) dial(client, node int) (net.Conn, error) {
	n := w.nodes[node]
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.path(client, node).cut || !n.up() {
		return nil, errRefused
	}
	server, err := n.m.Dial()
	if err != nil {
		return nil, err
	}
	user, cEnd := net.Pipe()
	c := &conn{client: client, node: node, cEnd: cEnd, sEnd: server, closed: make(chan struct{})}
	w.conns[node] = append(w.conns[node], c)
	go w.forward(c, cEnd, server, true)
	go w.forward(c, server, cEnd, false)
	return user, nil
}

// forward copies chunks from src to dst, each after its delay, in order.
// It reads src eagerly, so that a writer never waits for the network: in a
// synctest bubble time stands still while a goroutine waits for a mutex,
// and go-redis writes to a pub/sub connection holding one. For the same
// reason a connection's handshake (HELLO and the like, and their replies)
// passes at once and is never delayed, held or cut: go-redis makes a
// pub/sub connection holding that mutex.
func (w *network) forward(c *conn, src, dst net.Conn, request bool) {
	defer c.close()
	queue := make(chan []byte, 4096)
	go func() {
		defer close(queue)
		buf := make([]byte, 4<<10)
		for {
			k, err := src.Read(buf)
			if err != nil {
				return
			}
			select {
			case queue <- bytes.Clone(buf[:k]):
			case <-c.closed:
				return
			}
		}
	}()
	for chunk := range queue {
		if request {
			c.handshake.Store(isHandshake(chunk))
		}
		if c.handshake.Load() {
			if request {
				w.nodes[c.node].tick()
			}
			if _, err := dst.Write(chunk); err != nil {
				return
			}
			continue
		}
		w.mu.Lock()
		p := w.path(c.client, c.node)
		hung, slow, cut := p.hung, p.slow, p.cut
		lose := !request && p.loseNext > 0
		if lose {
			p.loseNext--
		}
		w.mu.Unlock()
		if cut || lose {
			return // the command ran, or not; the client hears nothing more on this connection
		}
		if netTrace {
			println(time.Now().UnixNano(), "c", c.client, "n", c.node, "req", request, "len", len(chunk), strings.ReplaceAll(string(chunk[:min(len(chunk), 60)]), "\r\n", " "))
		}
		time.Sleep(w.delay(c, request, chunk) + slow)
		if hung != nil {
			select {
			case <-hung:
			case <-c.closed:
				return
			}
			// What was held goes on spread out, not all at the instant the
			// node resumed, where the order of goroutines would decide.
			time.Sleep(w.delay(c, request, chunk))
		}
		if request {
			w.nodes[c.node].tick()
		}
		if _, err := dst.Write(chunk); err != nil {
			return
		}
	}
}

// delay is the healthy latency of one chunk: a function of the seed, the
// link, the moment and the bytes, so that a replay gives the same delays
// whatever order the goroutines ran in.
func (w *network) delay(c *conn, request bool, chunk []byte) time.Duration {
	h := fnv.New64a()
	var b [8 * 5]byte
	binary.LittleEndian.PutUint64(b[0:], w.seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(c.client))
	binary.LittleEndian.PutUint64(b[16:], uint64(c.node))
	if request {
		b[24] = 1
	}
	binary.LittleEndian.PutUint64(b[32:], uint64(time.Now().UnixNano()))
	h.Write(b[:])
	// The chunk's lines in sorted order: go-redis resubscribes to its
	// channels in map order, and the same channels must get the same delay.
	lines := bytes.Split(chunk, []byte("\r\n"))
	slices.SortFunc(lines, bytes.Compare)
	for _, l := range lines {
		h.Write(l)
		h.Write([]byte{0})
	}
	v := h.Sum64()
	d := time.Duration(1 + v%uint64(w.base))
	if float64(v>>40)/(1<<24) < w.tail {
		d += time.Duration(uint64(w.tailMax) / (1 << 16) * (v >> 16 & 0xffff))
	}
	return d
}

// cutNode closes every connection to node.
func (w *network) cutNode(node int) {
	w.mu.Lock()
	conns := w.conns[node]
	w.conns[node] = nil
	w.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// cutPath cuts or restores the path of client to node; cutting closes its
// connections.
func (w *network) cutPath(client, node int, cut bool) {
	w.mu.Lock()
	w.path(client, node).cut = cut
	var conns []*conn
	if cut {
		for _, c := range w.conns[node] {
			if c.client == client {
				conns = append(conns, c)
			}
		}
	}
	w.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// hang holds every chunk between client (-1: every client) and node until
// the returned function resumes them.
func (w *network) hang(client, node, clients int) (resume func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	for c := range clients {
		if client < 0 || c == client {
			w.path(c, node).hung = ch
		}
	}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		for c := range clients {
			if p := w.path(c, node); p.hung == ch {
				p.hung = nil
			}
		}
		w.mu.Unlock()
		close(ch)
	}
}

// setSlow adds d to every chunk between client and node.
func (w *network) setSlow(client, node int, d time.Duration) {
	w.mu.Lock()
	w.path(client, node).slow = d
	w.mu.Unlock()
}

// loseReplies drops the next n replies from node to client.
func (w *network) loseReplies(client, node, n int) {
	w.mu.Lock()
	w.path(client, node).loseNext += n
	w.mu.Unlock()
}

// closeAll closes every connection.
func (w *network) closeAll() {
	for i := range w.nodes {
		w.cutNode(i)
	}
}

var netTrace = os.Getenv("SIM_NETTRACE") != ""
