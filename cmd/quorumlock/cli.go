package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// durationValue is a duration flag whose error says what a user should
// type: "--ttl 5: no unit: use one, e.g. 5s".
type durationValue struct {
	d    *time.Duration
	name string
	err  error // of the last Set
}

// durationFlag defines a duration flag on fs; usage should name its value
// in backquotes, as flag.PrintDefaults shows it.
func durationFlag(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	d := value
	fs.Var(&durationValue{d: &d, name: name}, name, usage)
	return &d
}

func (v *durationValue) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	switch {
	case err == nil:
		*v.d, v.err = d, nil
		return nil
	case isNumber(s):
		v.err = fmt.Errorf("--%s %s: no unit: use one, e.g. %ss", v.name, s, s)
	default:
		v.err = fmt.Errorf("--%s %q: not a duration: e.g. 30s, 1m30s", v.name, s)
	}
	return v.err
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// parseFlags parses args into fs for the command name. On -h it prints the
// usage (fs.Usage) and returns 0; on a bad flag one line naming it and the
// hint to -h, and 2; ok is true when the command goes on.
func parseFlags(fs *flag.FlagSet, name string, args []string, stderr io.Writer) (status int, ok bool) {
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(stderr)
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, flag.ErrHelp):
		usage()
		return exitOK, false
	}
	fs.VisitAll(func(f *flag.Flag) { // a duration's own words, not flag's "parse error"
		if v, isDur := f.Value.(*durationValue); isDur && v.err != nil {
			err = v.err
		}
	})
	return usageError(stderr, name, "%v", err), false
}

// usageError prints a bad command line's error for the command name, then
// the hint to -h, and returns the exit status 2.
func usageError(stderr io.Writer, name, format string, a ...any) int {
	fmt.Fprintf(stderr, "quorumlock %s: %s\n", name, message(fmt.Sprintf(format, a...)))
	fmt.Fprintf(stderr, "Run 'quorumlock %s -h' for usage.\n", name)
	return exitUsage
}

// message drops the library's "quorumlock: " prefixes from s: the command
// line says it once, with the command's name.
func message(s string) string {
	s = strings.TrimPrefix(s, "quorumlock: ")
	return strings.ReplaceAll(s, ": quorumlock: ", ": ")
}

// version is the module's version and, in a build from a clone, its
// commit.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "quorumlock (unknown version)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	return "quorumlock " + v + " " + info.GoVersion
}
