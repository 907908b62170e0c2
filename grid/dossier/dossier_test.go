package dossier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/paulmach/orb/geojson"
	"github.com/uber/h3-go/v4"
	"github.com/xuri/excelize/v2"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/coverage"
	"safegrid/grid/dossier"
	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

// metres east and north of p, near enough for placing fixtures (the checks use SQL's own
// distances).
func off(p orb.Point, east, north float64) orb.Point {
	return orb.Point{p[0] + east/(111320*math.Cos(p[1]*math.Pi/180)), p[1] + north/110950}
}

type fixture struct {
	st                   *grid.Store
	svc                  *dossier.Service
	e, eNear, eEdge, eB  string // USCCs
	eID                  int64
	off1, off2           *grid.Principal
	linked, at, stepless int64 // hazards of e
}

func uscc(t *testing.T, n int) string {
	t.Helper()
	body := fmt.Sprintf("9131010%010d", n)
	c, err := geo.USCCCheckChar(body)
	if err != nil {
		t.Fatal(err)
	}
	return body + string(c)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	db := testdb.DB(st)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	f := &fixture{st: st, svc: dossier.New(st)}
	// e sits exactly on its cell's centre, so coverage's cell figures are its own.
	ll := h3.CellToLatLng(geo.PointCell(testdb.WestSouth, 9))
	pe := orb.Point{ll.Lng, ll.Lat}
	fs1 := off(pe, 1000, 0)
	ent := func(n int, p orb.Point, level, address string) (*geojson.Feature, string) {
		u := uscc(t, n)
		return testdb.Feat(p, map[string]any{"uscc": u, "name": fmt.Sprintf("测试企业%d", n), "industry": "危化品使用",
			"risk_level": level, "major_hazard": true, "employees": float64(40 + n), "address": address}), u
	}
	fe, ue := ent(1, pe, "一般", "=HYPERLINK(\"http://x\")")
	fn, un := ent(2, off(fs1, 0, 1700), "低", "near")
	fg, ug := ent(3, off(fs1, 0, -1850), "较大", "edge")
	fb, ub := ent(4, testdb.EastPoint, "重大", "east")
	f.e, f.eNear, f.eEdge, f.eB = ue, un, ug, ub
	imp := func(actor string, feats ...*geojson.Feature) {
		t.Helper()
		if _, err := ingest.New(st).Import(ctx, testdb.FC(t, feats...), ingest.ImportOptions{Kind: "enterprises", Format: "geojson", Actor: actor}); err != nil {
			t.Fatal(err)
		}
	}
	imp("loader", fe, fn, fg, fb)
	fe2, _ := ent(1, pe, "较大", "=HYPERLINK(\"http://x\")") // e's level goes up on re-import
	imp("reloader", fe2)
	if err := db.QueryRow(ctx, `SELECT id FROM enterprises WHERE uscc = $1`, ue).Scan(&f.eID); err != nil {
		t.Fatal(err)
	}

	// Officers: off1's unit holds e's cell, off2's holds eB's.
	var id1, id2 int64
	for _, u := range []struct {
		name string
		id   *int64
	}{{"off1", &id1}, {"off2", &id2}} {
		if err := db.QueryRow(ctx, `INSERT INTO users (username, display_name, role, password_hash) VALUES ($1, $1 || '姓名', 'officer', 'x') RETURNING id`, u.name).Scan(u.id); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO grid_units (code, name, street_code, officer_id) VALUES ('U1', '西一网格', $1, $2), ('U2', '东一网格', $3, $4)`,
		testdb.WestStreet, id1, testdb.EastStreet, id2)
	exec(`INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ('310104', $1, 'U1'), ('310104', $2, 'U2')`,
		int64(geo.PointCell(pe, 9)), int64(geo.PointCell(testdb.EastPoint, 9)))
	f.off1 = &grid.Principal{UserID: id1, Username: "off1", Role: grid.RoleOfficer}
	f.off2 = &grid.Principal{UserID: id2, Username: "off2", Role: grid.RoleOfficer}

	hazard := func(p orb.Point, kind, code string) int64 {
		t.Helper()
		var k, c any
		if kind != "" {
			k, c = kind, code
		}
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO hazards (district_code, level, category, description, feature_kind, feature_code, street_code, community_code, h3, geom, deadline)
SELECT a.district_code, '一般', '消防', '通道堵塞', $1, $2, a.street_code, a.community_code, $3, q.p, DATE '2020-01-01'
  FROM (SELECT ST_SetSRID(ST_MakePoint($4::float8, $5::float8), 4326) AS p) q, LATERAL area_tag(q.p) a RETURNING id`,
			k, c, int64(geo.PointCell(p, 9)), p[0], p[1]).Scan(&id); err != nil {
			t.Fatal(err)
		}
		exec(`INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, note, at)
SELECT district_code, id, NULL, 'reported', 'off1', 'reported in the field', now() - interval '2 days' FROM hazards WHERE id = $1`, id)
		return id
	}
	f.linked = hazard(off(pe, 120, 0), "enterprises", ue) // tied to e, 120 m off
	f.at = hazard(off(pe, 0, 20), "", "")                 // tied to nothing, at e
	hazard(off(pe, 0, -200), "", "")                      // tied to nothing, too far
	hazard(off(pe, 10, 0), "enterprises", un)             // another enterprise's, near e
	hazard(off(pe, -10, 0), "pipelines", "P1")            // a pipeline's, near e
	// linked goes on: registered, then closed.
	exec(`INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, note, at)
SELECT district_code, id, 'reported', 'registered', 'off1', '立案', now() - interval '1 day' FROM hazards WHERE id = $1`, f.linked)
	exec(`UPDATE hazards SET status = 'closed', closed_at = now() WHERE id = $1`, f.linked)

	exec(`INSERT INTO inspections (district_code, enterprise_id, officer_id, inspected_at, result, hazards_found, notes, h3, geom)
SELECT district_code, id, $2, now() - make_interval(days => d), r, n, 'note ' || d, h3, geom
  FROM enterprises, (VALUES (3, 'passed', 0), (30, 'hazards_found', 2)) v (d, r, n) WHERE uscc = $1`, ue, id1)
	exec(`INSERT INTO inspections (district_code, enterprise_id, inspected_at, result, h3, geom)
SELECT district_code, id, now(), 'passed', h3, geom FROM enterprises WHERE uscc = $1`, ub)
	// Check-in (migration 00016): the older inspection of e was checked in far away.
	exec(`UPDATE inspections SET checkin = 'far', checkin_geom = ST_SetSRID(ST_MakePoint(121.43, 31.13), 4326),
	checkin_accuracy_m = 12.5, checkin_distance_m = 350 WHERE notes = 'note 30'`)
	// Photos (migration 00015): two on linked's report, one on e's newer inspection, one on
	// another enterprise's inspection (not e's).
	photo := func(id int64, where string, args ...any) {
		t.Helper()
		exec(`INSERT INTO photos (district_code, id, hazard_id, history_id, step, inspection_id, uploader, sha256, thumb_sha256,
	content_type, bytes, width, height, distance_m, far, uploaded_at)
SELECT '310104', $1, x.hazard_id, x.history_id, x.step, x.inspection_id, 'off1', repeat('a', 64), repeat('b', 64),
	'image/jpeg', 1000, 640, 480, 12.34, false, now()
  FROM (`+where+`) x`, append([]any{id}, args...)...)
	}
	const step = `SELECT hazard_id, id AS history_id, to_status AS step, NULL::bigint AS inspection_id FROM hazard_history WHERE hazard_id = $2 AND to_status = 'reported'`
	const insp = `SELECT NULL::bigint AS hazard_id, NULL::bigint AS history_id, NULL AS step, i.id AS inspection_id
  FROM inspections i JOIN enterprises e ON e.id = i.enterprise_id WHERE e.uscc = $2 ORDER BY i.inspected_at DESC LIMIT 1`
	photo(9001, step, f.linked)
	photo(9002, step, f.linked)
	photo(9003, insp, ue)
	photo(9004, insp, ub)

	line := func(code string, north float64) {
		t.Helper()
		l := orb.LineString{off(pe, -300, north), off(pe, 300, north)}
		var cells []int64
		for _, c := range geo.Cells(l, 9) {
			cells = append(cells, int64(c))
		}
		exec(`INSERT INTO pipelines (district_code, code, name, medium, class, pressure, diameter_mm, h3, h3_cells, geom)
VALUES ('310104', $1, '燃气管' || $1, 'gas', 'distribution', '中压', 200, $2, $3, ST_Multi(ST_GeomFromText($4, 4326)))`,
			code, cells[0], cells, wkt.MarshalString(l))
	}
	line("P1", 100)
	line("P2", 800)
	site := func(code string, east float64) {
		p := off(pe, east, 0)
		c := int64(geo.PointCell(p, 9))
		exec(`INSERT INTO gas_occupancy_sites (district_code, code, pipeline_code, occupant, status, deadline, h3, h3_cells, geom)
VALUES ('310104', $1, 'P1', '违建' || $1, '待整治', DATE '2027-01-31', $2, $3, ST_SetSRID(ST_MakePoint($4, $5), 4326))`,
			code, c, []int64{c}, p[0], p[1])
	}
	site("G1", 300)
	site("G2", 700)
	station := func(code, status string, p orb.Point) {
		exec(`INSERT INTO fire_stations (code, name, type, status, district_code, h3, geom)
VALUES ($1, $1 || '站', '一级普通', $2, '310104', $3, ST_SetSRID(ST_MakePoint($4, $5), 4326))`,
			code, status, int64(geo.PointCell(p, 9)), p[0], p[1])
	}
	station("FS1", "existing", fs1)
	station("FS2", "existing", off(pe, -2500, 0))
	station("FS3", "planned", off(pe, 0, -200))
	station("FS4", "existing", off(pe, 0, 4000))
	return f
}

var admin = &grid.Principal{Username: "adm", Role: grid.RoleAdmin}

func ids[T any](items []T, id func(T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func sqlStrings(t *testing.T, st *grid.Store, q string, args ...any) []string {
	t.Helper()
	rows, err := testdb.DB(st).Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestDossierSections: the dossier lists exactly the enterprise's hazards, inspections,
// risk levels and nearby pipelines and sites, each set checked against plain SQL; the
// attributes, cell, unit and officer are the enterprise's.
func TestDossierSections(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d, err := f.svc.Dossier(ctx, admin, dossier.Key{ID: f.eID}, dossier.DefaultRadiusM)
	if err != nil {
		t.Fatal(err)
	}
	e := d.Enterprise
	if e.USCC != f.e || e.Name != "测试企业1" || e.RiskLevel != "较大" || !e.MajorHazard || e.Employees == nil || *e.Employees != 41 ||
		e.DistrictCode != "310104" || e.StreetCode == nil || *e.StreetCode != testdb.WestStreet || *e.StreetName != "西街道" {
		t.Errorf("enterprise %+v", e)
	}
	if d.Location.Cell != geo.PointCell(testdb.WestSouth, 9).String() || d.Location.Unit == nil || d.Location.Unit.Code != "U1" ||
		d.Location.Unit.Officer == nil || d.Location.Unit.Officer.Username != "off1" || *d.Location.Unit.Officer.DisplayName != "off1姓名" {
		t.Errorf("location %+v unit %+v", d.Location, d.Location.Unit)
	}
	// By USCC: the same dossier.
	byU, err := f.svc.Dossier(ctx, admin, dossier.Key{USCC: f.e}, dossier.DefaultRadiusM)
	if err != nil || byU.Enterprise.ID != f.eID {
		t.Fatalf("by USCC: %v %+v", err, byU)
	}

	// Hazards: tied to the enterprise, or tied to nothing within AtEnterpriseM; nothing else.
	wantHaz := sqlStrings(t, f.st, `SELECT h.code FROM hazards h, enterprises e WHERE e.id = $1
   AND ((h.feature_kind = 'enterprises' AND h.feature_code = e.uscc) OR (h.feature_kind IS NULL AND ST_DWithin(h.geom_m, e.geom_m, $2)))
 ORDER BY h.reported_at DESC, h.id DESC`, f.eID, dossier.AtEnterpriseM)
	gotHaz := ids(d.Hazards, func(h dossier.DossierHazard) string { return h.Code })
	if len(wantHaz) != 2 || !slices.Equal(gotHaz, wantHaz) {
		t.Errorf("hazards %v, want %v", gotHaz, wantHaz)
	}
	for _, h := range d.Hazards {
		switch h.ID {
		case f.linked:
			if h.Link != "feature" || h.Status != "closed" || h.ClosedAt == nil || h.Overdue || len(h.Steps) != 2 ||
				h.Steps[0].ToStatus != "reported" || h.Steps[1].ToStatus != "registered" || *h.Steps[1].FromStatus != "reported" ||
				h.Steps[1].ActorName == nil || *h.Steps[1].ActorName != "off1姓名" || math.Abs(h.DistanceM-120) > 2 {
				t.Errorf("linked hazard %+v", h)
			}
		case f.at:
			if h.Link != "location" || !h.Overdue || len(h.Steps) != 1 || h.DistanceM > dossier.AtEnterpriseM {
				t.Errorf("hazard at the enterprise %+v", h)
			}
		default:
			t.Errorf("hazard %d is not the enterprise's", h.ID)
		}
	}

	// Inspections: its own, newest first.
	wantIns := sqlStrings(t, f.st, `SELECT id::text FROM inspections WHERE enterprise_id = $1 ORDER BY inspected_at DESC`, f.eID)
	gotIns := ids(d.Inspections, func(i dossier.InspectionRecord) string { return fmt.Sprint(i.ID) })
	if len(wantIns) != 2 || !slices.Equal(gotIns, wantIns) {
		t.Errorf("inspections %v, want %v", gotIns, wantIns)
	}
	if in := d.Inspections[1]; in.Result != "hazards_found" || in.HazardsFound != 2 || in.Officer == nil || in.Officer.Username != "off1" || *in.Notes != "note 30" {
		t.Errorf("inspection %+v", in)
	}

	// Check-in and photos.
	if c := d.Inspections[1].Checkin; c.Status != "far" || c.Position == nil || c.Position.Lon != 121.43 || *c.AccuracyM != 12.5 || *c.DistanceM != 350 {
		t.Errorf("check-in %+v", c)
	}
	if c := d.Inspections[0].Checkin; c.Status != "unlocated" || c.Position != nil || c.DistanceM != nil {
		t.Errorf("check-in %+v", c)
	}
	if ph := d.Inspections[0].Photos; len(ph) != 1 || ph[0].ID != 9003 || ph[0].ThumbURL != "/api/v1/photos/9003/thumb" || len(d.Inspections[1].Photos) != 0 {
		t.Errorf("inspection photos %+v / %+v", ph, d.Inspections[1].Photos)
	}
	for _, h := range d.Hazards {
		var ids []int64
		for _, st := range h.Steps {
			for _, ph := range st.Photos {
				if st.ToStatus != "reported" || *ph.Step != "reported" || *ph.HazardID != h.ID {
					t.Errorf("photo %d on step %s of %d", ph.ID, st.ToStatus, h.ID)
				}
				ids = append(ids, ph.ID)
			}
		}
		if want := map[int64][]int64{f.linked: {9001, 9002}}[h.ID]; !slices.Equal(ids, want) {
			t.Errorf("hazard %d photos %v, want %v", h.ID, ids, want)
		}
	}

	// Risk levels: the first import's, then the re-import's change.
	if len(d.RiskLevels) != 2 || d.RiskLevels[0].From != nil || d.RiskLevels[0].To != "一般" || d.RiskLevels[0].Actor != "loader" ||
		*d.RiskLevels[1].From != "一般" || d.RiskLevels[1].To != "较大" || d.RiskLevels[1].Actor != "reloader" {
		t.Errorf("risk levels %+v", d.RiskLevels)
	}

	// Nearby: within the radius, by SQL; a wider radius takes in more.
	for _, r := range []float64{dossier.DefaultRadiusM, 1000} {
		d, err := f.svc.Dossier(ctx, admin, dossier.Key{ID: f.eID}, r)
		if err != nil {
			t.Fatal(err)
		}
		wantP := sqlStrings(t, f.st, `SELECT p.code FROM pipelines p, enterprises e WHERE e.id = $1 AND ST_DWithin(p.geom_m, e.geom_m, $2) ORDER BY ST_Distance(p.geom_m, e.geom_m)`, f.eID, r)
		wantG := sqlStrings(t, f.st, `SELECT g.code FROM gas_occupancy_sites g, enterprises e WHERE e.id = $1 AND ST_DWithin(g.geom_m, e.geom_m, $2) ORDER BY ST_Distance(g.geom_m, e.geom_m)`, f.eID, r)
		gotP := ids(d.Pipelines, func(p dossier.NearPipeline) string { return p.Code })
		gotG := ids(d.GasSites, func(g dossier.NearGasSite) string { return g.Code })
		if !slices.Equal(gotP, wantP) || !slices.Equal(gotG, wantG) || d.RadiusM != r {
			t.Errorf("radius %g: pipelines %v (want %v), sites %v (want %v)", r, gotP, wantP, gotG, wantG)
		}
		if n := map[float64]int{500: 1, 1000: 2}[r]; len(gotP) != n || len(gotG) != n {
			t.Errorf("radius %g: %d pipelines, %d sites; want %d each", r, len(gotP), len(gotG), n)
		}
	}

	// Bad radius and missing enterprises.
	for _, r := range []float64{0, -1, math.NaN(), dossier.MaxRadiusM + 1} {
		var inv *grid.InvalidError
		if _, err := f.svc.Dossier(ctx, admin, dossier.Key{ID: f.eID}, r); !errors.As(err, &inv) || inv.Field != "radius_m" {
			t.Errorf("radius %g: %v", r, err)
		}
	}
	for _, k := range []dossier.Key{{ID: 999999}, {USCC: uscc(t, 99)}} {
		var nf *grid.NotFoundError
		if _, err := f.svc.Dossier(ctx, admin, k, 500); !errors.As(err, &nf) {
			t.Errorf("%+v: %v", k, err)
		}
	}
}

// TestDossierStationsAgreeWithCoverage: the fire stations' response times and reach are the
// coverage model's. For each existing station, coverage with that station alone covers
// exactly the enterprises whose dossier has it in reach; and for the enterprise on its
// cell's centre, the nearest station, distance and minutes are those of coverage's cell.
func TestDossierStationsAgreeWithCoverage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if got, want := dossier.ReachM(), (coverage.CoverageParams{}).WithDefaults().RadiusM(); got != want {
		t.Fatalf("reach %g, coverage's %g", got, want)
	}
	dossiers := map[string]*dossier.Dossier{}
	for _, u := range []string{f.e, f.eNear, f.eEdge, f.eB} {
		d, err := f.svc.Dossier(ctx, admin, dossier.Key{USCC: u}, 500)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(d.FireStations, func(s dossier.StationReach) string { return s.Code }); len(got) != 3 || slices.Contains(got, "FS3") {
			t.Errorf("%s: stations %v (the planned FS3 is not counted)", u, got)
		}
		dossiers[u] = d
	}
	if s := dossiers[f.e].FireStations[0]; s.Code != "FS1" || !s.InReach || math.Abs(s.DistanceM-1000) > 5 {
		t.Errorf("e's nearest station %+v", s)
	}
	an := coverage.NewAnalyst(f.st)
	existing := []string{"FS1", "FS2", "FS4"}
	for _, code := range existing {
		var without []string
		for _, c := range existing {
			if c != code {
				without = append(without, c)
			}
		}
		res, err := an.Coverage(ctx, coverage.CoverageParams{Without: without}.WithDefaults())
		if err != nil {
			t.Fatal(err)
		}
		inReach := 0
		for _, d := range dossiers {
			for _, s := range d.FireStations {
				if s.Code == code && s.InReach {
					inReach++
				}
			}
		}
		if int(res.Overall.Enterprises.Covered) != inReach {
			t.Errorf("%s alone: coverage covers %g enterprises, dossiers say %d are in reach", code, res.Overall.Enterprises.Covered, inReach)
		}
		if code == "FS1" && inReach != 2 { // e and eNear; eEdge is just beyond the reach
			t.Errorf("FS1 reaches %d of the enterprises, want 2", inReach)
		}
	}
	cells, err := an.CoverageCells(ctx, coverage.CoverageParams{}, "310104")
	if err != nil {
		t.Fatal(err)
	}
	d := dossiers[f.e]
	found := false
	for _, c := range cells {
		if c.Cell != d.Location.Cell {
			continue
		}
		found = true
		s := d.FireStations[0]
		if c.NearestFor != s.Code || math.Abs(c.DistanceM-s.DistanceM) > 0.5 || c.Minutes != s.Minutes || c.Covered != s.InReach {
			t.Errorf("coverage's cell: %s %.1f m %.2f min covered %v; dossier: %+v", c.NearestFor, c.DistanceM, c.Minutes, c.Covered, s)
		}
	}
	if !found {
		t.Errorf("no coverage cell %s", d.Location.Cell)
	}
}

// TestDossierScope: an enterprise outside the caller's scope is a NotFoundError exactly like
// a missing one, for an officer (only their cells), a street office and a district user;
// what lies near it is filtered by scope too.
func TestDossierScope(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	street := func(code string) *grid.Principal {
		return &grid.Principal{Username: "st" + code, Role: grid.RoleStreet, StreetCode: code}
	}
	district := func(code string) *grid.Principal {
		return &grid.Principal{Username: "d" + code, Role: grid.RoleDistrict, DistrictCode: code}
	}
	for _, tc := range []struct {
		name string
		p    *grid.Principal
		ok   bool
	}{
		{"admin", admin, true},
		{"planner", &grid.Principal{Username: "plan", Role: grid.RolePlanner}, true},
		{"officer of its cell", f.off1, true},
		{"another officer", f.off2, false},
		{"its street office", street(testdb.WestStreet), true},
		{"another street office", street(testdb.EastStreet), false},
		{"its district", district("310104"), true},
		{"another district", district("310105"), false},
		{"nobody", nil, false},
	} {
		for _, k := range []dossier.Key{{ID: f.eID}, {USCC: f.e}} {
			d, err := f.svc.Dossier(ctx, tc.p, k, 500)
			var nf *grid.NotFoundError
			switch {
			case tc.ok && err != nil:
				t.Errorf("%s %+v: %v", tc.name, k, err)
			case !tc.ok && !errors.As(err, &nf):
				t.Errorf("%s %+v: %v, want not found", tc.name, k, err)
			case !tc.ok && (nf.What != "enterprise" || nf.Key != fmt.Sprint(k.ID) && nf.Key != k.USCC):
				t.Errorf("%s: %+v", tc.name, nf)
			case tc.ok && len(d.Hazards) != 2:
				t.Errorf("%s: %d hazards", tc.name, len(d.Hazards))
			}
		}
	}
	// off2 sees its own enterprise, and not e's hazards or pipelines through it.
	d, err := f.svc.Dossier(ctx, f.off2, dossier.Key{USCC: f.eB}, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Inspections) != 1 || len(d.Hazards) != 0 || len(d.Pipelines) != 0 {
		t.Errorf("off2's enterprise: %d inspections, %d hazards, %d pipelines", len(d.Inspections), len(d.Hazards), len(d.Pipelines))
	}
}

// TestDossierXLSX: the workbook opens with excelize and holds, sheet by sheet, the rows of
// the JSON's sections; text that looks like a formula is neutralised.
func TestDossierXLSX(t *testing.T) {
	f := newFixture(t)
	d, err := f.svc.Dossier(context.Background(), admin, dossier.Key{ID: f.eID}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dossier.WriteXLSX(&buf, d); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows := func(sheet string) [][]string {
		t.Helper()
		r, err := x.GetRows(sheet)
		if err != nil {
			t.Fatalf("%s: %v", sheet, err)
		}
		return r
	}
	steps := 0
	for _, h := range d.Hazards {
		steps += len(h.Steps)
	}
	for sheet, n := range map[string]int{
		dossier.SheetInspections: len(d.Inspections), dossier.SheetHazards: len(d.Hazards), dossier.SheetSteps: steps,
		dossier.SheetRiskLevels: len(d.RiskLevels), dossier.SheetStations: len(d.FireStations),
		dossier.SheetPipelines: len(d.Pipelines), dossier.SheetGasSites: len(d.GasSites), dossier.SheetPhotos: 3,
	} {
		if got := len(rows(sheet)) - 1; got != n || n == 0 {
			t.Errorf("%s: %d rows, the JSON has %d", sheet, got, n)
		}
	}
	for i, h := range d.Hazards {
		if r := rows(dossier.SheetHazards)[i+1]; r[0] != fmt.Sprint(h.ID) || r[1] != h.Code || r[5] != h.Status {
			t.Errorf("hazard row %d: %v, JSON %+v", i, r, h)
		}
	}
	for i, s := range d.FireStations {
		if r := rows(dossier.SheetStations)[i+1]; r[0] != s.Code || r[4] != fmt.Sprint(s.Minutes) {
			t.Errorf("station row %d: %v, JSON %+v", i, r, s)
		}
	}
	for i, p := range d.Pipelines {
		if r := rows(dossier.SheetPipelines)[i+1]; r[0] != p.Code {
			t.Errorf("pipeline row %d: %v, JSON %+v", i, r, p)
		}
	}
	if r := rows(dossier.SheetInspections)[2]; r[6] != "far" || r[7] != "350" || r[8] != "12.5" {
		t.Errorf("inspection check-in row %v", r)
	}
	in := d.Inspections[0]
	if r := rows(dossier.SheetInspections)[1]; r[1] != in.InspectedAt.In(grid.ShanghaiZone()).Format("2006-01-02 15:04:05") {
		t.Errorf("inspection time %q, want Shanghai time of %v", r[1], in.InspectedAt)
	}
	ov := map[string]string{}
	for _, r := range rows(dossier.SheetOverview)[1:] {
		ov[r[0]] = r[1]
	}
	if ov["统一社会信用代码"] != f.e || ov["地址"] != `'=HYPERLINK("http://x")` || ov["网格员"] != "off1姓名 (off1)" || ov["风险等级"] != "较大" {
		t.Errorf("overview %v", ov)
	}
}

func TestParseKey(t *testing.T) {
	u := uscc(t, 7)
	for _, tc := range []struct {
		raw string
		key dossier.Key
		ok  bool
	}{
		{"12", dossier.Key{ID: 12}, true},
		{u, dossier.Key{USCC: u}, true},
		{"0", dossier.Key{}, false},
		{"-3", dossier.Key{}, false},
		{"+3", dossier.Key{}, false},
		{"99999999999999999999", dossier.Key{}, false},
		{"91310100000000007X", dossier.Key{}, false},
		{"abc", dossier.Key{}, false},
		{"", dossier.Key{}, false},
	} {
		k, ok := dossier.ParseKey(tc.raw)
		if ok != tc.ok || (ok && k != tc.key) {
			t.Errorf("%q: %+v %v", tc.raw, k, ok)
		}
	}
}
