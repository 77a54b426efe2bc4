package quorumlock

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func TestSmoke(t *testing.T) {
	var clients []redis.UniversalClient
	for range 3 {
		m := miniredis.RunT(t)
		m.ClockTTL(true)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		defer c.Close()
		clients = append(clients, c)
	}
	l, err := New(clients)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lock, ok := l.Obtain("k", time.Second, 0)
	if !ok {
		t.Fatal("not obtained")
	}
	_, ok2 := l.Obtain("k", time.Second, 0)
	t.Log(ok2, lock.TTL())
	time.Sleep(100 * time.Millisecond)
	t.Log(lock.TTL(), lock.Refresh(3*time.Second), lock.TTL())
	lock.Release()
	t.Log(lock.TTL())
	_, ok3 := l.Obtain("k", time.Second, 0)
	t.Log(ok3)
}
