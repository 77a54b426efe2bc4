package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/quorumlock/quorumlock"
)

// degraded tells the user, one line on stderr each time it changes, that
// the command runs on fewer nodes than were given: a node that cannot be
// reached, refuses the password, or does not speak TLS where the URL asks
// for it, seen in the obtain and refresh rounds. Once a round hears from
// every node it says so. (A node in restart quarantine answers, and the
// library warns of it itself.)
type degraded struct {
	w             io.Writer
	nodes, quorum int

	tls []bool // by node: its URL asks for TLS

	mu      sync.Mutex
	failing map[int]string // node: why
}

// set tells d the nodes' URLs and the quorum, before the first round.
func (d *degraded) set(urls []string, quorum int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nodes, d.quorum = len(urls), quorum
	d.tls = make([]bool, len(urls))
	for i, u := range urls {
		d.tls[i] = strings.HasPrefix(u, "rediss://")
	}
}

// hooks are the Locker hooks that feed d; nodes and quorum are set once
// the Locker exists.
func (d *degraded) hooks() quorumlock.Hooks {
	return quorumlock.Hooks{
		Round: func(e quorumlock.RoundEvent) {
			if e.Op != "obtain" && e.Op != "refresh" {
				return
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if e.Yes+e.No == d.nodes && len(d.failing) > 0 {
				d.failing = nil
				fmt.Fprintf(d.w, "quorumlock exec: every node answers again (%d of %d)\n", d.nodes, d.nodes)
			}
		},
		Node: func(e quorumlock.NodeEvent) {
			// A node in restart quarantine answers: it is brought back by
			// the rounds themselves (a new deployment's first round meets
			// every node so), and the library warns of one that stays.
			if e.Op != "obtain" && e.Op != "refresh" || errors.Is(e.Err, quorumlock.ErrRestartQuarantine) {
				return
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			why := nodeTrouble(e.Err, e.Node < len(d.tls) && d.tls[e.Node])
			if d.failing[e.Node] == why {
				return
			}
			if d.failing == nil {
				d.failing = map[int]string{}
			}
			d.failing[e.Node] = why
			fmt.Fprintf(d.w, "quorumlock exec: warning: node %d (%s) %s: %d of %d nodes usable, quorum %d\n",
				e.Node, e.Addr, why, d.nodes-len(d.failing), d.nodes, d.quorum)
		},
	}
}

// nodeTrouble says in a few words why a node failed a round; tls, that
// its URL asks for TLS.
func nodeTrouble(err error, tls bool) string {
	s := message(fmt.Sprint(err))
	switch {
	case strings.Contains(s, "WRONGPASS"), strings.Contains(s, "NOAUTH"), strings.Contains(s, "invalid password"):
		return "refuses the password: " + s
	case strings.Contains(s, "first record does not look like a TLS handshake"),
		tls && (strings.HasSuffix(s, "EOF") || strings.Contains(s, "connection reset")):
		return "does not speak TLS (" + s + "): rediss:// against a plain server? use redis:// there"
	case strings.Contains(s, "tls:"), strings.Contains(s, "x509:"):
		return "fails the TLS handshake: " + s
	case strings.Contains(s, "no answer within") || strings.Contains(s, "timeout"):
		return "does not answer in time: " + s
	}
	return "is unreachable: " + s
}
