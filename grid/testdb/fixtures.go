package testdb

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/data"
	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/ingest"
)

// TwoStreets is one district (徐汇, a box) cut into two streets, west WestStreet and east
// EastStreet; the west street has two communities (south 310104003001, north
// 310104003002), the east one (310104004001). area_parts is filled as the importer fills
// it, so area_tag works. The hazard lifecycle tests of grid and api share it.
var TwoStreets = &Setup{Name: "two-streets", Load: func(ctx context.Context, st *grid.Store) error {
	for _, q := range []string{
		`INSERT INTO areas (code, name, geom) VALUES
 ('310104', '徐汇区', ST_Multi(ST_MakeEnvelope(121.40, 31.10, 121.50, 31.20, 4326)))`,
		`INSERT INTO areas (code, name, geom) VALUES
 ('310104003', '西街道', ST_Multi(ST_MakeEnvelope(121.40, 31.10, 121.45, 31.20, 4326))),
 ('310104004', '东街道', ST_Multi(ST_MakeEnvelope(121.45, 31.10, 121.50, 31.20, 4326)))`,
		`INSERT INTO areas (code, name, geom) VALUES
 ('310104003001', '南居委', ST_Multi(ST_MakeEnvelope(121.40, 31.10, 121.45, 31.15, 4326))),
 ('310104003002', '北居委', ST_Multi(ST_MakeEnvelope(121.40, 31.15, 121.45, 31.20, 4326))),
 ('310104004001', '东居委', ST_Multi(ST_MakeEnvelope(121.45, 31.10, 121.50, 31.20, 4326)))`,
		`INSERT INTO area_parts (code, level, geom) SELECT code, level, (ST_Dump(ST_Subdivide(geom, 64))).geom FROM areas`,
	} {
		db := DB(st)
		if _, err := db.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}}

// The streets of TwoStreets and a point in each community.
const (
	WestStreet = "310104003"
	EastStreet = "310104004"
)

var (
	WestSouth = orb.Point{121.42, 31.12} // 310104003001
	WestNorth = orb.Point{121.42, 31.18} // 310104003002
	EastPoint = orb.Point{121.47, 31.15} // 310104004001
)

// AddHazard inserts a reported hazard at p, tagged with its areas (area_tag, the write
// path's rule) and its cell, and returns its id.
func AddHazard(t testing.TB, st *grid.Store, level string, p orb.Point) int64 {
	t.Helper()
	var id int64
	err := DB(st).QueryRow(context.Background(), `INSERT INTO hazards (district_code, level, category, description, street_code, community_code, h3, geom)
SELECT a.district_code, $1, '消防', '疏散通道堵塞', a.street_code, a.community_code, $2, q.p
  FROM (SELECT ST_SetSRID(ST_MakePoint($3::float8, $4::float8), 4326) AS p) q, LATERAL area_tag(q.p) a
RETURNING id`, level, int64(geo.PointCell(p, geo.SupervisionRes)), p[0], p[1]).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Areas is a database holding the shipped areas: the 16 real districts and the synthetic
// streets and communities, imported as `safegrid import --kind areas` would.
var Areas = &Setup{Name: "areas", Load: func(ctx context.Context, st *grid.Store) error {
	f, err := data.FS().Open(data.Areas)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = ingest.New(st).Import(ctx, f, ingest.ImportOptions{Kind: "areas", Format: ingest.FormatGeoJSON})
	return err
}}

// Count runs a query that returns one number (a count) on st's database.
func Count(t testing.TB, st *grid.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := DB(st).QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// FC is a GeoJSON FeatureCollection of feats, as an import reads it.
func FC(t testing.TB, feats ...*geojson.Feature) *bytes.Reader {
	t.Helper()
	c := geojson.NewFeatureCollection()
	c.Features = feats
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(data)
}

// Feat is a feature of geometry g with props.
func Feat(g orb.Geometry, props map[string]any) *geojson.Feature {
	f := geojson.NewFeature(g)
	f.Properties = props
	return f
}
