package ingest

import (
	"os"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/geo"
	"safegrid/grid"
)

var testRegion = geo.BoundRegion(geo.ShanghaiBound())

// districtRegion is Shanghai as the shipped district polygons draw it.
func districtRegion(t *testing.T) *geo.Region {
	t.Helper()
	data, err := os.ReadFile("../../data/shanghai-districts.geojson")
	if err != nil {
		t.Fatal(err)
	}
	fc, err := geojson.UnmarshalFeatureCollection(data)
	if err != nil {
		t.Fatal(err)
	}
	var mps []orb.MultiPolygon
	for _, f := range fc.Features {
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			mps = append(mps, orb.MultiPolygon{g})
		case orb.MultiPolygon:
			mps = append(mps, g)
		}
	}
	return geo.NewRegion(mps, 500)
}

// validUSCC builds a code with a correct check digit for the test rows.
func validUSCC(t *testing.T, body17 string) string {
	c, err := geo.USCCCheckChar(body17)
	if err != nil {
		t.Fatal(err)
	}
	return body17 + string(c)
}

func TestCheckRow(t *testing.T) {
	region := districtRegion(t)
	ent, _ := grid.KindByName("enterprises")
	good := func() map[string]any {
		return map[string]any{"uscc": validUSCC(t, "91310101MA1FL8XQ3"), "name": "上海甲公司", "industry": "工贸", "risk_level": "一般", "employees": 12.0}
	}
	square := func(x, y, d float64) orb.Polygon {
		return orb.Polygon{{{x, y}, {x + d, y}, {x + d, y + d}, {x, y + d}, {x, y}}}
	}
	bowtie := orb.Polygon{{{121.40, 31.20}, {121.41, 31.21}, {121.41, 31.20}, {121.40, 31.21}, {121.40, 31.20}}}
	peoplesSquare := orb.Point{121.4737, 31.2304}

	for _, tc := range []struct {
		name  string
		kind  string
		props func(map[string]any)
		geom  orb.Geometry
		crs   geo.CRS
		field string // "" means the row passes
		want  string
	}{
		{name: "good", geom: peoplesSquare},
		{name: "alias enum", props: func(p map[string]any) { p["risk_level"] = "red" }, geom: peoplesSquare},
		{name: "numbers as text", props: func(p map[string]any) { p["employees"] = "40" }, geom: peoplesSquare},
		{name: "missing required", props: func(p map[string]any) { delete(p, "name") }, geom: peoplesSquare, field: "name", want: "required"},
		{name: "unknown enum", props: func(p map[string]any) { p["industry"] = "餐饮" }, geom: peoplesSquare, field: "industry", want: `"餐饮" is not one of`},
		{name: "bad USCC check digit", props: func(p map[string]any) {
			s := validUSCC(t, "91310101MA1FL8XQ3")
			wrong := byte('0')
			if s[17] == '0' {
				wrong = '1'
			}
			p["uscc"] = s[:17] + string(wrong)
		}, geom: peoplesSquare, field: "uscc", want: "check"},
		{name: "short USCC", props: func(p map[string]any) { p["uscc"] = "9131" }, geom: peoplesSquare, field: "uscc"},
		{name: "wrong type", props: func(p map[string]any) { p["employees"] = "many" }, geom: peoplesSquare, field: "employees", want: "not a number"},
		{name: "fraction for integer", props: func(p map[string]any) { p["employees"] = 1.5 }, geom: peoplesSquare, field: "employees", want: "whole number"},
		{name: "negative", props: func(p map[string]any) { p["employees"] = -1.0 }, geom: peoplesSquare, field: "employees", want: "below"},
		{name: "boolean for text", props: func(p map[string]any) { p["name"] = true }, geom: peoplesSquare, field: "name", want: "wrong type"},
		{name: "unknown field", props: func(p map[string]any) { p["colour"] = "red" }, geom: peoplesSquare, field: "colour", want: "unknown field"},
		{name: "missing geometry", geom: nil, field: "geometry", want: "missing"},
		{name: "wrong geometry type", geom: orb.LineString{{121.4, 31.2}, {121.5, 31.3}}, field: "geometry", want: "LineString is not allowed for enterprises"},
		{name: "swapped lat/lon", geom: orb.Point{31.2304, 121.4737}, field: "geometry", want: "swap"},
		{name: "in the sea off Shanghai", geom: orb.Point{122.40, 30.90}, field: "geometry", want: "outside"},
		{name: "out of range", geom: orb.Point{200, 31}, field: "geometry"},
		{name: "GCJ-02 converted", geom: geo.FromWGS84(geo.GCJ02, peoplesSquare), crs: geo.GCJ02},
		{name: "self-intersecting polygon", kind: "underground_spaces", geom: bowtie, field: "geometry", want: "crosses itself"},
		{name: "small polygon", kind: "underground_spaces", geom: square(121.47, 31.23, 0.0003)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := ent
			props := good()
			if tc.kind != "" {
				k, _ = grid.KindByName(tc.kind)
				props = map[string]any{"code": "U1", "use": "地下车库"}
			}
			if tc.props != nil {
				tc.props(props)
			}
			crs := tc.crs
			if crs == "" {
				crs = geo.WGS84
			}
			rec, probs := checkRow(k, RawRow{N: 7, Props: props, Geom: tc.geom}, &checkOptions{crs: crs, region: region})
			if tc.field == "" {
				if len(probs) > 0 {
					t.Fatalf("unexpected problems: %v", probs)
				}
				if rec.ewkb == nil || rec.h3 == 0 {
					t.Fatalf("record without geometry or cell: %+v", rec)
				}
				if tc.crs == geo.GCJ02 && geo.PointCell(rec.rep, 9) != geo.PointCell(peoplesSquare, 9) {
					t.Errorf("GCJ-02 point was not converted back to WGS84: %v", rec.rep)
				}
				return
			}
			for _, p := range probs {
				if p.Row == 7 && p.Field == tc.field && strings.Contains(p.Reason, tc.want) {
					return
				}
			}
			t.Fatalf("problems %v: want row 7, field %q, containing %q", probs, tc.field, tc.want)
		})
	}
}

func TestCheckRowRepair(t *testing.T) {
	k, _ := grid.KindByName("underground_spaces")
	bowtie := orb.Polygon{{{121.40, 31.20}, {121.41, 31.21}, {121.41, 31.20}, {121.40, 31.21}, {121.40, 31.20}}}
	row := RawRow{N: 1, Props: map[string]any{"code": "U1", "use": "地下车库"}, Geom: bowtie}
	if _, probs := checkRow(k, row, &checkOptions{crs: geo.WGS84, region: testRegion}); len(probs) == 0 {
		t.Fatal("a bow-tie passed without --repair")
	}
	rec, probs := checkRow(k, row, &checkOptions{crs: geo.WGS84, region: testRegion, repair: true})
	if len(probs) > 0 || !rec.repair {
		t.Fatalf("with repair: problems %v, repair flag %v", probs, rec.repair)
	}
}
