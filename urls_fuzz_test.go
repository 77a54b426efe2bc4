package quorumlock

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseNodeURLs feeds node lists to the parsing behind NewFromURLs and
// FromEnv. Whatever the input, it must not panic, must fail only with
// ErrInvalidConfig, must keep one node per URL and give each client locking
// timeouts, and must never put a URL's password into an error. The seeds
// run as a normal test.
func FuzzParseNodeURLs(f *testing.F) {
	for _, s := range []string{
		"redis://127.0.0.1:6379",
		"redis://a:1,redis://b:2,redis://c:3",
		"rediss://user:secret@host:6380/2?dial_timeout=3s",
		"redis://:secret@h:1/notadb",
		"unix:///var/run/redis.sock?db=3",
		"redis://[::1]:7000,redis://[::1]:7001",
		"redis://h:1?read_timeout=-1&max_retries=5",
		"http://h:1",
		"redis://",
		"redis://u:secret@h:port",
		" , ,",
		"redis://h:1/0,redis://H:1/1",
		"redis://%zz",
		"redis://h:1?bogus=secret",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		opts, err := parseNodeURLs(SplitURLs(list), DefaultNodeTimeout)
		if err == nil {
			if len(opts) != len(SplitURLs(list)) {
				t.Fatalf("%d nodes from %q", len(opts), list)
			}
			for _, o := range opts {
				if !o.ContextTimeoutEnabled || o.Addr == "" {
					t.Fatalf("client options %+v from %q", o, list)
				}
			}
			return
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("error without ErrInvalidConfig: %v", err)
		}
		for _, raw := range SplitURLs(list) {
			u, perr := url.Parse(raw)
			if perr != nil || u.User == nil {
				continue
			}
			pw, ok := u.User.Password()
			if ok && len(pw) >= 4 && !strings.Contains(u.Redacted(), pw) && strings.Contains(err.Error(), pw) {
				t.Fatalf("error reveals the password %q of %q: %v", pw, raw, err)
			}
		}
	})
}
