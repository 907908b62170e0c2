package supervise_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// checkinFixture is TwoStreets with an officer whose one unit holds the cell of
// testdb.WestSouth, and one enterprise there; a second officer has no cells.
type checkinFixture struct {
	st     *grid.Store
	off    *grid.Principal
	other  *grid.Principal
	ent    orb.Point
	uscc   string
	cellID int64
}

func newCheckinFixture(t *testing.T) *checkinFixture {
	t.Helper()
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	db := testdb.DB(st)
	f := &checkinFixture{st: st, ent: testdb.WestSouth, uscc: "91310104MA1FL0001X"}
	var offID, otherID int64
	if err := db.QueryRow(ctx, `INSERT INTO users (username, role, password_hash) VALUES ('off', 'officer', 'x') RETURNING id`).Scan(&offID); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `INSERT INTO users (username, role, password_hash) VALUES ('off2', 'officer', 'x') RETURNING id`).Scan(&otherID); err != nil {
		t.Fatal(err)
	}
	f.off = &grid.Principal{UserID: offID, Username: "off", Role: grid.RoleOfficer}
	f.other = &grid.Principal{UserID: otherID, Username: "off2", Role: grid.RoleOfficer}
	f.cellID = int64(geo.PointCell(f.ent, geo.SupervisionRes))
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO grid_units (code, name, street_code, officer_id) VALUES ('U1', '西一网格', $1, $2)`, []any{testdb.WestStreet, offID}},
		{`INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ('310104', $1, 'U1')`, []any{f.cellID}},
		{`INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, street_code, community_code, h3, geom)
			SELECT t.district_code, $3, '测试企业', '工贸', '重大', t.street_code, t.community_code, $4, g.p
			FROM (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS p) g, LATERAL area_tag(g.p) t`,
			[]any{f.ent[0], f.ent[1], f.uscc, f.cellID}},
	} {
		if _, err := db.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	return f
}

// offset returns the point dx metres east and dy metres north of p (local flat earth).
func offset(p orb.Point, dx, dy float64) orb.Point {
	const r = 6371008.8
	return orb.Point{p[0] + dx/(r*math.Cos(p[1]*math.Pi/180))*180/math.Pi, p[1] + dy/r*180/math.Pi}
}

func pos(p orb.Point, acc float64) *supervise.Position {
	return &supervise.Position{Lon: &p[0], Lat: &p[1], AccuracyM: &acc}
}

func (f *checkinFixture) record(t *testing.T, svc *supervise.Service, p *grid.Principal, position *supervise.Position) (*supervise.Inspection, error) {
	t.Helper()
	return svc.RecordInspection(context.Background(), p, supervise.InspectionInput{
		Enterprise: f.uscc, Result: "passed", Lon: &f.ent[0], Lat: &f.ent[1], Position: position})
}

// The distance is the geodesic one, stored with the position and accuracy; the verdict
// follows the limits exactly at their edges; without a position the inspection is unlocated.
func TestInspectionCheckin(t *testing.T) {
	f := newCheckinFixture(t)
	svc := supervise.New(f.st)
	ctx := context.Background()

	phone := offset(f.ent, 30, 40) // 50 m away
	in, err := f.record(t, svc, f.off, pos(phone, 12))
	if err != nil {
		t.Fatal(err)
	}
	c := in.Checkin
	if c.Status != supervise.CheckinLocated || c.DistanceM == nil || math.Abs(*c.DistanceM-50) > 0.5 ||
		c.AccuracyM == nil || *c.AccuracyM != 12 || c.Position == nil || math.Abs(c.Position.Lon-phone[0]) > 1e-9 {
		t.Fatalf("50 m away, accuracy 12 m: %+v", c)
	}
	// Against PostGIS's own geodesic in UTM 51N metres (the table's metric column).
	var utm float64
	if err := testdb.DB(f.st).QueryRow(ctx, `SELECT ST_Distance(ST_Transform(i.checkin_geom, 32651), e.geom_m) FROM inspections i
		JOIN enterprises e ON e.district_code = i.district_code AND e.id = i.enterprise_id WHERE i.id = $1`, in.ID).Scan(&utm); err != nil {
		t.Fatal(err)
	}
	if math.Abs(utm-*c.DistanceM) > 0.1 {
		t.Errorf("distance %v, UTM says %v", *c.DistanceM, utm)
	}

	// The limits at their edges: exactly the limit is still within it.
	far := offset(f.ent, 0, 300)
	in, err = f.record(t, svc, f.off, pos(far, 5))
	if err != nil || in.Checkin.Status != supervise.CheckinFar {
		t.Fatalf("300 m away: %+v, %v", in, err)
	}
	d := *in.Checkin.DistanceM
	for _, tc := range []struct {
		maxD, maxA, acc float64
		want            string
	}{
		{d + 0.5, 100, 5, supervise.CheckinLocated},
		{d - 0.5, 100, 5, supervise.CheckinFar},
		{d + 0.5, 100, 100, supervise.CheckinLocated}, // accuracy at the limit
		{d + 0.5, 100, 100.5, supervise.CheckinInaccurate},
		{d - 0.5, 100, 500, supervise.CheckinFar}, // far wins over inaccurate
	} {
		svc.Checkin = supervise.CheckinLimits{MaxDistanceM: tc.maxD, MaxAccuracyM: tc.maxA}
		in, err := f.record(t, svc, f.off, pos(far, tc.acc))
		if err != nil || in.Checkin.Status != tc.want {
			t.Errorf("limits %v/%v, accuracy %v: %+v, %v; want %s", tc.maxD, tc.maxA, tc.acc, in, err, tc.want)
		}
	}
	svc.Checkin = supervise.DefaultCheckinLimits()

	in, err = f.record(t, svc, f.off, nil)
	if err != nil || in.Checkin.Status != supervise.CheckinUnlocated || in.Checkin.Position != nil || in.Checkin.DistanceM != nil || in.Checkin.AccuracyM != nil {
		t.Fatalf("no position: %+v, %v", in, err)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM inspections WHERE checkin = 'unlocated' AND checkin_geom IS NULL AND checkin_distance_m IS NULL AND checkin_accuracy_m IS NULL`); n != 1 {
		t.Errorf("%d unlocated rows", n)
	}
	// Audited with the verdict.
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM audit_log WHERE action = 'inspection' AND details->>'checkin' = 'far' AND (details->>'checkin_distance_m')::float8 > 290`); n != 3 {
		t.Errorf("%d audited far check-ins, want 3", n)
	}

	// The officer's own list shows them, newest first, filtered by verdict; another officer's is empty.
	items, total, err := svc.MyInspections(ctx, f.off.UserID, "", 100, 0)
	if err != nil || total != 8 || len(items) != 8 || items[0].Checkin.Status != supervise.CheckinUnlocated || items[0].Name != "测试企业" {
		t.Fatalf("my inspections: %d of %d, %v", len(items), total, err)
	}
	if items, total, _ := svc.MyInspections(ctx, f.off.UserID, "far", 1, 1); total != 3 || len(items) != 1 || items[0].Checkin.Status != "far" {
		t.Errorf("far, second page: %+v of %d", items, total)
	}
	if _, total, _ := svc.MyInspections(ctx, f.other.UserID, "", 100, 0); total != 0 {
		t.Errorf("another officer sees %d", total)
	}
	var inv *grid.InvalidError
	if _, _, err := svc.MyInspections(ctx, f.off.UserID, "near", 100, 0); !errors.As(err, &inv) || inv.Field != "checkin" {
		t.Errorf("bad verdict filter: %v", err)
	}
}

// Bad positions are refused naming the field, and nothing is written.
func TestInspectionCheckinBadPosition(t *testing.T) {
	f := newCheckinFixture(t)
	svc := supervise.New(f.st)
	lon, lat := f.ent[0], f.ent[1]
	num := func(x float64) *float64 { return &x }
	for _, tc := range []struct {
		name  string
		p     *supervise.Position
		field string
	}{
		{"outside Shanghai (Suzhou)", &supervise.Position{Lon: num(120.62), Lat: num(31.32), AccuracyM: num(10)}, "position.lon"},
		{"in the sea", &supervise.Position{Lon: num(122.6), Lat: num(30.6), AccuracyM: num(10)}, "position.lon"},
		{"swapped", &supervise.Position{Lon: &lat, Lat: &lon, AccuracyM: num(10)}, "position.lat"},
		{"lon without lat", &supervise.Position{Lon: &lon, AccuracyM: num(10)}, "position.lat"},
		{"lat without lon", &supervise.Position{Lat: &lat, AccuracyM: num(10)}, "position.lon"},
		{"no accuracy", &supervise.Position{Lon: &lon, Lat: &lat}, "position.accuracy_m"},
		{"zero accuracy", &supervise.Position{Lon: &lon, Lat: &lat, AccuracyM: num(0)}, "position.accuracy_m"},
		{"negative accuracy", &supervise.Position{Lon: &lon, Lat: &lat, AccuracyM: num(-3)}, "position.accuracy_m"},
		{"NaN accuracy", &supervise.Position{Lon: &lon, Lat: &lat, AccuracyM: num(math.NaN())}, "position.accuracy_m"},
		{"huge accuracy", &supervise.Position{Lon: &lon, Lat: &lat, AccuracyM: num(supervise.MaxReportedAccuracyM + 1)}, "position.accuracy_m"},
		{"vanishing accuracy", &supervise.Position{Lon: &lon, Lat: &lat, AccuracyM: num(1e-300)}, "position.accuracy_m"}, // 0 as a real
		{"NaN latitude", &supervise.Position{Lon: &lon, Lat: num(math.NaN()), AccuracyM: num(10)}, "position.lat"},
	} {
		_, err := f.record(t, svc, f.off, tc.p)
		var fields []string
		var one *grid.InvalidError
		var many *grid.InvalidFieldsError
		switch {
		case errors.As(err, &one):
			fields = []string{one.Field}
		case errors.As(err, &many):
			for _, e := range many.Errors {
				fields = append(fields, e.Field)
			}
		}
		if !slices.Contains(fields, tc.field) {
			t.Errorf("%s: %v (fields %v), want %s", tc.name, err, fields, tc.field)
		}
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM inspections`); n != 0 {
		t.Errorf("%d inspections written by refused requests", n)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM audit_log WHERE action = 'inspection'`); n != 0 {
		t.Errorf("%d audited", n)
	}
	// The largest accuracy allowed is stored (and is inaccurate).
	in, err := f.record(t, svc, f.off, pos(f.ent, supervise.MaxReportedAccuracyM))
	if err != nil || in.Checkin.Status != supervise.CheckinInaccurate {
		t.Errorf("accuracy at the bound: %+v, %v", in, err)
	}
	// Out of scope as before: another officer's enterprise is one that does not exist.
	var inv *grid.InvalidError
	lon2, lat2 := testdb.EastPoint[0], testdb.EastPoint[1]
	if _, err := svc.RecordInspection(context.Background(), f.other, supervise.InspectionInput{Enterprise: f.uscc, Result: "passed",
		Lon: &lon2, Lat: &lat2, Position: pos(f.ent, 5)}); !errors.Is(err, grid.ErrForbidden) && !errors.As(err, &inv) {
		t.Errorf("another officer: %v", err)
	}
}

func TestCheckinLimitsValidate(t *testing.T) {
	if err := supervise.DefaultCheckinLimits().Validate(); err != nil {
		t.Error(err)
	}
	for _, l := range []supervise.CheckinLimits{{0, 100}, {200, 0}, {-1, 100}, {math.NaN(), 100}, {math.Inf(1), 100}, {200, 20000}} {
		if err := l.Validate(); err == nil {
			t.Errorf("%+v passed", l)
		}
	}
}

// The due list in walking order: the whole due set, ordered, then paged; legs add up.
func TestInspectionsDueFrom(t *testing.T) {
	f := newCheckinFixture(t)
	svc := supervise.New(f.st)
	ctx := context.Background()
	db := testdb.DB(f.st)
	// Nine more enterprises in the officer's cell, scattered up to 150 m around its centre.
	for i := range 9 {
		p := offset(f.ent, float64((i*37)%150-75), float64((i*53)%150-75))
		if _, err := db.Exec(ctx, `INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, street_code, community_code, h3, geom)
			SELECT t.district_code, $3, $4, '工贸', '一般', t.street_code, t.community_code, $5, g.p
			FROM (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS p) g, LATERAL area_tag(g.p) t`,
			p[0], p[1], fmt.Sprintf("91310104MA1FL%04dX", i+10), fmt.Sprintf("企业%d", i), int64(geo.PointCell(p, geo.SupervisionRes))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `INSERT INTO grid_cells (district_code, h3, unit_code)
		SELECT DISTINCT '310104', h3, 'U1' FROM enterprises WHERE h3 <> $1 ON CONFLICT DO NOTHING`, f.cellID); err != nil {
		t.Fatal(err)
	}
	byDue, total, err := svc.InspectionsDue(ctx, f.off.UserID, 100, 0)
	if err != nil || total != 10 {
		t.Fatalf("due: %d, %v", total, err)
	}
	start := offset(f.ent, 400, -300)
	route, rtotal, err := svc.InspectionsDueFrom(ctx, f.off.UserID, start, 100, 0)
	if err != nil || rtotal != total || len(route) != total {
		t.Fatalf("route: %d of %d, %v", len(route), rtotal, err)
	}
	var a, b []int64
	for i := range byDue {
		a, b = append(a, byDue[i].EnterpriseID), append(b, route[i].EnterpriseID)
	}
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Fatalf("route %v is not the due set %v", b, a)
	}
	// The first stop is the nearest to the start; legs sum to the cumulative distance.
	walked := 0.0
	for i, d := range route {
		p := orb.Point{d.Location.Lon, d.Location.Lat}
		if i == 0 {
			for _, o := range byDue {
				if dd := haversine(start, orb.Point{o.Location.Lon, o.Location.Lat}); dd < *d.LegM-0.1 {
					t.Errorf("first stop %.1f m away, %s is %.1f m", *d.LegM, o.USCC, dd)
				}
			}
		}
		prev := start
		if i > 0 {
			prev = orb.Point{route[i-1].Location.Lon, route[i-1].Location.Lat}
		}
		if math.Abs(haversine(prev, p)-*d.LegM) > 0.2 {
			t.Errorf("leg %d: %v, want %v", i, *d.LegM, haversine(prev, p))
		}
		walked += *d.LegM
		if math.Abs(walked-*d.CumulativeM) > 0.5 {
			t.Errorf("stop %d: cumulative %v, legs add to %v", i, *d.CumulativeM, walked)
		}
	}
	// Pages of three are the route cut in three, whatever the page.
	var paged []int64
	for off := 0; off < total+3; off += 3 {
		page, pt, err := svc.InspectionsDueFrom(ctx, f.off.UserID, start, 3, off)
		if err != nil || pt != total {
			t.Fatal(err)
		}
		for _, d := range page {
			paged = append(paged, d.EnterpriseID)
		}
	}
	var routeIDs []int64
	for _, d := range route {
		routeIDs = append(routeIDs, d.EnterpriseID)
	}
	if !slices.Equal(paged, routeIDs) {
		t.Errorf("paged %v, route %v", paged, routeIDs)
	}
	// Without a position the order is the due order, with no distances.
	if byDue[0].LegM != nil || byDue[0].CumulativeM != nil {
		t.Errorf("due order carries distances: %+v", byDue[0])
	}
	// The start is checked as a location: both or neither, in Shanghai.
	lon, lat := start[0], start[1]
	var inv *grid.InvalidError
	if p, err := svc.CheckWalkStart(ctx, nil, nil); p != nil || err != nil {
		t.Errorf("no start: %v %v", p, err)
	}
	if _, err := svc.CheckWalkStart(ctx, &lon, nil); !errors.As(err, &inv) || inv.Field != "lat" {
		t.Errorf("lon only: %v", err)
	}
	if _, err := svc.CheckWalkStart(ctx, &lat, &lon); !errors.As(err, &inv) || inv.Field != "lat" {
		t.Errorf("swapped: %v", err)
	}
	if p, err := svc.CheckWalkStart(ctx, &lon, &lat); err != nil || p == nil {
		t.Errorf("a good start: %v", err)
	}

	// Past MaxRouteStops due enterprises the walking order is refused, naming lon; the
	// list by due date still answers.
	if _, err := db.Exec(ctx, `INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, street_code, community_code, h3, geom)
		SELECT e.district_code, 'X' || lpad(n::text, 17, '0'), '批量企业' || n, '工贸', '低', e.street_code, e.community_code, e.h3, e.geom
		FROM enterprises e, generate_series(1, $2::int) n WHERE e.uscc = $1`, f.uscc, supervise.MaxRouteStops+1-total); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.InspectionsDueFrom(ctx, f.off.UserID, start, 10, 0); !errors.As(err, &inv) || inv.Field != "lon" {
		t.Errorf("%d due: %v, want an InvalidError on lon", supervise.MaxRouteStops+1, err)
	}
	if _, n, err := svc.InspectionsDue(ctx, f.off.UserID, 10, 0); err != nil || n != supervise.MaxRouteStops+1 {
		t.Errorf("by due date: %d, %v", n, err)
	}
}

// haversine on orb's sphere (the equatorial radius), as the walking order measures.
func haversine(a, b orb.Point) float64 {
	const r = 6378137.0
	rad := math.Pi / 180
	dlat, dlon := (b[1]-a[1])*rad, (b[0]-a[0])*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(a[1]*rad)*math.Cos(b[1]*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

// A history file: measured and judged like an officer's write, given the cell's officer,
// all or nothing, and loading it twice adds nothing.
func TestLoadInspectionsCSV(t *testing.T) {
	f := newCheckinFixture(t)
	svc := supervise.New(f.st)
	ctx := context.Background()
	near, far := offset(f.ent, 20, 0), offset(f.ent, 0, -450)
	head := "uscc,inspected_at,result,hazards_found,checkin_lon,checkin_lat,checkin_accuracy_m\n"
	good := head +
		fmt.Sprintf("%s,2026-10-01T02:00:00Z,passed,0,%.7f,%.7f,9\n", f.uscc, near[0], near[1]) +
		fmt.Sprintf("%s,2026-10-02T02:00:00Z,hazards_found,2,%.7f,%.7f,9\n", f.uscc, far[0], far[1]) +
		fmt.Sprintf("%s,2026-10-03T02:00:00Z,passed,0,%.7f,%.7f,300\n", f.uscc, near[0], near[1]) +
		fmt.Sprintf("%s,2026-10-04T02:00:00Z,passed,0,,,\n", f.uscc)
	for _, bad := range []string{
		good + "91310104MA1FL9999X,2026-10-05T02:00:00Z,passed,0,,,\n", // no such enterprise
		good + f.uscc + ",2026-10-05T02:00:00Z,passed,0,121.42,,\n",    // half a position
		good + f.uscc + ",2026-10-05T02:00:00Z,passed,0,121.42,31.12,0\n",
		good + f.uscc + ",yesterday,passed,0,,,\n",
		good + f.uscc + ",2026-10-05T02:00:00Z,fine,0,,,\n",
		"uscc,when\n",
	} {
		var inv *grid.InvalidError
		if _, err := svc.LoadInspectionsCSV(ctx, stringsReader(bad), "demo"); !errors.As(err, &inv) {
			t.Errorf("%q: %v, want an InvalidError", bad[len(bad)-50:], err)
		}
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM inspections`); n != 0 {
		t.Fatalf("refused files wrote %d rows", n)
	}
	n, err := svc.LoadInspectionsCSV(ctx, stringsReader(good), "demo")
	if err != nil || n != 4 {
		t.Fatalf("loaded %d, %v", n, err)
	}
	if n, err := svc.LoadInspectionsCSV(ctx, stringsReader(good), "demo"); err != nil || n != 0 {
		t.Errorf("again: %d, %v", n, err)
	}
	items, total, err := svc.MyInspections(ctx, f.off.UserID, "", 10, 0)
	if err != nil || total != 4 {
		t.Fatalf("the officer's: %d, %v", total, err)
	}
	want := []string{"unlocated", "inaccurate", "far", "located"} // newest first
	for i, in := range items {
		if in.Checkin.Status != want[i] {
			t.Errorf("%s: %s, want %s", in.InspectedAt, in.Checkin.Status, want[i])
		}
	}
	if d := items[3].Checkin.DistanceM; d == nil || math.Abs(*d-20) > 0.5 {
		t.Errorf("near: %v m", *d)
	}
	if d := items[2].Checkin.DistanceM; d == nil || math.Abs(*d-450) > 450*0.005 { // offset is on a sphere, the distance on the ellipsoid
		t.Errorf("far: %v m", *d)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM audit_log WHERE action = 'import' AND object_id = 'inspections' AND actor = 'demo'`); n != 2 {
		t.Errorf("%d audit records", n)
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
