package quorumlockotel_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/quorumlock/quorumlock"
	quorumlockotel "github.com/quorumlock/quorumlock/otel"
)

// Metrics go to the global meter provider, which the service sets up (an
// OTLP or Prometheus exporter, say) with otel.SetMeterProvider.
func ExampleHooks() {
	hooks, _ := quorumlockotel.Hooks() // fails only if an instrument cannot be made
	locker, err := quorumlock.FromEnv(quorumlock.WithHooks(hooks))
	if err != nil {
		log.Fatal(err)
	}
	defer locker.Close()

	lock, err := locker.ObtainContext(context.Background(), "nightly-report", 10*time.Minute, 5*time.Second)
	if errors.Is(err, quorumlock.ErrNotObtained) {
		return // counted as quorumlock.obtain.duration{quorumlock.result="not_obtained"}
	} else if err != nil {
		log.Fatal(err)
	}
	defer lock.Release()
	// ... the job ...
}
