package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/quorumlock/quorumlock"
)

// runDemo runs the three examples of the single-node Locker's
// documentation (BeeORM) on five embedded nodes. Standard output carries
// their lines, and the third example's Refresh; headings go to stderr.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.Int("nodes", 5, "number of embedded nodes")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: quorumlock demo [-nodes N]\n\nRuns the single-node Locker's three documented examples on N embedded nodes.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if *nodes < 1 || fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	urls, stop, err := embeddedNodes(*nodes)
	if err != nil {
		fmt.Fprintln(stderr, "quorumlock demo:", err)
		return exitFail
	}
	defer stop()
	// The embedded nodes share the CPUs with the demo: a node timeout of
	// 500ms rather than 100ms keeps a busy machine from failing its rounds.
	locker, err := quorumlock.NewFromURLs(urls, quorumlock.WithLogger(nil), quorumlock.WithNodeTimeout(500*time.Millisecond))
	if err != nil {
		fmt.Fprintln(stderr, "quorumlock demo:", err)
		return exitFail
	}
	defer locker.Close()
	// New nodes grant nothing until they are marked and told of the ttls
	// to come (the restart quarantine); a lock taken and given back before
	// the examples does that, so that A's first Obtain, which does not
	// wait, is not the one to bring them into service.
	warm, err := locker.ObtainContext(context.Background(), "demo-warm-up", time.Minute, 10*time.Second)
	if err != nil {
		fmt.Fprintln(stderr, "quorumlock demo: the embedded nodes:", err)
		return exitFail
	}
	if err := warm.ReleaseContext(context.Background()); err != nil {
		fmt.Fprintln(stderr, "quorumlock demo: the embedded nodes:", err)
		return exitFail
	}

	fmt.Fprintf(stderr, "# %d embedded nodes, quorum %d\n", *nodes, locker.Quorum())
	fmt.Fprintln(stderr, "# example 1: B does not wait (waitTimeout 0)")
	twoClients(locker, stdout, 0)
	fmt.Fprintln(stderr, "# example 2: B waits up to 5 seconds")
	twoClients(locker, stdout, 5*time.Second)
	fmt.Fprintln(stderr, "# example 3: TTL and Refresh")
	ttlAndRefresh(locker, stdout)
	return exitOK
}

// twoClients is the documentation's first two examples: A and B ask for test_lock at
// the same time, A a moment first; B waits up to waitTimeout. The channels
// only fix the order in which the two goroutines start each step.
func twoClients(locker *quorumlock.Locker, out io.Writer, waitTimeout time.Duration) {
	out = &lockedWriter{w: out} // two goroutines print
	aAsked, bAsked, aTried := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		testLock(locker, out, "A", 0, func() { close(aAsked); <-bAsked }, func() { close(aTried) })
	})
	wg.Go(func() {
		<-aAsked
		testLock(locker, out, "B", waitTimeout, func() { close(bAsked); <-aTried }, func() {})
	})
	wg.Wait()
}

// testLock is the documentation's testLock, with two hooks: asked runs after GETTING
// is printed, tried once the attempt is over and its outcome printed.
func testLock(locker *quorumlock.Locker, out io.Writer, name string, waitTimeout time.Duration, asked, tried func()) {
	fmt.Fprintf(out, "GETTING LOCK %s\n", name)
	asked()
	lock, obtained := locker.Obtain("test_lock", time.Minute, waitTimeout)
	if !obtained {
		if waitTimeout == 0 { // the first example reports it; the second says nothing
			fmt.Fprintf(out, "UNABLE TO GET LOCK %s\n", name)
		}
		tried()
		return
	}
	defer lock.Release()
	fmt.Fprintf(out, "GOT LOCK %s\n", name)
	tried()
	time.Sleep(2 * time.Second)
	fmt.Fprintf(out, "RELEASING LOCK %s\n", name)
}

// ttlAndRefresh is the documentation's third example. Seconds are rounded: the TTL is
// what is certain on a quorum after the drift allowance, a little under 5s.
func ttlAndRefresh(locker *quorumlock.Locker, out io.Writer) {
	lock, obtained := locker.Obtain("test", 5*time.Second, 0)
	if !obtained {
		fmt.Fprintln(out, "UNABLE TO GET LOCK")
		return
	}
	defer lock.Release()
	seconds := func() int { return int(lock.TTL().Round(time.Second) / time.Second) }
	fmt.Fprintf(out, "GOT LOCK FOR %d SECONDS\n", seconds())
	time.Sleep(time.Second)
	fmt.Fprintf(out, "WILL EXPIRE IN %d SECONDS\n", seconds())
	time.Sleep(time.Second)
	fmt.Fprintf(out, "WILL EXPIRE IN %d SECONDS\n", seconds())
	if !lock.Refresh(2 * time.Second) {
		fmt.Fprintln(out, "LOST LOCK")
		return
	}
	fmt.Fprintln(out, "REFRESHED LOCK FOR 2 SECONDS")
	fmt.Fprintf(out, "WILL EXPIRE IN %d SECONDS\n", seconds())
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
