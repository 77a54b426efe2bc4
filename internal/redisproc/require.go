package redisproc

import (
	"os"
	"testing"
)

// RequireEnv is the environment variable that turns a missing redis-server
// from a skipped test into a failed one. Only the exact value "1" does so.
const RequireEnv = "QUORUMLOCK_REQUIRE_REDIS"

// requireAction is what Require does with a test.
type requireAction int

const (
	actionRun  requireAction = iota // redis-server found: run the test
	actionSkip                      // missing and not required: skip
	actionFail                      // missing but required: fail
)

// decideRequire maps the value of RequireEnv and the lookup result to an
// action. It is the whole policy of Require, kept pure so both branches can be
// tested on a machine that has redis-server.
func decideRequire(env string, found bool) requireAction {
	switch {
	case found:
		return actionRun
	case env == "1":
		return actionFail
	default:
		return actionSkip
	}
}

// Require returns the path of redis-server, or skips the test when it is
// absent, except that it fails the test (t.Fatalf) when the environment
// variable QUORUMLOCK_REQUIRE_REDIS=1, so that CI cannot silently skip the
// integration tests.
func Require(t testing.TB) string {
	t.Helper()
	return requireWith(t, os.Getenv(RequireEnv), Available)
}

// requireWith is Require with the environment value and lookup injected.
func requireWith(t testing.TB, env string, lookup func() (string, bool)) string {
	t.Helper()
	path, found := lookup()
	switch decideRequire(env, found) {
	case actionRun:
		return path
	case actionFail:
		t.Fatalf("redisproc: %s not found on PATH or in %v, and %s=1 requires it",
			binaryName, fallbackDirs, RequireEnv)
	default:
		t.Skipf("redisproc: %s not found on PATH or in %v; install it (e.g. apt-get install redis-server) to run this test, or set %s=1 to make its absence a failure",
			binaryName, fallbackDirs, RequireEnv)
	}
	return "" // reached only with a fake testing.TB whose Fatalf/Skipf return
}
