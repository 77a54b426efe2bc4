package main

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// embeddedNodes starts n in-process Redis nodes (miniredis) whose keys expire
// in real time, and returns their URLs and a function that stops them.
func embeddedNodes(n int) ([]string, func(), error) {
	var servers []*miniredis.Miniredis
	stop := func() {
		for _, s := range servers {
			s.Close()
		}
	}
	var urls []string
	for range n {
		s := miniredis.NewMiniRedis()
		if err := s.Start(); err != nil {
			stop()
			return nil, nil, fmt.Errorf("start embedded node: %w", err)
		}
		s.ClockTTL(true)
		servers = append(servers, s)
		urls = append(urls, "redis://"+s.Addr())
	}
	return urls, stop, nil
}
