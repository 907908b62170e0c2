// Package hazardstat finds where hazards gather: DBSCAN clusters in metres (partitioned
// city-wide) and Getis-Ord Gi* hot spots over H3 cells.
package hazardstat

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
