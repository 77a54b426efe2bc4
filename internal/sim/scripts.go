package sim

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// scripts runs a node's EVAL and EVALSHA in place of miniredis. miniredis
// builds a new Lua state, with every library, for each call, and that was
// half the simulator's CPU; here each node keeps one state. The commands a
// script calls still go to miniredis, one at a time, and a script runs
// alone among scripts on its node: mu is held for the whole of it. Other
// commands (PING, SUBSCRIBE) may run between a script's commands; none of
// them touches a key. The simulator takes mu too to move the node's clock
// or flush it, so that no key expires or vanishes in the middle of a
// script.
type scripts struct {
	m  *miniredis.Miniredis
	mu sync.Mutex
	l  *lua.LState
	// after, when set, is called after each script, with mu held.
	after func()
	by    map[string]*lua.FunctionProto // by sha1
	// redis.call's way to miniredis and back, kept between calls.
	buf bytes.Buffer
	w   *bufio.Writer
	r   *bufio.Reader
}

func newScripts(m *miniredis.Miniredis) *scripts {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	s := &scripts{m: m, l: l, by: map[string]*lua.FunctionProto{}, w: bufio.NewWriter(nil), r: bufio.NewReader(nil)}
	redisMod := l.NewTable()
	redisMod.RawSetString("call", l.NewFunction(func(l *lua.LState) int { return s.call(l, false) }))
	redisMod.RawSetString("pcall", l.NewFunction(func(l *lua.LState) int { return s.call(l, true) }))
	l.SetGlobal("redis", redisMod)
	l.SetGlobal("KEYS", l.NewTable())
	l.SetGlobal("ARGV", l.NewTable())
	// As on Redis, a script may not create globals: in a state kept for
	// the node's life one would outlive its script.
	guard := l.NewTable()
	guard.RawSetString("__newindex", l.NewFunction(func(l *lua.LState) int {
		l.RaiseError("Script attempted to create global variable '%s'", l.ToString(2))
		return 0
	}))
	l.SetMetatable(l.G.Global, guard)
	if c, err := m.Dial(); err == nil { // the in-memory server starts with its first connection
		c.Close()
	}
	m.Server().SetPreHook(s.hook)
	return s
}

// hook takes the script commands before miniredis sees them.
func (s *scripts) hook(c *server.Peer, cmd string, args ...string) bool {
	switch cmd {
	case "EVAL", "EVALSHA":
	case "SCRIPT":
		if len(args) == 2 && strings.EqualFold(args[0], "load") {
			if _, sha, err := s.load(args[1]); err != nil {
				c.WriteError("ERR " + err.Error())
			} else {
				c.WriteBulk(sha)
			}
			return true
		}
		return false
	default:
		return false
	}
	if len(args) < 2 {
		c.WriteError("ERR wrong number of arguments for '" + strings.ToLower(cmd) + "' command")
		return true
	}
	var proto *lua.FunctionProto
	if cmd == "EVAL" {
		p, _, err := s.load(args[0])
		if err != nil {
			c.WriteError("ERR " + err.Error())
			return true
		}
		proto = p
	} else {
		s.mu.Lock()
		proto = s.by[strings.ToLower(args[0])]
		s.mu.Unlock()
		if proto == nil {
			c.WriteError("NOSCRIPT No matching script. Please use EVAL.")
			return true
		}
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 || n > len(args)-2 {
		c.WriteError("ERR Number of keys can't be greater than number of args")
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.run(c, proto, args[2:2+n], args[2+n:])
	if s.after != nil {
		s.after()
	}
	return true
}

// load compiles a script and keeps it by its sha1.
func (s *scripts) load(src string) (*lua.FunctionProto, string, error) {
	sum := sha1.Sum([]byte(src))
	sha := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.by[sha]; p != nil {
		return p, sha, nil
	}
	p, err := compiled(sha, src)
	if err != nil {
		return nil, "", err
	}
	s.by[sha] = p
	return p, sha, nil
}

// protos are the scripts compiled so far in this process, by sha1: a
// compiled script is never changed, and every node's Lua state may run it.
var protos sync.Map

// compiled compiles src, whose sha1 is sha, once per process.
func compiled(sha, src string) (*lua.FunctionProto, error) {
	if p, ok := protos.Load(sha); ok {
		return p.(*lua.FunctionProto), nil
	}
	chunk, err := parse.Parse(strings.NewReader(src), "<script>")
	if err != nil {
		return nil, err
	}
	p, err := lua.Compile(chunk, "<script>")
	if err != nil {
		return nil, err
	}
	protos.Store(sha, p)
	return p, nil
}

// run runs a script with its keys and arguments and writes its reply.
// The caller holds s.mu.
func (s *scripts) run(c *server.Peer, proto *lua.FunctionProto, keys, argv []string) {
	l := s.l
	defer l.SetTop(0)
	l.G.Global.RawSetString("KEYS", strings2table(l, keys))
	l.G.Global.RawSetString("ARGV", strings2table(l, argv))
	l.Push(l.NewFunctionFromProto(proto))
	if err := l.PCall(0, 1, nil); err != nil {
		c.WriteError("ERR Error running script: " + err.Error())
		return
	}
	reply(c, l.Get(-1))
}

func strings2table(l *lua.LState, ss []string) *lua.LTable {
	t := l.CreateTable(len(ss), 0)
	for i, v := range ss {
		t.RawSetInt(i+1, lua.LString(v))
	}
	return t
}

// call is redis.call (raising errors) and redis.pcall (returning them as
// {err = ...}): the command goes to miniredis like any other.
func (s *scripts) call(l *lua.LState, protected bool) int {
	var args []string
	for i := 1; i <= l.GetTop(); i++ {
		switch a := l.Get(i).(type) {
		case lua.LNumber:
			args = append(args, a.String())
		case lua.LString:
			args = append(args, string(a))
		default:
			l.RaiseError("Lua redis lib command arguments must be strings or integers")
			return 0
		}
	}
	if len(args) == 0 {
		l.RaiseError("Please specify at least one argument for redis.call()")
		return 0
	}
	if notFromScripts[strings.ToUpper(args[0])] {
		l.RaiseError("This Redis command is not allowed from script")
		return 0
	}
	// The buffers are kept: a script runs alone on its node (s.mu).
	s.buf.Reset()
	s.w.Reset(&s.buf)
	s.m.Server().Dispatch(server.NewPeer(s.w), args)
	s.w.Flush()
	s.r.Reset(&s.buf)
	v, err := server.ParseReply(s.r)
	if err != nil {
		if !protected {
			l.RaiseError("%s", err.Error())
			return 0
		}
		t := l.NewTable()
		t.RawSetString("err", lua.LString(err.Error()))
		l.Push(t)
		return 1
	}
	l.Push(toLua(l, v))
	return 1
}

// notFromScripts are the commands Redis refuses inside a script (and
// that would re-enter hook here).
var notFromScripts = map[string]bool{
	"EVAL": true, "EVALSHA": true, "EVAL_RO": true, "EVALSHA_RO": true, "SCRIPT": true,
	"MULTI": true, "EXEC": true, "DISCARD": true, "WATCH": true,
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "SSUBSCRIBE": true, "UNSUBSCRIBE": true, "PUNSUBSCRIBE": true,
	"BLPOP": true, "BRPOP": true, "BLMOVE": true, "BZPOPMIN": true, "BZPOPMAX": true, "XREAD": true,
}

// forget drops the node's scripts, as a restart does: the next EVALSHA
// gets NOSCRIPT and the client sends the script again.
func (s *scripts) forget() {
	s.mu.Lock()
	clear(s.by)
	s.mu.Unlock()
}

// toLua converts a reply as Redis hands it to a script.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LFalse
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case server.Simple:
		t := l.NewTable()
		t.RawSetString("ok", lua.LString(string(v)))
		return t
	case []any:
		t := l.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, toLua(l, e))
		}
		return t
	}
	panic(fmt.Sprintf("sim: a reply of type %T", v))
}

// reply writes a script's result as Redis converts it.
func reply(c *server.Peer, v lua.LValue) {
	switch v := v.(type) {
	case lua.LNumber:
		c.WriteInt(int(v))
	case lua.LString:
		c.WriteBulk(string(v))
	case lua.LBool:
		if v {
			c.WriteInt(1)
		} else {
			c.WriteNull()
		}
	case *lua.LTable:
		if e, ok := v.RawGetString("err").(lua.LString); ok {
			c.WriteError(string(e))
			return
		}
		if s, ok := v.RawGetString("ok").(lua.LString); ok {
			c.WriteInline(string(s))
			return
		}
		n := 0
		for v.RawGetInt(n+1) != lua.LNil {
			n++
		}
		c.WriteLen(n)
		for i := 1; i <= n; i++ {
			reply(c, v.RawGetInt(i))
		}
	default:
		c.WriteNull()
	}
}
