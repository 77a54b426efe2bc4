package redisproc

import (
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tailBytes and tailLines bound the log excerpt put into errors.
const (
	tailBytes = 4096
	tailLines = 20
)

// logMark is where the log files ended before a launch, so that the output of
// one run can be told apart from the runs before it (Restart appends).
type logMark struct{ log, stdio int64 }

// markLogs records the current sizes of the server's log files in dir.
func markLogs(dir string) logMark {
	return logMark{log: fileSize(filepath.Join(dir, logName)), stdio: fileSize(filepath.Join(dir, stdioName))}
}

// since returns what redis-server wrote to stderr and to its log after m.
func (m logMark) since(dir string) string {
	var b strings.Builder
	if s := readFrom(filepath.Join(dir, stdioName), m.stdio); s != "" {
		b.WriteString(s)
	}
	if s := readFrom(filepath.Join(dir, logName), m.log); s != "" {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return b.String()
}

// addrInUse reports whether a log excerpt shows a failure to bind the port.
func addrInUse(log string) bool {
	return strings.Contains(log, "Address already in use")
}

// tail returns at most the last tailLines lines of s.
func tail(s string) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return strings.Join(lines, "\n")
}

// fileSize is the size of p, 0 if it does not exist.
func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns the content of p from off on, at most its last tailBytes.
func readFrom(p string, off int64) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	if end := fileSize(p); end-off > tailBytes {
		off = end - tailBytes
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(f, tailBytes))
	if err != nil {
		return ""
	}
	return string(b)
}
