package quorumlock

import (
	"fmt"
	"net"
	"reflect"
	"strings"

	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
)

// node is one independent Redis server of the Locker, reached through
// redsync's node abstraction.
type node struct {
	pool   redsyncredis.Pool // when wire is nil
	wire   *wire             // the client's own path for script calls
	client redis.UniversalClient
	addr   string // for messages; never holds credentials
	single bool   // one server (not a Cluster or Ring): it keeps a marker
	// checked: its connections run verifyScript when made (NewFromURLs)
	checked bool
}

func newNode(c redis.UniversalClient) node {
	_, single := c.(*redis.Client)
	return node{pool: goredis.NewPool(c), wire: &wire{plain: c}, client: c, addr: clientAddr(c), single: single}
}

// clientAddr names a client by its server address(es).
func clientAddr(c redis.UniversalClient) string {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return "cluster " + strings.Join(c.Options().Addrs, ",")
	case *redis.Ring:
		addrs := make([]string, 0, len(c.Options().Addrs))
		for _, a := range c.Options().Addrs {
			addrs = append(addrs, a)
		}
		return "ring " + strings.Join(addrs, ",")
	}
	return fmt.Sprintf("%T", c)
}

// serverIdentity returns the server address a client with these options
// talks to, in a form where the same server compares equal, or "" when it
// does not name one server (a Sentinel failover client: the master moves).
// Two databases of one server are the same server: they fail together.
func serverIdentity(o *redis.Options) string {
	if o.Addr == "FailoverClient" {
		return ""
	}
	if o.Network == "unix" {
		return "unix:" + o.Addr
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return strings.ToLower(o.Addr)
	}
	host = strings.ToLower(host)
	if host == "localhost" || host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// clientIdentity is serverIdentity for a plain client, "" for others.
func clientIdentity(c redis.UniversalClient) string {
	if cl, ok := c.(*redis.Client); ok {
		return serverIdentity(cl.Options())
	}
	return ""
}

// checkNodes rejects a client list the quorum cannot work with.
func checkNodes(clients []redis.UniversalClient) error {
	if len(clients) == 0 {
		return fmt.Errorf("%w: no nodes", ErrInvalidConfig)
	}
	ids := make([]string, len(clients))
	for i, c := range clients {
		if c == nil || isNilPointer(c) {
			return fmt.Errorf("%w: node %d is nil", ErrInvalidConfig, i)
		}
		for j := range i {
			if clients[j] == c {
				return fmt.Errorf("%w: nodes %d and %d are the same client", ErrInvalidConfig, j, i)
			}
		}
		ids[i] = clientIdentity(c)
	}
	return checkDistinct(ids)
}

// checkDistinct rejects two nodes on one server; "" names no server.
func checkDistinct(ids []string) error {
	seen := make(map[string]int, len(ids))
	for i, id := range ids {
		if id == "" {
			continue
		}
		if j, dup := seen[id]; dup {
			return fmt.Errorf("%w: nodes %d and %d are the same server (%s); a quorum needs independent servers", ErrInvalidConfig, j, i, id)
		}
		seen[id] = i
	}
	return nil
}

// isNilPointer reports whether v holds a nil pointer (a typed nil client).
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
