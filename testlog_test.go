package quorumlock

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// go-redis logs every failed dial to a node the tests took down; keep the
// test output for the tests.
func init() { redis.SetLogger(quietLogger{}) }

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
