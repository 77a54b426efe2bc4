package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP connections from its own loopback address to a target
// address and injects faults. All methods are safe for concurrent use.
type Proxy struct {
	ln   net.Listener
	addr string

	// ctx is cancelled by Close; it aborts in-flight dials.
	ctx    context.Context
	cancel context.CancelFunc

	// delay is the current per-chunk delay in nanoseconds; read by the
	// pumps for every chunk, so it is kept outside mu.
	delay atomic.Int64

	mu     sync.Mutex
	target string
	mode   mode
	links  map[*link]struct{}
	closed bool

	// wg counts every goroutine the proxy starts.
	wg sync.WaitGroup
}

// dialTimeout bounds how long a new connection waits for the target.
const dialTimeout = 5 * time.Second

// New starts a proxy listening on 127.0.0.1:0 that forwards to target
// ("host:port"). It is accepting connections when New returns.
func New(target string) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("faultproxy: bad target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		ln:     ln,
		addr:   ln.Addr().String(),
		ctx:    ctx,
		cancel: cancel,
		target: target,
		links:  make(map[*link]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the proxy's listen address ("127.0.0.1:port"). It stays
// valid after Close.
func (p *Proxy) Addr() string { return p.addr }

// SetTarget makes new connections go to target ("host:port"); live
// connections keep their current backend. Use it when a backend restarts
// on another port.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// Close stops listening, closes every connection and returns only after
// every goroutine the proxy started has exited. Calling it again is a no-op.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	live := p.snapshotLocked(nil)
	p.mu.Unlock()

	p.cancel()
	err := p.ln.Close()
	closeAll(live)
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// acceptLoop accepts connections until the listener is closed.
func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient error (e.g. EMFILE): back off briefly, unless closing.
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.admit(c)
	}
}

// admit registers an accepted connection and starts serving it, or closes
// it at once if the proxy is refusing or closed.
func (p *Proxy) admit(c net.Conn) {
	p.mu.Lock()
	if p.closed || p.mode == modeRefuse {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	l := newLink(p, c, p.target)
	if p.mode == modeBlackhole {
		l.hung.Store(true)
	}
	p.links[l] = struct{}{}
	p.wg.Add(1) // counter > 0 here: the accept goroutine itself is counted.
	p.mu.Unlock()
	go l.serve()
}

// forget removes a closed link from the live set.
func (p *Proxy) forget(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// snapshotLocked returns the live links accepted by keep (all if keep is
// nil). p.mu must be held.
func (p *Proxy) snapshotLocked(keep func(*link) bool) []*link {
	out := make([]*link, 0, len(p.links))
	for l := range p.links {
		if keep == nil || keep(l) {
			out = append(out, l)
		}
	}
	return out
}

// closeAll closes every link in ls. It must be called without p.mu held.
func closeAll(ls []*link) {
	for _, l := range ls {
		l.close()
	}
}
