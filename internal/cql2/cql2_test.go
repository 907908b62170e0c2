package cql2

import (
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// Each filter in text and in JSON gives the same tree, written back as want.
func TestTextAndJSON(t *testing.T) {
	for _, tc := range []struct{ text, json, want string }{
		{`risk_level='重大'`, `{"op":"=","args":[{"property":"risk_level"},"重大"]}`, `"risk_level" = '重大'`},
		{`a = 1 AND b > 2.5 AND c <> 'x'`, `{"op":"and","args":[{"op":"=","args":[{"property":"a"},1]},{"op":">","args":[{"property":"b"},2.5]},{"op":"<>","args":[{"property":"c"},"x"]}]}`,
			`("a" = 1 AND "b" > 2.5 AND "c" <> 'x')`},
		{`a < 1 OR b <= -2 OR NOT c >= 3e2`, `{"op":"or","args":[{"op":"<","args":[{"property":"a"},1]},{"op":"<=","args":[{"property":"b"},-2]},{"op":"not","args":[{"op":">=","args":[{"property":"c"},300]}]}]}`,
			`("a" < 1 OR "b" <= -2 OR NOT ("c" >= 300))`},
		{`a = 1 OR b = 2 AND c = 3`, `{"op":"or","args":[{"op":"=","args":[{"property":"a"},1]},{"op":"and","args":[{"op":"=","args":[{"property":"b"},2]},{"op":"=","args":[{"property":"c"},3]}]}]}`,
			`("a" = 1 OR ("b" = 2 AND "c" = 3))`},
		{`name LIKE '测试%'`, `{"op":"like","args":[{"property":"name"},"测试%"]}`, `"name" LIKE '测试%'`},
		{`n BETWEEN 1 AND 10`, `{"op":"between","args":[{"property":"n"},1,10]}`, `"n" BETWEEN 1 AND 10`},
		{`s IN ('a', 'b''c')`, `{"op":"in","args":[{"property":"s"},["a","b'c"]]}`, `"s" IN ('a', 'b''c')`},
		{`x IS NULL`, `{"op":"isNull","args":[{"property":"x"}]}`, `"x" IS NULL`},
		{`flag = TRUE`, `{"op":"=","args":[{"property":"flag"},true]}`, `"flag" = TRUE`},
		{`t > TIMESTAMP('2026-11-01T08:00:00+08:00')`, `{"op":">","args":[{"property":"t"},{"timestamp":"2026-11-01T00:00:00Z"}]}`, `"t" > TIMESTAMP('2026-11-01T00:00:00Z')`},
		{`d <= DATE('2026-02-28')`, `{"op":"<=","args":[{"property":"d"},{"date":"2026-02-28"}]}`, `"d" <= DATE('2026-02-28')`},
		{`S_INTERSECTS(geom, POINT(121.5 31.2))`, `{"op":"s_intersects","args":[{"property":"geom"},{"type":"Point","coordinates":[121.5,31.2]}]}`, `S_INTERSECTS("geom", POINT(121.5 31.2))`},
		{`s_within(geom, BBOX(121, 31, 122, 32))`, `{"op":"s_within","args":[{"property":"geom"},{"bbox":[121,31,122,32]}]}`, `S_WITHIN("geom", BBOX(121, 31, 122, 32))`},
		{`S_CONTAINS(POLYGON((0 0, 1 0, 1 1, 0 0)), geom)`, `{"op":"s_contains","args":[{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]},{"property":"geom"}]}`,
			`S_CONTAINS(POLYGON((0 0,1 0,1 1,0 0)), "geom")`},
		{`S_CROSSES(geom, LINESTRING(0 0, 1 1))`, `{"op":"s_crosses","args":[{"property":"geom"},{"type":"LineString","coordinates":[[0,0],[1,1]]}]}`, `S_CROSSES("geom", LINESTRING(0 0,1 1))`},
		{`S_DISJOINT(geom, MULTIPOINT((0 0), (1 1)))`, `{"op":"s_disjoint","args":[{"property":"geom"},{"type":"MultiPoint","coordinates":[[0,0],[1,1]]}]}`, `S_DISJOINT("geom", MULTIPOINT((0 0),(1 1)))`},
	} {
		a, err := ParseText(tc.text)
		if err != nil {
			t.Errorf("text %s: %v", tc.text, err)
			continue
		}
		b, err := ParseJSON([]byte(tc.json))
		if err != nil {
			t.Errorf("json %s: %v", tc.json, err)
			continue
		}
		if Format(a) != tc.want || Format(b) != tc.want {
			t.Errorf("%s\n text → %s\n json → %s\n want   %s", tc.text, Format(a), Format(b), tc.want)
		}
		again, err := ParseText(Format(a))
		if err != nil || Format(again) != tc.want {
			t.Errorf("round trip of %s: %v %v", tc.want, again, err)
		}
	}
}

func TestTextDetails(t *testing.T) {
	e, err := ParseText(`  "risk_level" NOT IN ('低') AND NOT NOT x IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	and := e.(*And)
	in := and.Args[0].(*In)
	if !in.Not || in.Value.(*Property).Name != "risk_level" || in.At != 2 || in.Value.Pos() != 2 {
		t.Errorf("in: %+v", in)
	}
	n := and.Args[1].(*Not)
	if n.At != 34 || !n.Arg.(*Not).Arg.(*IsNull).Not {
		t.Errorf("not: %+v", n)
	}
	ts, err := ParseText(`t = TIMESTAMP('2026-11-01T08:00:00.5+08:00')`)
	if err != nil || !ts.(*Compare).Right.(*Timestamp).Value.Equal(time.Date(2026, 11, 1, 0, 0, 0, 5e8, time.UTC)) {
		t.Errorf("timestamp: %v %v", ts, err)
	}
	num, _ := ParseText(`x = -1.5e3`)
	if r := num.(*Compare).Right.(*Number); r.Value != -1500 || r.Raw != "-1.5e3" {
		t.Errorf("number: %+v", r)
	}
	g, err := ParseText(`S_INTERSECTS(geom, MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((2 2, 3 2, 3 3, 2 2), (2.1 2.1, 2.2 2.1, 2.2 2.2, 2.1 2.1))))`)
	if err != nil {
		t.Fatal(err)
	}
	if mp, ok := g.(*Spatial).Right.(*Geometry).Geom.(orb.MultiPolygon); !ok || len(mp) != 2 || len(mp[1]) != 2 || mp[1][1][2] != (orb.Point{2.2, 2.2}) {
		t.Errorf("multipolygon: %#v", g.(*Spatial).Right)
	}
	gc, err := ParseText(`S_INTERSECTS(geom, GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(1 2, 3 4)))`)
	if c, ok := gc.(*Spatial).Right.(*Geometry).Geom.(orb.Collection); err != nil || !ok || len(c) != 2 {
		t.Errorf("collection: %v %v", gc, err)
	}
}

// Errors name the byte position (text) or the path (JSON) of what is wrong.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		text string
		pos  int
		msg  string
	}{
		{"", 0, "empty"},
		{"risk_level = ", 13, "expected a property or a value"},
		{"a = 'x' AND", 11, "expected a property or a value"},
		{"a == 1", 2, "expected a comparison"},
		{"a = 1 b", 6, "unexpected 'b'"},
		{"(a = 1", 6, "expected ')'"},
		{"a = 1)", 5, "unexpected ')'"},
		{"a", 1, "expected a comparison"},
		{"CASEI(name) = 'x'", 0, "function CASEI is not supported"},
		{"T_AFTER(t, TIMESTAMP('2026-01-01T00:00:00Z'))", 0, "function T_AFTER is not supported"},
		{"a = 'open", 4, "not closed"},
		{"a = 1 + 2", 6, "unexpected '+'"},
		{"a NOT = 1", 6, "expected LIKE, BETWEEN or IN"},
		{"a BETWEEN 1 OR 2", 12, "expected AND in BETWEEN"},
		{"a IN ()", 6, "expected a property or a value"},
		{"a IS 1", 5, "expected NULL"},
		{"a = AND", 4, "expected a property or a value"},
		{"t > TIMESTAMP('2026-13-01T00:00:00Z')", 14, "not a timestamp"},
		{"t > TIMESTAMP('2026-11-01T00:00:00')", 14, "not a timestamp"},
		{"d = DATE('2026-02-30')", 9, "not a date"},
		{"x = 1e999", 4, "not a number"},
		{"x = 1.2.3", 4, "not a number"},
		{"S_INTERSECTS(geom)", 17, "expected ','"},
		{"S_INTERSECTS(geom, POINT(1 2 3))", 29, "3D"},
		{"S_INTERSECTS(geom, POINT Z(1 2 3))", 25, "3D"},
		{"S_INTERSECTS(geom, BBOX(1, 2, 3))", 19, "BBOX takes 4 numbers"},
		{"S_INTERSECTS(geom, BBOX(3, 2, 1, 4))", 19, "min before max"},
		{"S_INTERSECTS(geom, POLYGON((0 0, 1 1)", 37, "expected ','"},
		{"S_INTERSECTS(geom, 'x')", 19, "expected a property or a geometry"},
		{"a = POINT(1 2)", 4, "geometries go in the spatial functions"},
		{"a = 'x\x00'", 6, "NUL"},
		{"a = '\xff'", 5, "invalid UTF-8"},
		{"a = 1 ; DROP TABLE x", 6, "unexpected"},
		{strings.Repeat("(", 65) + "a = 1" + strings.Repeat(")", 65), 64, "deeper than 64"},
		{strings.Repeat("NOT ", 65) + "a = 1", 256, "deeper than 64"},
	} {
		_, err := ParseText(tc.text)
		e, ok := err.(*Error)
		if !ok || e.Pos != tc.pos || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%.60q: %v, want position %d: %s", tc.text, err, tc.pos, tc.msg)
		}
	}
	for _, tc := range []struct{ json, path, msg string }{
		{`{"op":"=","args":[`, "", "not JSON"},
		{`{"op":"=","args":[{"property":"a"},1]} 2`, "", "more than one"},
		{`"x"`, "/", "expected a condition"},
		{`{"op":"frobnicate","args":[]}`, "/op", "not supported"},
		{`{"op":"=","args":[1]}`, "/args", "takes 2 arguments"},
		{`{"op":"and","args":[{"op":"=","args":[{"property":"a"},1]}]}`, "/args", "2 or more"},
		{`{"op":"and","args":[{"op":"=","args":[{"property":"a"},1]},{"op":"=","args":[{"propertee":"b"},1]}]}`, "/args/1/args/0", "unknown member"},
		{`{"op":"=","args":[{"property":"a"},1],"x":1}`, "/", "unknown member"},
		{`{"op":"in","args":[{"property":"a"},[]]}`, "/args/1", "non-empty"},
		{`{"op":">","args":[{"property":"t"},{"timestamp":"yesterday"}]}`, "/args/1/timestamp", "not a timestamp"},
		{`{"op":"s_intersects","args":[{"property":"geom"},{"type":"Point","coordinates":[1,2,3]}]}`, "/args/1/coordinates", "3D"},
		{`{"op":"s_intersects","args":[{"property":"geom"},{"type":"Blob","coordinates":[1,2]}]}`, "/args/1", "not a GeoJSON geometry"},
		{`{"op":"s_intersects","args":[{"property":"geom"},{"bbox":[3,2,1,4]}]}`, "/args/1/bbox", "min before max"},
		{`{"op":"=","args":[{"property":"a"},1e999]}`, "/args/1", "not a number"},
		{`{"op":"not","args":[true]}`, "/args/0", "expected a condition"},
		{`{"op":"=","args":[{"op":"=","args":[1,1]},1]}`, "/args/0", "not a value"},
		{strings.Repeat(`{"op":"not","args":[`, 70) + `{"op":"=","args":[{"property":"a"},1]}` + strings.Repeat(`]}`, 70), "/args/0/args/0", "deeper"},
	} {
		_, err := ParseJSON([]byte(tc.json))
		e, ok := err.(*Error)
		if !ok || !strings.HasPrefix(e.Path, tc.path) || !strings.Contains(e.Msg, tc.msg) || e.Pos != -1 {
			t.Errorf("%.80s: %v, want %s: %s", tc.json, err, tc.path, tc.msg)
		}
	}
}

// A long filter parses in linear time (a district's boundary is thousands of points).
func TestLongFilter(t *testing.T) {
	var b strings.Builder
	b.WriteString("S_INTERSECTS(geom, POLYGON((")
	for i := range 20000 {
		b.WriteString("121.12345 31.12345, ")
		_ = i
	}
	b.WriteString("121.12345 31.12345)))")
	start := time.Now()
	if _, err := ParseText(b.String()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a %d-byte filter took %v", b.Len(), d)
	}
}

// Whatever parses writes back to text that parses to the same tree; nothing panics.
func FuzzParseText(f *testing.F) {
	for _, s := range []string{
		`risk_level='重大' AND employees > 100`, `NOT (a BETWEEN 1 AND 2) OR b IN ('x', 'y')`, `c LIKE 'a%' AND d IS NOT NULL`,
		`S_INTERSECTS(geom, POLYGON((0 0, 1 0, 1 1, 0 0)))`, `S_WITHIN(geom, BBOX(1, 2, 3, 4))`, `t > TIMESTAMP('2026-11-01T00:00:00Z')`,
		`"quoted" = -1.5e3`, `S_INTERSECTS(geom, GEOMETRYCOLLECTION(POINT(1 2), MULTILINESTRING((1 2, 3 4))))`, `(((a = 1)))`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseText(s)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: %T %v", s, err, err)
			}
			return
		}
		out := Format(e)
		again, err := ParseText(out)
		if err != nil || Format(again) != out {
			t.Fatalf("%q → %q → %v", s, out, err)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"op":"and","args":[{"op":"=","args":[{"property":"a"},"x"]},{"op":"in","args":[{"property":"b"},[1,2]]}]}`,
		`{"op":"s_intersects","args":[{"property":"geom"},{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}]}`,
		`{"op":"between","args":[{"property":"n"},1,{"property":"m"}]}`, `{"op":"isNull","args":[{"property":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseJSON(b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: %T %v", b, err, err)
			}
			return
		}
		out := Format(e)
		again, err := ParseText(out)
		if err != nil || Format(again) != out {
			t.Fatalf("%q → %q → %v", b, out, err)
		}
	})
}
