package sim

import (
	"context"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func scriptClient(t *testing.T, m *miniredis.Miniredis) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Dialer:          func(context.Context, string, string) (net.Conn, error) { return m.Dial() },
		Protocol:        2,
		DisableIdentity: true,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestScriptsAsMiniredis: the node's own script runner answers as
// miniredis's does, script for script, on the same data.
func TestScriptsAsMiniredis(t *testing.T) {
	scriptsUnderTest := []struct {
		src  string
		keys []string
		args []any
	}{
		{`redis.call("set", KEYS[1], ARGV[1], "px", ARGV[2]) return {1, "a", redis.call("get", KEYS[1]), false, redis.call("get", "none"), redis.call("pttl", KEYS[1])}`, []string{"k"}, []any{"v", "5000"}},
		{`redis.call("zadd", KEYS[1], "nx", 5, "x") redis.call("zadd", KEYS[1], "nx", 9, "x") redis.call("zadd", KEYS[1], 3, "y")
return {redis.call("zcard", KEYS[1]), redis.call("zrange", KEYS[1], 0, -1), redis.call("zrangebyscore", KEYS[1], "-inf", 4, "limit", 0, 16), redis.call("zscore", KEYS[1], "x")}`, []string{"z"}, nil},
		{`local c, a = string.match(ARGV[1], "^(%d+):(%d+):") return {tonumber(c) + 1, a, string.sub(ARGV[1], 3), table.concat({"p", "q"}, " "), string.format("%.0f", 1733011200123)}`, nil, []any{"12:34:rest"}},
		{`if redis.call("exists", KEYS[1]) == 0 then return redis.call("del", KEYS[1]) end return -1`, []string{"absent"}, nil},
		{`return redis.call("pttl", KEYS[1])`, []string{"absent"}, nil},
		{`return {ok = "fine"}`, nil, nil},
		{`return {err = "ERR mine"}`, nil, nil},
		{`local r = redis.pcall("incr", KEYS[1]) return type(r)`, []string{"k"}, nil},
		{`return redis.call("publish", "ch", "m")`, nil, nil},
	}
	plain, ours := miniredis.RunT(t), miniredis.RunT(t)
	newScripts(ours)
	for _, m := range []*miniredis.Miniredis{plain, ours} {
		m.Set("k", "old")
	}
	a, b := scriptClient(t, plain), scriptClient(t, ours)
	ctx := context.Background()
	for _, s := range scriptsUnderTest {
		want, wantErr := a.Eval(ctx, s.src, s.keys, s.args...).Result()
		got, gotErr := b.Eval(ctx, s.src, s.keys, s.args...).Result()
		if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s\n got %#v, %v\nwant %#v, %v", s.src, got, gotErr, want, wantErr)
		}
	}
}

// TestScriptsAsRedis: what Redis refuses, the node's script runner refuses.
func TestScriptsAsRedis(t *testing.T) {
	m := miniredis.RunT(t)
	sc := newScripts(m)
	c := scriptClient(t, m)
	ctx := context.Background()
	for src, want := range map[string]string{
		`x = 1 return 1`: "global",
		`return redis.call("eval", "return 1", 0)`: "not allowed",
		`return redis.call("subscribe", "ch")`:     "not allowed",
	} {
		if err := c.Eval(ctx, src, nil).Err(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", src, err, want)
		}
	}
	sha, err := c.ScriptLoad(ctx, "return 7").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.EvalSha(ctx, sha, nil).Int(); n != 7 || err != nil {
		t.Fatalf("EVALSHA of a loaded script: %v %v", n, err)
	}
	sc.forget() // a restart
	if err := c.EvalSha(ctx, sha, nil).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		t.Fatalf("EVALSHA after a restart: %v, want NOSCRIPT", err)
	}
}
