package redisproc

import (
	"fmt"
	"os"
	"testing"
)

func TestDecideRequire(t *testing.T) {
	cases := []struct {
		env   string
		found bool
		want  requireAction
	}{
		{"", true, actionRun},
		{"1", true, actionRun},
		{"", false, actionSkip},
		{"0", false, actionSkip},
		{"true", false, actionSkip}, // only "1" requires
		{"1", false, actionFail},
	}
	for _, c := range cases {
		if got := decideRequire(c.env, c.found); got != c.want {
			t.Errorf("decideRequire(%q, %v) = %v, want %v", c.env, c.found, got, c.want)
		}
	}
}

// recordingTB records Skipf and Fatalf instead of ending the test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestRequireWith(t *testing.T) {
	found := func() (string, bool) { return "/opt/redis-server", true }
	missing := func() (string, bool) { return "", false }

	t.Run("found", func(t *testing.T) {
		r := &recordingTB{TB: t}
		if got := requireWith(r, "1", found); got != "/opt/redis-server" || r.skipped != "" || r.failed != "" {
			t.Errorf("got %q, skipped %q, failed %q", got, r.skipped, r.failed)
		}
	})
	t.Run("missing skips", func(t *testing.T) {
		r := &recordingTB{TB: t}
		if got := requireWith(r, "", missing); got != "" || r.skipped == "" || r.failed != "" {
			t.Errorf("got %q, skipped %q, failed %q", got, r.skipped, r.failed)
		}
		t.Log(r.skipped)
	})
	t.Run("missing but required fails", func(t *testing.T) {
		r := &recordingTB{TB: t}
		if got := requireWith(r, "1", missing); got != "" || r.skipped != "" || r.failed == "" {
			t.Errorf("got %q, skipped %q, failed %q", got, r.skipped, r.failed)
		}
		t.Log(r.failed)
	})
}

func TestAvailable(t *testing.T) {
	path, ok := Available()
	if !ok {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("redis-server not found and %s=1", RequireEnv)
		}
		t.Skip("redis-server not installed")
	}
	if !isExecutableFile(path) {
		t.Fatalf("Available() = %q, not an executable file", path)
	}
}

func TestAvailableFallsBackWithoutPath(t *testing.T) {
	if _, ok := Available(); !ok {
		t.Skip("redis-server not installed")
	}
	t.Setenv("PATH", "")
	path, ok := Available()
	inFallback := false
	for _, dir := range fallbackDirs {
		inFallback = inFallback || isExecutableFile(dir+"/"+binaryName)
	}
	if ok != inFallback {
		t.Fatalf("with empty PATH: Available() = %q, %v; want found=%v", path, ok, inFallback)
	}
}
