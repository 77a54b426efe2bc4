package faultproxy

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
)

// link is one proxied connection: the accepted client side and, once
// dialled, the backend side.
type link struct {
	p      *Proxy
	client net.Conn
	target string

	// hung is set once the link has been blackholed; a hung link never
	// forwards again and is cut by Heal.
	hung atomic.Bool

	// ctx is cancelled when the link closes, aborting a pending dial.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	server net.Conn
	closed bool
	done   chan struct{} // closed by close()
}

func newLink(p *Proxy, client net.Conn, target string) *link {
	ctx, cancel := context.WithCancel(p.ctx)
	return &link{
		p:      p,
		client: client,
		target: target,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
}

// serve dials the backend (unless the link is already hung) and starts the
// two forwarding directions. It runs in its own goroutine, counted in p.wg.
func (l *link) serve() {
	defer l.p.wg.Done()
	if l.hung.Load() {
		// A connection accepted while blackholed: never contact the backend,
		// just swallow whatever the client sends until it is cut.
		l.discard(l.client)
		return
	}
	var d net.Dialer
	d.Timeout = dialTimeout
	server, err := d.DialContext(l.ctx, "tcp", l.target)
	if err != nil {
		l.close()
		return
	}
	if !l.attach(server) {
		return
	}
	l.p.wg.Add(4)
	up := newPipe(l, l.client, server)
	down := newPipe(l, server, l.client)
	go up.read()
	go up.write()
	go down.read()
	go down.write()
}

// attach records the dialled backend, or closes it if the link was closed
// meanwhile. It reports whether the link is still open.
func (l *link) attach(server net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = server.Close()
		return false
	}
	l.server = server
	return true
}

// discard reads and drops everything from c until it fails, then closes
// the link.
func (l *link) discard(c net.Conn) {
	buf := make([]byte, chunkSize)
	for {
		if _, err := c.Read(buf); err != nil {
			l.close()
			return
		}
	}
}

// close shuts both sides of the link and forgets it. It is idempotent and
// must not be called with p.mu held.
func (l *link) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.done)
	l.cancel()
	_ = l.client.Close()
	if l.server != nil {
		_ = l.server.Close()
	}
	l.mu.Unlock()
	l.p.forget(l)
}
