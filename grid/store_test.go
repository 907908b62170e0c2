package grid_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
	"safegrid/grid/testdb"
)

// On an empty database (no PostGIS yet) Open connects without the geometry codec, and
// after Migrate the pool's connections, new and held ones alike, scan geometries as go-geom.
func TestOpenEmptyDatabaseThenMigrate(t *testing.T) {
	ctx := context.Background()
	base := testdb.BaseURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("safegrid_test_empty_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	admin := *u
	admin.Path = "/postgres"
	c, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	c.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the deferred Closes below
		c, err := pgx.Connect(context.Background(), admin.String())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	u.Path = "/" + name
	st, err := grid.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open an empty database: %v", err)
	}
	defer st.Close()
	held, err := st.DB(pg.Key{}).Acquire(ctx) // a connection from before PostGIS, in use across Migrate
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.Migrate(ctx)
	if err != nil || n == 0 {
		t.Fatalf("migrate applied %d, err %v", n, err)
	}
	held.Release()
	for i := 0; i < 3; i++ { // more than one connection
		var g geom.T
		if err := st.DB(pg.Key{}).QueryRow(ctx, `SELECT ST_GeomFromText('POINT(121.47 31.23)', 4326)`).Scan(&g); err != nil {
			t.Fatalf("scan a geometry after migrate: %v", err)
		}
		if p, ok := g.(*geom.Point); !ok || p.SRID() != 4326 || p.X() != 121.47 {
			t.Fatalf("scanned %#v", g)
		}
	}
	if _, err := st.Region(ctx, grid.DefaultShoreToleranceM); err != nil {
		t.Fatalf("region of an empty areas table: %v", err)
	}
	// A second Open of the migrated database registers at once.
	st2, err := grid.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	var g geom.T
	if err := st2.DB(pg.Key{}).QueryRow(ctx, `SELECT ST_GeomFromText('LINESTRING(0 0, 1 1)', 4326)`).Scan(&g); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.(*geom.LineString); !ok {
		t.Fatalf("scanned %#v", g)
	}
}

// A value too large for an index (SQLSTATE 54000) is ErrTooLong (a 422), not a raw error.
func TestTypedTooLong(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, testdb.DB(st), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE long_keys (k text PRIMARY KEY) ON COMMIT DROP`); err != nil {
			return err
		}
		// Random characters: a repeated one would compress below the limit.
		var b strings.Builder
		for range 1000 {
			b.WriteRune(rune(0x4E00 + rand.IntN(0x5000)))
		}
		_, err := tx.Exec(ctx, `INSERT INTO long_keys VALUES ($1)`, b.String())
		return err
	})
	if err == nil {
		t.Fatal("a 3,000-byte key was indexed")
	}
	if !errors.Is(grid.Typed(err), grid.ErrTooLong) {
		t.Errorf("Typed(%v) is not ErrTooLong", err)
	}
}
