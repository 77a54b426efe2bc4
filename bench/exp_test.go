package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	goredislib "github.com/redis/go-redis/v9"
	"github.com/quorumlock/quorumlock/internal/redisproc"
	"github.com/quorumlock/quorumlock"
)

func TestExp(t *testing.T) {
	if os.Getenv("EXP") == "" {
		t.Skip()
	}
	set := redisproc.StartSet(t, 5, redisproc.Config{})
	//
	
	var ps []interface{}
	_ = ps
	var rpools []redsyncredis.Pool
	for _, a := range set.Addrs() {
		c := goredislib.NewClient(&goredislib.Options{Addr: a})
		rpools = append(rpools, goredis.NewPool(c))
	}
	rs := redsync.New(rpools...)
	var urls []string
	for _, a := range set.Addrs() { urls = append(urls, "redis://"+a) }
	ql, err := quorumlock.NewFromURLs(urls)
	if err != nil { t.Fatal(err) }
	defer ql.Close()
	run := func(label string) {
		for i := 0; i < 2; i++ {
			m := rs.NewMutex("k"+label+time.Now().String(), redsync.WithExpiry(10*time.Second))
			s := time.Now()
			err := m.Lock()
			l := time.Since(s)
			s = time.Now()
			ok, uerr := m.Unlock()
			t.Logf("%s redsync lock %v err=%v unlock %v ok=%v err=%v", label, l, err, time.Since(s), ok, uerr)
			s = time.Now()
			lk, err := ql.ObtainContext(context.Background(), "q"+label+time.Now().String(), 10*time.Second, 0)
			l = time.Since(s)
			s = time.Now()
			rerr := lk.ReleaseContext(context.Background())
			t.Logf("%s quorumlock obtain %v err=%v release %v err=%v", label, l, err, time.Since(s), rerr)
		}
	}
	run("healthy")
	set.Servers[0].Stop(); set.Servers[1].Stop()
	run("hung")
	set.Servers[0].Cont(); set.Servers[1].Cont()
	run("healed")
	set.Servers[0].Kill(); set.Servers[1].Kill()
	run("down")
}
