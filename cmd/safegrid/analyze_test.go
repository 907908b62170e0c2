package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid/coverage"
	"safegrid/grid/testdb"
)

func TestAnalyzeCommands(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	url := testdb.URL(t, st)
	ctx := context.Background()
	// One station in 黄浦 and two enterprises: one beside it, one 0.1° east (about 9.5 km).
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO fire_stations (code, name, type, status, district_code, h3, geom)
VALUES ('HP01', '黄浦站', '一级普通', 'existing', '310101', 0, ST_SetSRID(ST_MakePoint(121.48, 31.23), 4326))`); err != nil {
		t.Fatal(err)
	}
	for i, p := range []orb.Point{{121.481, 31.231}, {121.58, 31.231}} {
		if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, h3, geom)
VALUES ((area_tag(ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326))).district_code, $3, 'x', '工贸', '重大', $4, ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326))`,
			p[0], p[1], "91310000000000000"+string(rune('1'+i)), int64(geo.PointCell(p, 9))); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	jsonFile, gjFile := filepath.Join(dir, "c.json"), filepath.Join(dir, "c.geojson")
	out, err := run(t, url, "analyze", "coverage", "--resolution", "7", "--json", jsonFile, "--geojson", gjFile)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "overall") || !strings.Contains(out, "1/2 50.0%") || !strings.Contains(out, "黄浦") {
		t.Errorf("output:\n%s", out)
	}
	var res coverage.CoverageResult
	data, err := os.ReadFile(jsonFile)
	if err != nil || json.Unmarshal(data, &res) != nil || res.Overall.Enterprises.Covered != 1 || len(res.Districts) == 0 {
		t.Errorf("json %v: %.300s", err, data)
	}
	if data, err := os.ReadFile(gjFile); err != nil || !strings.Contains(string(data), `"covered": true`) {
		t.Errorf("geojson %v: %.300s", err, data)
	}
	// A what-if station at the far enterprise covers both.
	out, err = run(t, url, "analyze", "coverage", "--resolution", "7", "--add", "121.58,31.231,小型")
	if err != nil || !strings.Contains(out, "2/2 100.0%") {
		t.Errorf("what-if: %v\n%s", err, out)
	}
	if _, err := run(t, url, "analyze", "coverage", "--add", "121.58,31.231"); err == nil {
		t.Error("--add without a type was accepted")
	}

	lp := filepath.Join(dir, "m.lp")
	out, err = run(t, url, "analyze", "siting", "--k", "1", "--candidate-resolution", "7", "--time-limit", "0.1", "--lp", lp)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "MCLP") || !strings.Contains(out, "after 8 (100.00%)") {
		t.Errorf("siting output:\n%s", out)
	}
	if data, err := os.ReadFile(lp); err != nil || !strings.HasPrefix(string(data), "Maximize") {
		t.Errorf("lp %v: %.100s", err, data)
	}
}
