package quorumlock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/quorumlock/quorumlock"
)

// startNodes starts n in-process Redis nodes for the examples and returns
// their URLs and a function that stops them. In production the URLs name
// independent Redis servers, for example from QUORUMLOCK_NODES.
func startNodes(n int) (urls []string, stop func()) {
	var servers []*miniredis.Miniredis
	for range n {
		s := miniredis.NewMiniRedis()
		if err := s.Start(); err != nil {
			panic(err)
		}
		s.ClockTTL(true)
		servers = append(servers, s)
		urls = append(urls, "redis://"+s.Addr())
	}
	return urls, func() {
		for _, s := range servers {
			s.Close()
		}
	}
}

func ExampleLocker_Obtain() {
	urls, stop := startNodes(5)
	defer stop()

	locker, err := quorumlock.NewFromURLs(urls)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer locker.Close()

	lock, obtained := locker.Obtain("test_lock", time.Minute, 0)
	if !obtained {
		fmt.Println("UNABLE TO GET LOCK A")
		return
	}
	defer lock.Release()
	fmt.Println("GOT LOCK A")

	if _, obtained := locker.Obtain("test_lock", time.Minute, 0); !obtained {
		fmt.Println("UNABLE TO GET LOCK B")
	}
	// Output:
	// GOT LOCK A
	// UNABLE TO GET LOCK B
}

func ExampleLocker_ObtainContext() {
	urls, stop := startNodes(3)
	defer stop()
	locker, err := quorumlock.NewFromURLs(urls)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer locker.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lock, err := locker.ObtainContext(ctx, "nightly-report", time.Minute, 5*time.Second)
	switch {
	case errors.Is(err, quorumlock.ErrNotObtained):
		fmt.Println("another instance runs the report")
		return
	case err != nil:
		fmt.Println("cannot lock:", err)
		return
	}
	defer lock.Release()

	fmt.Println("running the report under", lock.Key())
	// Before each step, check that the lock is still held long enough.
	if lock.TTL() < 10*time.Second {
		fmt.Println("lock about to expire: stop")
		return
	}
	fmt.Println("done")
	// Output:
	// running the report under nightly-report
	// done
}

func ExampleLock_Refresh() {
	urls, stop := startNodes(5)
	defer stop()
	locker, err := quorumlock.NewFromURLs(urls)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer locker.Close()

	lock, obtained := locker.Obtain("test", 5*time.Second, 0)
	if !obtained {
		return
	}
	defer lock.Release()
	fmt.Printf("GOT LOCK FOR %d SECONDS\n", lock.TTL().Round(time.Second)/time.Second)
	if !lock.Refresh(20 * time.Second) {
		fmt.Println("LOST LOCK")
		return
	}
	fmt.Printf("WILL EXPIRE IN %d SECONDS\n", lock.TTL().Round(time.Second)/time.Second)
	// Output:
	// GOT LOCK FOR 5 SECONDS
	// WILL EXPIRE IN 20 SECONDS
}

// The README's example: nodes from the environment, a job that must not run
// twice at once. It compiles with the package; the README must quote it.
func ExampleFromEnv() {
	// QUORUMLOCK_NODES=redis://redis-a:6379,redis://redis-b:6379,redis://redis-c:6379
	locker, err := quorumlock.FromEnv(quorumlock.WithFencing())
	if err != nil {
		log.Fatal(err)
	}
	defer locker.Close()

	// Every instance runs this each night; one runs the report, waiting up to
	// 5s for another instance that might still be finishing.
	ctx := context.Background()
	lock, err := locker.ObtainContext(ctx, "nightly-report", time.Minute, 5*time.Second)
	if errors.Is(err, quorumlock.ErrNotObtained) {
		return // another instance has it
	} else if err != nil {
		log.Fatal(err)
	}
	defer lock.Release()

	lock.KeepAlive(ctx)     // refresh every 20s until Release
	ctx = lock.Context(ctx) // cancelled if the lock is lost
	if err := runReport(ctx, lock.Fence()); err != nil {
		log.Print(err) // the store refuses writes with a token older than one it has seen
	}
}

// runReport stands for the guarded work.
var runReport = func(ctx context.Context, fence uint64) error { return ctx.Err() }
