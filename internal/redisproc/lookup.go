package redisproc

import (
	"os"
	"os/exec"
	"path/filepath"
)

// binaryName is the executable that Available looks for.
const binaryName = "redis-server"

// fallbackDirs are searched, in order, when redis-server is not on PATH
// (test runners and IDEs often run with a minimal PATH).
var fallbackDirs = []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"}

// Available reports whether redis-server can be found, and its path. It looks
// on PATH first, then in /usr/bin, /usr/sbin and /usr/local/bin.
func Available() (string, bool) {
	if p, err := exec.LookPath(binaryName); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return p, true
	}
	for _, dir := range fallbackDirs {
		p := filepath.Join(dir, binaryName)
		if isExecutableFile(p) {
			return p, true
		}
	}
	return "", false
}

// isExecutableFile reports whether p is a regular file with an execute bit.
func isExecutableFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
