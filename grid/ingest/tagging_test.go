package ingest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

func box(x0, y0, x1, y1 float64) orb.Polygon {
	return orb.Polygon{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}
}

// docs/DESIGN.md's rule for district borders: a point in two districts goes to one
// deterministic winner (the smaller code), a point in none to the nearest.
func TestAreaTaggingGapsAndOverlaps(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	areas := testdb.FC(t,
		testdb.Feat(box(121.40, 31.20, 121.45, 31.25), map[string]any{"code": "310104", "name": "甲区"}),
		testdb.Feat(box(121.449, 31.20, 121.50, 31.25), map[string]any{"code": "310101", "name": "乙区"}),
		testdb.Feat(box(121.40, 31.20, 121.45, 31.25), map[string]any{"code": "310104001", "name": "甲街道"}),
	)
	if _, err := ingest.New(st).Import(ctx, areas, ingest.ImportOptions{Kind: "areas", Format: ingest.FormatGeoJSON}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name             string
		p                orb.Point
		district, street string
	}{
		{"inside one", orb.Point{121.42, 31.22}, "310104", "310104001"},
		{"in the overlap", orb.Point{121.4495, 31.22}, "310101", ""},
		{"east of both", orb.Point{121.52, 31.22}, "310101", ""},
		{"west of both", orb.Point{121.38, 31.22}, "310104", "310104001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d string
			var s *string
			err := testdb.DB(st).QueryRow(ctx, `SELECT district_code, street_code FROM area_tag(ST_Point($1, $2, 4326))`, tc.p[0], tc.p[1]).Scan(&d, &s)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if s != nil {
				got = *s
			}
			if d != tc.district || got != tc.street {
				t.Errorf("area_tag = %s/%s, want %s/%s", d, got, tc.district, tc.street)
			}
		})
	}
}

// The in-memory tagging of bulk imports must agree with area_tag, the SQL rule, everywhere:
// on random points and on points a hair's breadth from community borders.
func TestBulkTaggingAgreesWithAreaTag(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	var feats []*geojson.Feature
	add := func(p orb.Point) {
		feats = append(feats, testdb.Feat(p, map[string]any{"code": fmt.Sprintf("HZ-%d", len(feats)), "level": "一般", "category": "用电安全", "description": "测试"}))
	}
	for i := 0; i < 3000; i++ {
		add(orb.Point{121.1 + r.Float64()*0.8, 30.8 + r.Float64()*0.6})
	}
	rows, err := testdb.DB(st).Query(ctx, `SELECT ST_X(p), ST_Y(p) FROM (
		SELECT (ST_DumpPoints(geom)).geom AS p FROM areas WHERE level = 'community' AND code LIKE '3101%') v
		ORDER BY 1, 2 LIMIT 2000`)
	if err != nil {
		t.Fatal(err)
	}
	var x, y float64
	if _, err := pgx.ForEachRow(rows, []any{&x, &y}, func() error {
		d := (r.Float64() - 0.5) * 4e-6
		add(orb.Point{x + d, y - d})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res, err := ingest.New(st).Import(ctx, testdb.FC(t, feats...), ingest.ImportOptions{Kind: "hazards", Format: ingest.FormatGeoJSON, SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted < 3000 {
		t.Fatalf("only %d of %d points inside Shanghai", res.Inserted, len(feats))
	}
	bad := testdb.Count(t, st, `SELECT count(*) FROM hazards h, area_tag(h.geom) t
		WHERE (h.district_code, h.street_code, h.community_code) IS DISTINCT FROM (t.district_code, t.street_code, t.community_code)`)
	if bad != 0 {
		t.Errorf("%d of %d hazards tagged differently from area_tag", bad, res.Inserted)
	}
}
