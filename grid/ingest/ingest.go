// Package ingest brings data in: it decodes GeoJSON and CSV files of one kind, checks
// every row (geometry, CRS, Shanghai's extent, USCC, enumerations, types), tags rows with
// their H3 cells and areas, and writes them all-or-nothing (the bulk COPY path for empty
// tables, SQL upserts otherwise), re-tagging what an areas import moves.
package ingest

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
