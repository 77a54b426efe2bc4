package chaos

import (
	"sync"

	"github.com/quorumlock/quorumlock/internal/history"
)

// fencedStore is the resource a lock guards, as a fencing-aware storage
// system would run it: it rejects a write whose token is lower than the
// highest it has accepted. Its decisions are recorded in the key's history
// under its own lock, so the history's order of writes is the store's.
type fencedStore struct {
	mu      sync.Mutex
	highest uint64
	rec     *history.Recorder
}

// write offers a write with token from the holder of lock id.
func (s *fencedStore) write(id string, token uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := token >= s.highest
	if ok {
		s.highest = token
	}
	s.rec.Write(id, token, s.rec.Since(), ok)
	return ok
}
