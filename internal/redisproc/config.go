package redisproc

import (
	"path/filepath"
	"strconv"
)

// logName and stdioName are the files, in a server's directory, that receive
// the redis log and anything redis-server prints before its log is set up
// (for example a bad-argument error).
const (
	logName   = "redis.log"
	stdioName = "stdio.log"
)

// Config describes how servers are started. The zero value is a plain
// in-memory redis: a restart after Kill comes up empty.
type Config struct {
	// Persist enables the append-only file with appendfsync always, stored in
	// the server's own temporary directory, so that every acknowledged write
	// survives Kill and comes back on Restart. Without it the server runs with
	// save "" and appendonly no, and a restart comes up empty.
	Persist bool
	// Args are extra redis-server arguments, e.g. "--maxmemory", "10mb".
	// They come after the package's own, so they can override them.
	Args []string
}

// args builds the redis-server command line for a server on port with its
// data and logs in dir.
func (c Config) args(port int, dir string) []string {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", filepath.Join(dir, logName),
		"--save", "",
	}
	if c.Persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	return append(args, c.Args...)
}
