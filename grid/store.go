// Package grid is SafeGrid's domain: areas, the supervised things and their hazards, grid
// units, and the PostGIS store that holds them.
package grid

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/pressly/goose/v3"

	"safegrid/geo"
	"safegrid/migrations"
)

// Store is the PostGIS database behind SafeGrid.
type Store struct {
	Pool *pgxpool.Pool
}

// ErrNoDatabase is returned when no database URL was given.
var ErrNoDatabase = errors.New("no database: set DATABASE_URL or pass --database-url")

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string) (*Store, error) {
	if url == "" {
		return nil, ErrNoDatabase
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &Store{Pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// Migrate applies the migrations not yet applied and returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	db := stdlib.OpenDBFromPool(s.Pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate: %w", err)
	}
	return len(res), nil
}

// Region returns Shanghai as the districts loaded so far describe it, with a tolerance in
// metres for things on the shore line; before any district is loaded, a box around the city.
func (s *Store) Region(ctx context.Context, toleranceM float64) (*geo.Region, error) {
	rows, err := s.Pool.Query(ctx, `SELECT ST_AsBinary(geom) FROM areas WHERE level = 'district' ORDER BY code`)
	if err != nil {
		return nil, err
	}
	polys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (orb.MultiPolygon, error) {
		var data []byte
		if err := row.Scan(&data); err != nil {
			return nil, err
		}
		g, err := wkb.Unmarshal(data)
		if err != nil {
			return nil, err
		}
		mp, ok := g.(orb.MultiPolygon)
		if !ok {
			return nil, fmt.Errorf("district geometry is a %s", g.GeoJSONType())
		}
		return mp, nil
	})
	if err != nil {
		return nil, err
	}
	if len(polys) == 0 {
		return geo.BoundRegion(geo.ShanghaiBound), nil
	}
	return geo.NewRegion(polys, toleranceM), nil
}
