package layers

import (
	"context"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"safegrid/geo"
	"safegrid/grid"
)

func TestCollections(t *testing.T) {
	if len(collections) != 7 {
		t.Fatalf("%d collections", len(collections))
	}
	for _, c := range collections {
		if c.TitleZH == "" || c.TitleEN == "" || c.Kind.Table != c.ID {
			t.Errorf("collection %+v", c)
		}
	}
	if _, err := CollectionByID("areas"); err == nil {
		t.Error("areas is not a feature collection")
	}
}

func TestParseFilter(t *testing.T) {
	ent, _ := CollectionByID("enterprises")
	haz, _ := CollectionByID("hazards")
	for _, tc := range []struct {
		c         *Collection
		name, raw string
		want      any
		err       string
	}{
		{ent, "risk_level", "重大", "重大", ""},
		{ent, "risk_level", "major", "重大", ""},
		{ent, "risk_level", "purple", nil, "one of"},
		{ent, "employees", "12", int64(12), ""},
		{ent, "employees", "x", nil, "integer"},
		{ent, "major_hazard", "true", true, ""},
		{ent, "colour", "red", nil, "not a property"},
		{ent, "geom", "x", nil, "not a property"},
		{haz, "funds", "1.5", 1.5, ""},
		{haz, "deadline", "2026-10-01", "2026-10-01", ""},
		{haz, "reported_at", "2026-10-01", nil, "timestamps"},
		{haz, "status", "上报", "reported", ""},
	} {
		f, err := tc.c.ParseFilter(tc.name, tc.raw)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s=%s: %v, want an error with %q", tc.name, tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || f.Value != tc.want || f.Field != tc.name {
			t.Errorf("%s=%s: %+v %v, want %v", tc.name, tc.raw, f, err, tc.want)
		}
	}
}

func TestWhereBindsEverything(t *testing.T) {
	ent, _ := CollectionByID("enterprises")
	pipe, _ := CollectionByID("pipelines")
	evil := "x' OR '1'='1"
	f, _ := ent.ParseFilter("name", evil)
	for _, tc := range []struct {
		c    *Collection
		p    *grid.Principal
		want string
		args int
	}{
		{ent, &grid.Principal{Role: grid.RoleAdmin}, "true AND t.geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) AND t.\"name\" = $5", 5},
		{ent, &grid.Principal{Role: grid.RoleOfficer, UserID: 7}, "t.h3 IN (SELECT c FROM officer_cells($1) AS c) AND", 6},
		{pipe, &grid.Principal{Role: grid.RoleOfficer, UserID: 7}, "t.h3_cells && ARRAY(SELECT c FROM officer_cells($1) AS c)", 6},
		{ent, &grid.Principal{Role: grid.RoleStreet, StreetCode: "310101001"}, "t.street_code = $1 AND", 6},
		{ent, nil, "false AND", 5},
	} {
		q := FeatureQuery{Principal: tc.p, BBox: &[4]float64{121, 31, 122, 32}}
		if tc.c == ent {
			q.Filters = []Filter{f}
		}
		where, args, err := (&Service{}).where(context.Background(), tc.c, q)
		if err != nil {
			t.Fatal(err)
		}
		if tc.c != ent {
			tc.args--
		}
		if !strings.Contains(where, tc.want) || len(args) != tc.args || strings.Contains(where, evil) {
			t.Errorf("%+v: %s %v", tc.p, where, args)
		}
	}
}

func TestTileMaths(t *testing.T) {
	for _, tc := range []struct {
		z, x, y int
		ok      bool
	}{{0, 0, 0, true}, {0, 1, 0, false}, {14, 16383, 16383, true}, {14, 16384, 0, false}, {-1, 0, 0, false}, {23, 0, 0, false}, {3, 0, -1, false}} {
		if geo.ValidTile(tc.z, tc.x, tc.y) != tc.ok {
			t.Errorf("ValidTile(%d, %d, %d) != %v", tc.z, tc.x, tc.y, tc.ok)
		}
	}
	for z := 0; z < AggregateBelow; z++ {
		r := AggregateRes(z)
		if r < 3 || r > 8 || (z > 0 && r < AggregateRes(z-1)) {
			t.Errorf("AggregateRes(%d) = %d", z, r)
		}
		if m := aggregateMargin(z, r); m <= 0 || m > 0.5 {
			t.Errorf("aggregateMargin(%d, %d) = %v", z, r, m)
		}
	}
}

// Every supervision cell whose hexagon meets a tile is among the tile's candidates, down
// to tiles much smaller than a cell.
func TestCandidateCellsCoverTheTile(t *testing.T) {
	for _, z := range []maptile.Zoom{11, 14, 18, 21} {
		tile := maptile.At(orb.Point{121.4737, 31.2304}, z)
		b := tile.Bound()
		cand := map[int64]bool{}
		for _, c := range candidateCells(b) {
			cand[c] = true
		}
		// Cells meeting the tile: those of points on a fine lattice over it.
		for i := 0; i <= 20; i++ {
			for j := 0; j <= 20; j++ {
				p := orb.Point{b.Min[0] + (b.Max[0]-b.Min[0])*float64(i)/20, b.Min[1] + (b.Max[1]-b.Min[1])*float64(j)/20}
				if c := geo.PointCell(p, geo.SupervisionRes); !cand[int64(c)] {
					t.Fatalf("z%d: cell %s at %v is not a candidate", z, c, p)
				}
			}
		}
		if z == 11 && len(cand) > 20000 {
			t.Errorf("z11: %d candidates", len(cand))
		}
	}
}
