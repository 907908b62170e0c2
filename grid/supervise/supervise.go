// Package supervise is the day-to-day work of grid supervision: the hazard lifecycle
// (上报 → 立案 → 派遣 → 整改 → 验收 → 销号), the officer's cells and inspections, the street
// office's lists, summaries and exports, grid units and their audit.
package supervise

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
