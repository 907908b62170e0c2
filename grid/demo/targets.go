package demo

import (
	"context"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// loadedMark is the audit row that says the demo was loaded.
const loadedMark = `INSERT INTO audit_log (actor, action, target) VALUES ('cli', 'demo', 'loaded')`

// MarkLoaded records that the demo is loaded, so a second `safegrid demo` adds nothing.
func MarkLoaded(ctx context.Context, st *grid.Store) error {
	_, err := st.DB(pg.Key{}).Exec(ctx, loadedMark)
	return err
}

// Loaded reports whether the demo was loaded into st.
func Loaded(ctx context.Context, st *grid.Store) (bool, error) {
	var n int
	err := st.DB(pg.Key{}).QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'demo'`).Scan(&n)
	return n > 0, err
}

// SampleLogins names one street office, one officer with a grid unit and one district
// bureau, to print as examples (empty when there is none).
func SampleLogins(ctx context.Context, st *grid.Store) (street, officer, district string) {
	db := st.DB(pg.Key{})
	_ = db.QueryRow(ctx, `SELECT username FROM users WHERE role = 'district' ORDER BY district_code LIMIT 1`).Scan(&district)
	_ = db.QueryRow(ctx, `SELECT username FROM users WHERE role = 'street' ORDER BY street_code LIMIT 1`).Scan(&street)
	_ = db.QueryRow(ctx, `SELECT u.username FROM users u JOIN grid_units g ON g.officer_id = u.id ORDER BY g.code LIMIT 1`).Scan(&officer)
	return street, officer, district
}

// StreetOffice is a street office's login and its street.
type StreetOffice struct{ User, Street string }

// StreetOfficesWithHazards are the enabled street offices whose street has hazards, by
// street code: the users the API benchmark reads street lists as.
func StreetOfficesWithHazards(ctx context.Context, st *grid.Store) ([]StreetOffice, error) {
	rows, err := st.DB(pg.Key{}).Query(ctx, `SELECT u.username, u.street_code FROM users u
WHERE u.role = 'street' AND NOT u.disabled AND EXISTS (SELECT 1 FROM hazards h WHERE h.street_code = u.street_code)
ORDER BY u.street_code`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[StreetOffice])
}

// OfficerCells is an officer's login and the cells of their grid units.
type OfficerCells struct {
	User  string
	Cells []int64
}

// OfficersWithCells are the enabled officers with grid cells, in the order of their first
// unit: the users the API benchmark reads cells as.
func OfficersWithCells(ctx context.Context, st *grid.Store) ([]OfficerCells, error) {
	rows, err := st.DB(pg.Key{}).Query(ctx, `SELECT u.username, array_agg(gc.h3 ORDER BY gc.h3)
FROM grid_units g JOIN users u ON u.id = g.officer_id JOIN grid_cells gc ON gc.unit_code = g.code
WHERE NOT u.disabled GROUP BY u.username ORDER BY min(g.code)`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[OfficerCells])
}

// Planner is the first enabled planner's login.
func Planner(ctx context.Context, st *grid.Store) (string, error) {
	var user string
	if err := st.DB(pg.Key{}).QueryRow(ctx, `SELECT username FROM users WHERE role = 'planner' AND NOT disabled ORDER BY id LIMIT 1`).Scan(&user); err != nil {
		return "", err
	}
	return user, nil
}

// EnterpriseTiles are the Web Mercator tiles (x, y) at zoom z that hold an enterprise.
func EnterpriseTiles(ctx context.Context, st *grid.Store, z int) ([][2]int, error) {
	rows, err := st.DB(pg.Key{}).Query(ctx, `SELECT DISTINCT
	floor((ST_X(geom) + 180) / 360 * (1 << $1::int))::int AS x,
	floor((1 - ln(tan(radians(ST_Y(geom))) + 1 / cos(radians(ST_Y(geom)))) / pi()) / 2 * (1 << $1::int))::int AS y
FROM enterprises ORDER BY 1, 2`, z)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]int, error) {
		var t [2]int
		err := r.Scan(&t[0], &t[1])
		return t, err
	})
}

// District is a district's code, its boundary simplified to about 100 m as WKT (5
// decimals, a few KB: short enough for a filter= in a URL), and its bounding box.
type District struct {
	Code string
	WKT  string
	BBox [4]float64
}

// Districts are the districts that hold enterprises, by code: the OGC benchmark filters
// by their boundaries.
func Districts(ctx context.Context, st *grid.Store) ([]District, error) {
	rows, err := st.DB(pg.Key{}).Query(ctx, `SELECT code, ST_AsText(g, 5), ARRAY[ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)]
FROM (SELECT a.code, ST_SimplifyPreserveTopology(a.geom, 0.001) AS g FROM areas a
      WHERE length(a.code) = 6 AND EXISTS (SELECT 1 FROM enterprises e WHERE e.district_code = a.code)) d
ORDER BY code`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (District, error) {
		var d District
		var b []float64
		err := r.Scan(&d.Code, &d.WKT, &b)
		if err == nil && len(b) == 4 {
			copy(d.BBox[:], b)
		}
		return d, err
	})
}
