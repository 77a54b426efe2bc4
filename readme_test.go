package quorumlock

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeQuotesTheExample keeps the README's example equal to
// ExampleFromEnv, which compiles with the package.
func TestReadmeQuotesTheExample(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\nfunc ExampleFromEnv\(\) \{\n(.*?)\n\}\n`).FindSubmatch(src)
	if m == nil {
		t.Fatal("ExampleFromEnv not found")
	}
	lines := strings.Split(string(m[1]), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if body := strings.Join(lines, "\n"); !strings.Contains(string(readme), body) {
		t.Fatalf("README.md does not quote ExampleFromEnv's body:\n%s", body)
	}
}
