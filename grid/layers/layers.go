// Package layers serves the supervised things as OGC API Features items and as Mapbox
// vector tiles, each read within the caller's scope.
package layers

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// Service runs this package's queries on a store. It holds no state of its own beyond
// the store, so one per store is enough and it is safe for concurrent use.
type Service struct {
	st *grid.Store
	db *pgxpool.Pool
}

// New returns the service over st.
func New(st *grid.Store) *Service { return &Service{st: st, db: st.DB(pg.Key{})} }
