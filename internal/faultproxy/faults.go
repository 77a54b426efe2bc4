package faultproxy

import "time"

// mode is the proxy's connection-level fault state. Delay is tracked
// separately because it combines with normal forwarding.
type mode int

const (
	modeOK        mode = iota // forward normally
	modeBlackhole             // accept and read, never forward
	modeRefuse                // accept then close at once
)

// Delay holds back every chunk forwarded in either direction by d before it
// is written (0 = no delay). It applies to chunks read after the call, on
// live and new connections; byte order per direction is preserved.
func (p *Proxy) Delay(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.delay.Store(int64(d))
}

// Blackhole makes the node hang: connections stay open and the client's
// writes succeed, but nothing is forwarded in either direction (bytes read
// are discarded), so client reads time out. New connections are accepted
// and blackholed too. Connections blackholed this way are cut by Heal.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeBlackhole
	for l := range p.links {
		l.hung.Store(true)
	}
}

// Refuse makes the node look down: live connections are cut and new
// connections are accepted then closed at once.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	p.mode = modeRefuse
	live := p.snapshotLocked(nil)
	p.mu.Unlock()
	closeAll(live)
}

// Cut closes every live connection now (both sides). Future connections are
// unaffected.
func (p *Proxy) Cut() {
	p.mu.Lock()
	live := p.snapshotLocked(nil)
	p.mu.Unlock()
	closeAll(live)
}

// Heal restores normal forwarding: no delay, no blackhole, no refuse.
// Connections that were blackholed are cut, so a client never reads stale
// replies out of order; other live connections are left alone.
func (p *Proxy) Heal() {
	p.delay.Store(0)
	p.mu.Lock()
	p.mode = modeOK
	hung := p.snapshotLocked(func(l *link) bool { return l.hung.Load() })
	p.mu.Unlock()
	closeAll(hung)
}

// State describes the current fault for logs: "ok", "delay 50ms",
// "blackhole" or "refuse". Blackhole and refuse take precedence over delay.
func (p *Proxy) State() string {
	p.mu.Lock()
	m := p.mode
	p.mu.Unlock()
	switch m {
	case modeRefuse:
		return "refuse"
	case modeBlackhole:
		return "blackhole"
	}
	if d := time.Duration(p.delay.Load()); d > 0 {
		return "delay " + d.String()
	}
	return "ok"
}
