package ingest

import (
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"safegrid/grid"
)

// readAll decodes every row of a file, as the importer does, without checking them.
func readAll(data string, f Format) ([]RawRow, error) {
	sc, err := newScanner(strings.NewReader(data), f)
	if err != nil {
		return nil, err
	}
	var rows []RawRow
	for {
		c, err := sc.next()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, sc.decode(c))
	}
}

func TestReadGeoJSON(t *testing.T) {
	data := "\ufeff" + `{"type":"FeatureCollection","name":"x","features":[
 {"type":"Feature","properties":{"name":"甲","employees":12},"geometry":{"type":"Point","coordinates":[121.47,31.23]}},
 {"type":"Feature","properties":null,"geometry":{"type":"LineString","coordinates":[[121.4,31.2],[121.5,31.3]]}},
 {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":"oops"}}
],"crs":{"type":"name"}}`
	rows, err := readAll(data, FormatGeoJSON)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want 3", len(rows))
	}
	if p, ok := rows[0].Geom.(orb.Point); !ok || p != (orb.Point{121.47, 31.23}) {
		t.Errorf("row 1 geometry = %v", rows[0].Geom)
	}
	if rows[0].Props["name"] != "甲" || rows[0].Props["employees"] != 12.0 {
		t.Errorf("row 1 props = %v", rows[0].Props)
	}
	if _, ok := rows[1].Geom.(orb.LineString); !ok || rows[1].Props == nil {
		t.Errorf("row 2 = %+v", rows[1])
	}
	if len(rows[2].Problems) != 1 || rows[2].Problems[0].Row != 3 || rows[2].Problems[0].Field != "geometry" {
		t.Errorf("row 3 problems = %+v", rows[2].Problems)
	}
}

func TestReadGeoJSONFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"not an object", `[1,2]`, "does not start with an object"},
		{"a bare feature", `{"type":"Feature","geometry":null}`, `"Feature"; want a FeatureCollection`},
		{"no features", `{"type":"FeatureCollection"}`, `no "features" member`},
		{"features not array", `{"type":"FeatureCollection","features":{}}`, "must be an array"},
		{"truncated", `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{}},{"type":"Fea`, "row 2: malformed JSON"},
		{"garbage in the middle", `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{}} x]}`, "row 2: malformed JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(tc.data, FormatGeoJSON)
			var fe *FileError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a FileError containing %q", err, tc.want)
			}
		})
	}
}

func TestReadCSV(t *testing.T) {
	data := "\ufeffuscc,Name,LNG,lat,employees\n" +
		"A,甲,121.47,31.23,3\n" +
		"B,乙,,,\n" +
		"C,丙,abc,31.2,\n"
	rows, err := readAll(data, FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("got %d rows", len(rows))
	}
	if rows[0].Geom != (orb.Point{121.47, 31.23}) || rows[0].Props["name"] != "甲" || rows[0].Props["employees"] != "3" {
		t.Errorf("row 1 = %+v", rows[0])
	}
	if rows[1].Geom != nil || len(rows[1].Problems) != 0 {
		t.Errorf("row 2 = %+v, want no geometry and no problem yet", rows[1])
	}
	if _, ok := rows[1].Props["employees"]; ok {
		t.Errorf("empty cells must be absent, got %v", rows[1].Props)
	}
	if len(rows[2].Problems) != 1 || rows[2].Problems[0].Field != "lon" {
		t.Errorf("row 3 problems = %+v", rows[2].Problems)
	}

	wkt := "code,wkt\nP1,\"LINESTRING (121.4 31.2, 121.5 31.3)\"\nP2,\"LINESTRING (121.4\"\n"
	rows, err = readAll(wkt, FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rows[0].Geom.(orb.LineString); !ok {
		t.Errorf("wkt row 1 = %v", rows[0].Geom)
	}
	if len(rows[1].Problems) != 1 || rows[1].Problems[0].Field != "wkt" {
		t.Errorf("wkt row 2 problems = %+v", rows[1].Problems)
	}
}

func TestReadCSVFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"empty", "", "needs a header"},
		{"no geometry columns", "name,code\na,b\n", "lon and lat columns"},
		{"duplicate column", "lon,lat,lon\n", "appears twice"},
		{"ragged row", "lon,lat,name\n1,2,a\n1,2\n", "row 2: line 3 has 2 fields"},
		{"bad quote", "lon,lat,name\n1,2,\"a\n", "malformed CSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(tc.data, FormatCSV)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDetectFormat(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		want       Format
	}{
		{"a.geojson", "", FormatGeoJSON},
		{"a.CSV", "{", FormatCSV},
		{"upload", "\ufeff  {\"type\"", FormatGeoJSON},
		{"upload", "lon,lat", FormatCSV},
	} {
		if got := DetectFormat(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("DetectFormat(%q, %q) = %s, want %s", tc.name, tc.head, got, tc.want)
		}
	}
}

// The fuzz targets feed arbitrary bytes through the reader and the checks: nothing may
// panic, every problem names a row in range, and a row is either a record or rejected.
func fuzzRows(t *testing.T, data []byte, f Format) {
	sc, err := newScanner(strings.NewReader(string(data)), f)
	if err != nil {
		return
	}
	k, _ := grid.KindByName("enterprises")
	co := &checkOptions{crs: "wgs84", region: testRegion}
	n := 0
	for {
		c, err := sc.next()
		if err != nil {
			return
		}
		n++
		if c.n != n {
			t.Fatalf("row numbers skip: got %d, want %d", c.n, n)
		}
		raw := sc.decode(c)
		rec, probs := checkRow(k, raw, co)
		if f == FormatGeoJSON {
			// The streaming decoder for a kind must agree with the generic one.
			if fast, ok := decodeFeature(c.raw, c.n, k); ok {
				rec2, probs2 := checkRow(k, fast, co)
				if !sameCheck(rec, probs, rec2, probs2) {
					t.Fatalf("row %d: generic decoder gives %+v %v, streaming %+v %v", n, rec, probs, rec2, probs2)
				}
			}
		}
		for _, p := range probs {
			if p.Row != n || p.Reason == "" {
				t.Fatalf("problem %+v does not name row %d", p, n)
			}
		}
		if len(probs) == 0 && (rec.ewkb == nil || rec.key == "") {
			t.Fatalf("row %d passed without geometry or key: %+v", n, rec)
		}
	}
}

func sameCheck(a record, pa []Rejection, b record, pb []Rejection) bool {
	sortProbs := func(ps []Rejection) []Rejection {
		ps = slices.Clone(ps)
		slices.SortFunc(ps, func(x, y Rejection) int { return strings.Compare(x.String(), y.String()) })
		return ps
	}
	return reflect.DeepEqual(a, b) && slices.Equal(sortProbs(pa), sortProbs(pb))
}

func FuzzReadGeoJSON(f *testing.F) {
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"uscc":"91350100M000100Y43","name":"a","industry":"工贸","risk_level":"低"},"geometry":{"type":"Point","coordinates":[121.47,31.23]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[121.4,31.2],[121.5,31.3],[121.5,31.2],[121.4,31.3],[121.4,31.2]]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[121.4,31.2],[121.5,31.3],[121.6,31.25,3]]}},{"type":"Feature","properties":{},"geometry":{"type":"MultiLineString","coordinates":[[[121.4,31.2],[121.5,31.3]],[]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"MultiPolygon","coordinates":[[[[121.4,31.2],[121.5,31.3],[121.5,31.2],[121.4,31.2]]],[[[121.6,31.2],[121.7,31.3],[121.7,31.2],[121.6,31.2]],[[121.65,31.22],[121.66,31.23],[121.66,31.22],[121.65,31.22]]]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[null, 1, "x"]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"geometry":{"coordinates":[121.47,31.23],"type":"Point"},"type":"Feature","id":7,"properties":{"uscc":"91350100M000100Y43","name":" a ","industry":"other","risk_level":"LOW","major_hazard":"是","employees":"12","address":null,"extra":[1],"x":1,"x":2}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"uscc":1e400,"name":true,"employees":-1.5},"geometry":{"type":"Point","coordinates":[121.47,31.23,5]}},{"type":"Feature","Type":"x","properties":{},"geometry":null},{"type":"Feature","properties":{"name":"a","zz":1},"properties":null,"geometry":{"type":"Point","coordinates":[121.47,31.23]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRows(t, data, FormatGeoJSON) })
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("uscc,name,industry,risk_level,lon,lat\n91350100M000100Y43,a,工贸,低,121.47,31.23\n"))
	f.Add([]byte("code,wkt\n1,\"POLYGON ((121.4 31.2, 121.5 31.2, 121.5 31.3, 121.4 31.2))\"\n"))
	f.Add([]byte("lon,lat\n31.23,121.47\nNaN,Inf\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRows(t, data, FormatCSV) })
}
