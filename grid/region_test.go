package grid_test

import (
	"context"
	"errors"
	"testing"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/ingest"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// peoplesSquare is in Huangpu, in the middle of the city.
var peoplesSquare = orb.Point{121.4737, 31.2304}

// eastChinaSea is inside Shanghai's bounding box but 12 km off the Nanhui coast.
var eastChinaSea = orb.Point{122.10, 30.95}

func importBox(t *testing.T, st *grid.Store, code, name string, x0, y0, x1, y1 float64) {
	t.Helper()
	box := orb.Polygon{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}
	_, err := ingest.New(st).Import(context.Background(), testdb.FC(t, testdb.Feat(orb.MultiPolygon{box}, map[string]any{"code": code, "name": name})),
		ingest.ImportOptions{Kind: "areas", Format: ingest.FormatGeoJSON})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRegionIsCachedUntilAreasChange(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	region := func(tol float64) interface{ Contains(orb.Point) bool } {
		t.Helper()
		r, err := st.Region(ctx, tol)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	west, east := orb.Point{121.42, 31.15}, orb.Point{121.62, 31.15}
	importBox(t, st, "310104", "徐汇区", 121.40, 31.10, 121.50, 31.20)
	r1 := region(500)
	if r2 := region(500); r2 != r1 {
		t.Error("a second call rebuilt the region")
	}
	if r3 := region(100); r3 == r1 {
		t.Error("another tolerance shares the region")
	}
	if !r1.Contains(west) || r1.Contains(east) {
		t.Fatalf("the region of the first district: west %v, east %v", r1.Contains(west), r1.Contains(east))
	}

	// The district moves east: the import drops the cached region.
	importBox(t, st, "310104", "徐汇区", 121.55, 31.10, 121.65, 31.20)
	r4 := region(500)
	if r4 == r1 || r4.Contains(west) || !r4.Contains(east) {
		t.Errorf("after the import: same region %v, west %v, east %v", r4 == r1, r4.Contains(west), r4.Contains(east))
	}
	if r5 := region(500); r5 != r4 {
		t.Error("the new region is not cached")
	}

	// Another process (the CLI beside a running server) changes the districts: seen too.
	if _, err := testdb.DB(st).Exec(ctx, `UPDATE areas SET geom = ST_Multi(ST_MakeEnvelope(121.40, 31.10, 121.50, 31.20, 4326)), updated_at = now() WHERE code = '310104'`); err != nil {
		t.Fatal(err)
	}
	if r6 := region(500); r6 == r4 || !r6.Contains(west) || r6.Contains(east) {
		t.Errorf("after another process's change: same region %v, west %v, east %v", r6 == r4, r6.Contains(west), r6.Contains(east))
	}
}

func TestReportedLocationInTheSeaIsRefused(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	admin := &grid.Principal{Username: "test-admin", Role: grid.RoleAdmin}
	report := func(p orb.Point) error {
		_, err := supervise.New(st).ReportHazard(ctx, admin, supervise.HazardReport{Level: "一般", Category: "消防", Description: "d", Lon: &p[0], Lat: &p[1]})
		return err
	}
	if !geo.ShanghaiBound().Contains(eastChinaSea) {
		t.Fatal("the test point must be inside Shanghai's bounding box")
	}
	err := report(eastChinaSea)
	var fe *grid.InvalidFieldsError
	if !errors.As(err, &fe) || len(fe.Errors) != 2 || fe.Errors[0].Field != "lon" || fe.Errors[1].Field != "lat" {
		t.Fatalf("a hazard in the sea: %v, want a refusal naming lon and lat", err)
	}
	ins := supervise.InspectionInput{Enterprise: "x", Result: "passed", Lon: &eastChinaSea[0], Lat: &eastChinaSea[1]}
	if _, err := supervise.New(st).RecordInspection(ctx, admin, ins); !errors.As(err, &fe) {
		t.Errorf("an inspection in the sea: %v, want a refusal naming lon and lat", err)
	}
	if err := report(peoplesSquare); err != nil {
		t.Errorf("a hazard on People's Square: %v", err)
	}
}
