package redisproc

import (
	"context"
	"testing"
	"time"
)

func TestStartSet(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	set := StartSet(t, 5, Config{})
	t.Logf("5 servers started in %v", time.Since(begin))

	addrs := set.Addrs()
	if len(addrs) != 5 || len(set.Servers) != 5 {
		t.Fatalf("Addrs() = %v", addrs)
	}
	seen := map[string]bool{}
	for i, addr := range addrs {
		if seen[addr] {
			t.Fatalf("duplicate addr %s in %v", addr, addrs)
		}
		seen[addr] = true
		c := newClient(t, addr)
		if err := c.Set(context.Background(), "node", i, 0).Err(); err != nil {
			t.Fatalf("node %d (%s): %v", i, addr, err)
		}
	}
}

func TestSetClose(t *testing.T) {
	t.Parallel()
	set := StartSet(t, 3, Config{})
	pids := make([]int, len(set.Servers))
	for i, s := range set.Servers {
		pids[i] = s.Pid()
	}
	if err := set.Servers[1].Stop(); err != nil {
		t.Fatal(err)
	}
	set.Close()
	set.Close() // idempotent; the cleanup calls it a third time
	for i, pid := range pids {
		if !processGone(pid) {
			t.Errorf("server %d: pid %d still exists after Close", i, pid)
		}
	}
}
