package supervise_test

import (
	"context"
	"errors"
	"testing"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// TestReportHazardWithoutAreaParts: a point no area part covers still gets a district,
// from its grid cell, and the street list and summary see nothing of it.
func TestReportHazardWithoutAreaParts(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := testdb.DB(st).Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO areas (code, name, geom) VALUES ('310101', '黄浦区', ST_Multi(ST_MakeEnvelope(121.4, 31.18, 121.55, 31.28, 4326))),
		('310101001', '甲街道', ST_Multi(ST_MakeEnvelope(121.4, 31.18, 121.55, 31.28, 4326)))`)
	id, err := st.AddUser(ctx, "test", grid.User{Username: "off", Role: grid.RoleOfficer}, "password-off")
	if err != nil {
		t.Fatal(err)
	}
	p := &grid.Principal{UserID: id, Username: "off", Role: grid.RoleOfficer}
	pt := orb.Point{121.45, 31.20}
	cell := geo.PointCell(pt, 9)
	exec(`INSERT INTO grid_units (code, name, street_code, officer_id) VALUES ('U1', 'u', '310101001', $1)`, id)
	exec(`INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ('310101', $1, 'U1')`, int64(cell))

	lon, lat := pt[0], pt[1]
	h, err := supervise.New(st).ReportHazard(ctx, p, supervise.HazardReport{Level: "一般", Category: "c", Description: "d", Lon: &lon, Lat: &lat})
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != "reported" || h.CommunityCode != nil || h.Overdue || h.Deadline != nil {
		t.Errorf("hazard %+v", h)
	}
	var district string
	if err := testdb.DB(st).QueryRow(ctx, `SELECT district_code FROM hazards WHERE id = $1`, h.ID).Scan(&district); err != nil || district != "310101" {
		t.Errorf("district %q, %v", district, err)
	}

	cc, err := supervise.New(st).Cell(ctx, int64(cell))
	if err != nil || len(cc.Hazards) != 1 || *cc.UnitCode != "U1" {
		t.Errorf("cell %+v, %v", cc, err)
	}
	sums, err := supervise.New(st).OfficerCellSummaries(ctx, id)
	if err != nil || len(sums) != 1 || sums[0].Cell != cell || sums[0].OpenHazards["一般"] != 1 {
		t.Errorf("summaries %+v, %v", sums, err)
	}

	// Outside the officer's cells: ErrForbidden, nothing written.
	other := h3.Cell(cell).GridDisk(2)[len(h3.Cell(cell).GridDisk(2))-1]
	ll := h3.CellToLatLng(other)
	lon, lat = ll.Lng, ll.Lat
	if _, err := supervise.New(st).ReportHazard(ctx, p, supervise.HazardReport{Level: "一般", Category: "c", Description: "d", Lon: &lon, Lat: &lat}); !errors.Is(err, grid.ErrForbidden) {
		t.Errorf("outside: %v", err)
	}
	// No street tag: the street's list and summary are empty.
	items, total, err := supervise.New(st).StreetHazards(ctx, supervise.StreetHazardFilter{Street: "310101001", Limit: 10})
	if err != nil || total != 0 || len(items) != 0 {
		t.Errorf("street list %v %d %v", items, total, err)
	}
	sum, err := supervise.New(st).StreetSummary(ctx, "310101001")
	if err != nil || len(sum.Communities) != 0 || sum.Total.Hazards != 0 || sum.Total.RectificationRate != nil {
		t.Errorf("summary %+v, %v", sum, err)
	}
	if _, err := supervise.New(st).StreetSummary(ctx, "310101009"); !errors.As(err, new(*grid.NotFoundError)) {
		t.Errorf("unknown street: %v", err)
	}
}
