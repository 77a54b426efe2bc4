// Package faultproxy is a small in-process TCP fault-injection proxy for
// chaos tests. A Proxy listens on a loopback port and forwards every
// connection to a target address (typically a Redis server), while letting
// a test delay traffic, hang the node (blackhole), refuse connections, or
// cut live connections, all while traffic is flowing.
//
// Typical use:
//
//	p, err := faultproxy.New(redisAddr)
//	...
//	defer p.Close()
//	client := redis.NewClient(&redis.Options{Addr: p.Addr()})
//	p.Blackhole() // the node now hangs
//	p.Heal()      // and is healthy again
package faultproxy
