package testdb

import (
	"context"
	"encoding/json"
	"testing"

	"safegrid/grid"
)

// RiskDistricts is three districts for the risk warnings' tests: TwoStreets' 徐汇 (310104,
// its west street 310104003 with two communities and its east street 310104004), and the
// Hangzhou Bay districts 金山 (310116, one street 310116001, one community) and 奉贤
// (310120, likewise), each a box.
var RiskDistricts = &Setup{Name: "risk-districts", Load: func(ctx context.Context, st *grid.Store) error {
	if err := TwoStreets.Load(ctx, st); err != nil {
		return err
	}
	for _, q := range []string{
		`INSERT INTO areas (code, name, geom) VALUES
 ('310116', '金山区', ST_Multi(ST_MakeEnvelope(121.20, 30.75, 121.30, 30.85, 4326))),
 ('310120', '奉贤区', ST_Multi(ST_MakeEnvelope(121.40, 30.85, 121.50, 30.95, 4326)))`,
		`INSERT INTO areas (code, name, geom) SELECT code, name, (SELECT geom FROM areas WHERE code = left(v.code, 6))
  FROM (VALUES ('310116001', '金山卫镇'), ('310120001', '柘林镇')) v (code, name)`,
		`INSERT INTO areas (code, name, geom) SELECT code, name, (SELECT geom FROM areas WHERE code = left(v.code, 6))
  FROM (VALUES ('310116001001', '金山居委'), ('310120001001', '柘林村')) v (code, name)`,
		`INSERT INTO area_parts (code, level, geom) SELECT code, level, (ST_Dump(ST_Subdivide(geom, 64))).geom FROM areas
  WHERE district_code IN ('310116', '310120')`,
	} {
		if _, err := DB(st).Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}}

// RiskRows writes risk snapshots, areas and cells in SQL, for tests of what reads them
// (warnings, zones) without the recompute.
type RiskRows struct {
	t  testing.TB
	st *grid.Store
}

// NewRiskRows returns the writer of risk rows into st.
func NewRiskRows(t testing.TB, st *grid.Store) *RiskRows { return &RiskRows{t: t, st: st} }

// Snapshot inserts a snapshot taken on the Shanghai date day with config (marshalled as
// the snapshot's copy) and returns its id.
func (r *RiskRows) Snapshot(day string, config any) int64 {
	r.t.Helper()
	js, err := json.Marshal(config)
	if err != nil {
		r.t.Fatal(err)
	}
	var id int64
	if err := DB(r.st).QueryRow(context.Background(), `INSERT INTO risk_snapshots (taken_on, config, trigger, requested_by, duration_ms, cells)
VALUES ($1::date, $2, 'manual', 'test', 0, 0) RETURNING id`, day, js).Scan(&id); err != nil {
		r.t.Fatal(err)
	}
	return id
}

// Area inserts an area of snapshot snap (its level and district from the code's length)
// with a score, a colour and its parts; top lists its contributors (nil for none).
func (r *RiskRows) Area(snap int64, code, colour string, score float64, parts map[string]float64, top []map[string]any) {
	r.t.Helper()
	if parts == nil {
		parts = map[string]float64{}
	}
	if top == nil {
		top = []map[string]any{}
	}
	level := map[int]string{6: "district", 9: "street", 12: "community"}[len(code)]
	if _, err := DB(r.st).Exec(context.Background(), `INSERT INTO risk_areas (snapshot_id, district_code, code, level, score, score_colour, colour, parts, top, counts)
VALUES ($1, left($2, 6), $2, $3, $4, $5, $5, $6, $7, '{}')`, snap, code, level, score, colour, parts, top); err != nil {
		r.t.Fatal(err)
	}
}

// Cell inserts cell h3 of snapshot snap in district and street with a score and a colour.
func (r *RiskRows) Cell(snap int64, h3 int64, district, street, colour string, score float64) {
	r.t.Helper()
	if _, err := DB(r.st).Exec(context.Background(), `INSERT INTO risk_cells (snapshot_id, district_code, h3, street_code, own, spill, score, score_colour, colour, parts, top, geom)
VALUES ($1, $2, $3, $4, $5, 0, $5, $6, $6, '{}', '[]', ST_MakeEnvelope(121.41, 31.11, 121.411, 31.111, 4326))`,
		snap, district, h3, street, score, colour); err != nil {
		r.t.Fatal(err)
	}
}
