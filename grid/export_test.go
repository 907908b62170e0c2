package grid

import (
	"context"
	"time"
)

// OpenSession lets the tests open a session for a principal checked earlier, as Login
// does between its password check and its insert.
func OpenSession(s *Store, ctx context.Context, p *Principal, ttl time.Duration) (*Session, error) {
	return s.openSession(ctx, p, "", ttl)
}
