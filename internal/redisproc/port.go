package redisproc

import (
	"fmt"
	"net"
	"sync"
)

// reserved holds the ports handed out by reservePort and not yet released,
// so that servers started concurrently in one test binary never race for the
// same port. Collisions with other processes are handled by Start's retry.
var reserved = struct {
	sync.Mutex
	ports map[int]bool
}{ports: make(map[int]bool)}

// portPicker returns a port to try and a function that gives it back.
type portPicker func() (port int, release func(), err error)

// reservePort finds a free loopback port by listening on 127.0.0.1:0 and
// closing the listener, and reserves it within this process. The port is
// only probably free: another process may take it before redis-server binds.
func reservePort() (int, func(), error) {
	for range 32 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, nil, fmt.Errorf("find free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if err := ln.Close(); err != nil {
			return 0, nil, fmt.Errorf("find free port: %w", err)
		}
		reserved.Lock()
		taken := reserved.ports[port]
		if !taken {
			reserved.ports[port] = true
		}
		reserved.Unlock()
		if !taken {
			return port, func() { releasePort(port) }, nil
		}
	}
	return 0, nil, fmt.Errorf("find free port: kernel kept returning reserved ports")
}

// releasePort makes port available to reservePort again.
func releasePort(port int) {
	reserved.Lock()
	delete(reserved.ports, port)
	reserved.Unlock()
}
