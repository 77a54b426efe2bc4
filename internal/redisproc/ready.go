package redisproc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Readiness timing: the whole wait, one probe, and the pause between probes.
const (
	readyTimeout  = 5 * time.Second
	probeTimeout  = 250 * time.Millisecond
	probeInterval = 5 * time.Millisecond
)

// errExited means redis-server exited before it answered.
var errExited = errors.New("redis-server exited before answering PING")

// waitReady waits until the redis-server of p answers PING on addr, and is
// really p: another process (for example a server of a concurrent test that
// took the same port) answering on addr does not count. It returns errExited
// (wrapped) if p exits first, and an error after readyTimeout.
func waitReady(p *process, addr string) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("%w (%s)", errExited, p.exitStatus())
		}
		if last = probe(addr, p.pid()); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG from %s within %v: %w", addr, readyTimeout, last)
		}
		select {
		case <-p.done:
		case <-time.After(probeInterval):
		}
	}
}

// probe sends PING to addr and then checks with INFO server that the answer
// came from pid. PING fails with -LOADING while an AOF is being replayed, so
// a PONG also means the data is back.
func probe(addr string, pid int) error {
	conn, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(probeTimeout)); err != nil {
		return err
	}
	r := bufio.NewReader(conn)

	if _, err := io.WriteString(conn, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := readLine(r)
	if err != nil {
		return err
	}
	if line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}

	if _, err := io.WriteString(conn, "*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"); err != nil {
		return err
	}
	info, err := readBulk(r)
	if err != nil {
		return fmt.Errorf("INFO server: %w", err)
	}
	got, ok := infoField(info, "process_id")
	if !ok {
		return errors.New("INFO server has no process_id")
	}
	if got != strconv.Itoa(pid) {
		return fmt.Errorf("%s is answered by pid %s, not by our pid %d", addr, got, pid)
	}
	return nil
}

// readLine reads one RESP line without its CRLF.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// readBulk reads one RESP bulk string ("$<n>\r\n<n bytes>\r\n").
func readBulk(r *bufio.Reader) (string, error) {
	line, err := readLine(r)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "$") {
		return "", fmt.Errorf("want a bulk string, got %q", line)
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return "", fmt.Errorf("bad bulk length %q", line)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// infoField returns the value of key in INFO output ("key:value" lines).
func infoField(info, key string) (string, bool) {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), key+":"); ok {
			return v, true
		}
	}
	return "", false
}
