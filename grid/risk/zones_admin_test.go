package risk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// badField is the one field a BadInputError names (it fails the test when it names none
// or several).
func badField(t *testing.T, err error) string {
	t.Helper()
	var b *BadInputError
	if !errors.As(err, &b) {
		t.Fatalf("not a BadInputError: %v", err)
	}
	var fields []string
	for _, e := range b.Errors {
		fields = append(fields, e.Field)
	}
	return strings.Join(fields, ",")
}

func ring(pts ...[2]float64) string {
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "[%v,%v]", p[0], p[1])
	}
	return "[" + b.String() + "]"
}

// A refused zone names the field and changes nothing: not the zones, not their areas,
// not the audit log.
func TestRiskZoneRefusals(t *testing.T) {
	st := testdb.New(t, testdb.RiskDistricts)
	svc := New(st)
	ctx := context.Background()
	if _, _, err := svc.PutZone(ctx, pAdmin, "bay", ZoneInput{Name: "湾区", Areas: []string{jinshan}}); err != nil {
		t.Fatal(err)
	}
	square := func(x0, y0, d float64) json.RawMessage {
		return json.RawMessage(`{"type":"Polygon","coordinates":[` + ring([2]float64{x0, y0}, [2]float64{x0 + d, y0}, [2]float64{x0 + d, y0 + d}, [2]float64{x0, y0 + d}, [2]float64{x0, y0}) + `]}`)
	}
	many := make([]string, MaxZoneAreas+1)
	for i := range many {
		many[i] = fmt.Sprintf("310%03d", i)
	}
	var big strings.Builder
	big.WriteString(`{"type":"Polygon","coordinates":[[`)
	for i := 0; i <= MaxZoneVertices; i++ {
		fmt.Fprintf(&big, "[121.2%05d,30.8],", i)
	}
	big.WriteString(`[121.2,30.8]]]}`)
	huge := json.RawMessage(`{"type":"Polygon","coordinates":[[[121.2,30.8],[121.3,30.8],[121.3,30.81],[121.2,30.8]]],"pad":"` + strings.Repeat("x", MaxZoneGeometry) + `"}`)
	for _, c := range []struct {
		what, code string
		in         ZoneInput
		field      string
	}{
		{"bad code", "Bay!", ZoneInput{Name: "x", Areas: []string{jinshan}}, "code"},
		{"no name", "z", ZoneInput{Name: "  ", Areas: []string{jinshan}}, "name"},
		{"long name", "z", ZoneInput{Name: strings.Repeat("名", MaxZoneName+1), Areas: []string{jinshan}}, "name"},
		{"NUL in name", "z", ZoneInput{Name: "a\x00b", Areas: []string{jinshan}}, "name"},
		{"nothing", "z", ZoneInput{Name: "x"}, "areas"},
		{"both", "z", ZoneInput{Name: "x", Areas: []string{jinshan}, Geometry: square(121.22, 30.77, 0.02)}, "geometry"},
		{"malformed code", "z", ZoneInput{Name: "x", Areas: []string{jinshan, "31011", "310116001"}}, "areas[1]"},
		{"community", "z", ZoneInput{Name: "x", Areas: []string{"310116001001"}}, "areas[0]"},
		{"duplicate", "z", ZoneInput{Name: "x", Areas: []string{jinshan, fengxian, jinshan}}, "areas[2]"},
		{"not loaded", "z", ZoneInput{Name: "x", Areas: []string{jinshan, fengxian, "310120002", "310101"}}, "areas[2],areas[3]"},
		{"too many", "z", ZoneInput{Name: "x", Areas: many}, "areas"},
		{"a line", "z", ZoneInput{Name: "x", Geometry: json.RawMessage(`{"type":"LineString","coordinates":[[121.2,30.8],[121.3,30.8]]}`)}, "geometry"},
		{"not GeoJSON", "z", ZoneInput{Name: "x", Geometry: json.RawMessage(`{"type":"Polygon","coordinates":"x"}`)}, "geometry"},
		{"self-crossing", "z", ZoneInput{Name: "x", Geometry: json.RawMessage(`{"type":"Polygon","coordinates":[` +
			ring([2]float64{121.21, 30.76}, [2]float64{121.25, 30.80}, [2]float64{121.25, 30.76}, [2]float64{121.21, 30.80}, [2]float64{121.21, 30.76}) + `]}`)}, "geometry"},
		{"in the sea", "z", ZoneInput{Name: "x", Geometry: square(122.5, 30.5, 0.05)}, "geometry"},
		{"on the shore, overlapping nothing", "z", ZoneInput{Name: "x", Geometry: square(121.301, 30.80, 0.002)}, "geometry"},
		{"too many vertices", "z", ZoneInput{Name: "x", Geometry: json.RawMessage(big.String())}, "geometry"},
		{"too large", "z", ZoneInput{Name: "x", Geometry: huge}, "geometry"},
		{"two faults", "Z", ZoneInput{Name: "", Areas: []string{"x"}}, "code,name,areas[0]"},
		{"replace with a bad one", "bay", ZoneInput{Name: "湾区", Areas: []string{"310199"}}, "areas[0]"},
	} {
		_, _, err := svc.PutZone(ctx, pAdmin, c.code, c.in)
		if got := badField(t, err); got != c.field {
			t.Errorf("%s: fields %q, want %q (%v)", c.what, got, c.field, err)
		}
	}
	_, _, err := svc.PutZone(ctx, pAdmin, "z", ZoneInput{Name: "x", Geometry: square(121.301, 30.80, 0.002)})
	if err == nil || !strings.Contains(err.Error(), "overlaps no loaded district or street") {
		t.Errorf("on the shore: %v", err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM risk_zones`); n != 1 {
		t.Errorf("%d zones", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM risk_zone_areas WHERE zone_code = 'bay' AND area_code = $1`, jinshan); n != 1 {
		t.Errorf("the zone's areas changed: %d", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE object_kind = 'risk_zone'`); n != 1 {
		t.Errorf("%d audit records", n)
	}
	for _, p := range []*grid.Principal{pPlanner, pJinshan, pWest} {
		if _, _, err := svc.PutZone(ctx, p, "z", ZoneInput{Name: "x", Areas: []string{jinshan}}); !errors.Is(err, grid.ErrForbidden) {
			t.Errorf("%s defines a zone: %v", p.Role, err)
		}
		if err := svc.DeleteZone(ctx, p, "bay"); !errors.Is(err, grid.ErrForbidden) {
			t.Errorf("%s removes a zone: %v", p.Role, err)
		}
	}
}

// A polygon zone's areas are the districts and streets it overlaps; its members are their
// users. Replacing and removing a zone are audited.
func TestRiskZonePolygonAndLifecycle(t *testing.T) {
	st := testdb.New(t, testdb.RiskDistricts)
	svc := New(st)
	ctx := context.Background()
	// Inside 金山, touching nothing else.
	poly := json.RawMessage(`{"type":"MultiPolygon","coordinates":[[` + ring([2]float64{121.22, 30.77}, [2]float64{121.28, 30.77},
		[2]float64{121.28, 30.83}, [2]float64{121.22, 30.83}, [2]float64{121.22, 30.77}) + `]]}`)
	z, created, err := svc.PutZone(ctx, pAdmin, "jinshan-park", ZoneInput{Name: " 金山化工区 ", Geometry: poly})
	if err != nil {
		t.Fatal(err)
	}
	if !created || z.Name != "金山化工区" || !z.HasPolygon || strings.Join(z.Areas, ",") != "310116,310116001" || z.CreatedBy != "admin" {
		t.Errorf("polygon zone %+v created %v", z, created)
	}
	if _, err := svc.Zone(ctx, pJinshan, "jinshan-park"); err != nil {
		t.Errorf("金山 is a member: %v", err)
	}
	var nf *grid.NotFoundError
	if _, err := svc.Zone(ctx, pFengxian, "jinshan-park"); !errors.As(err, &nf) {
		t.Errorf("奉贤 is not: %v", err)
	}
	// Across two districts (every vertex in one of them): both, with their streets.
	across := json.RawMessage(`{"type":"Polygon","coordinates":[` + ring([2]float64{121.25, 30.80}, [2]float64{121.29, 30.80},
		[2]float64{121.45, 30.90}, [2]float64{121.45, 30.94}, [2]float64{121.25, 30.84}, [2]float64{121.25, 30.80}) + `]}`)
	z, created, err = svc.PutZone(ctx, pAdmin, "jinshan-park", ZoneInput{Name: "金山—奉贤", Geometry: across})
	if err != nil {
		t.Fatal(err)
	}
	if created || strings.Join(z.Areas, ",") != "310116,310116001,310120,310120001" {
		t.Errorf("replaced %+v created %v", z, created)
	}
	// Back to areas: the polygon goes.
	z, _, err = svc.PutZone(ctx, pAdmin, "jinshan-park", ZoneInput{Name: "金山", Areas: []string{"310116001"}})
	if err != nil || z.HasPolygon || strings.Join(z.Areas, ",") != "310116001" {
		t.Errorf("areas again %+v %v", z, err)
	}
	if err := svc.DeleteZone(ctx, pAdmin, "jinshan-park"); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteZone(ctx, pAdmin, "jinshan-park"); !errors.As(err, &nf) {
		t.Errorf("removed twice: %v", err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM risk_zone_areas`); n != 0 {
		t.Errorf("%d zone areas left", n)
	}
	if got := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE object_kind = 'risk_zone' AND object_id = 'jinshan-park'
   AND action IN ('risk_zone_put', 'risk_zone_delete') AND actor = 'admin'`); got != 4 {
		t.Errorf("%d audit records, want 3 puts and a delete", got)
	}
}

// A zone's members see its major hazard installations with their open and overdue
// hazards; a non-member is told the zone does not exist.
func TestRiskZoneMajorHazards(t *testing.T) {
	st := testdb.New(t, testdb.RiskDistricts)
	svc := New(st)
	ctx := context.Background()
	if _, _, err := svc.PutZone(ctx, pAdmin, "hangzhou-bay", ZoneInput{Name: "杭州湾", Areas: []string{jinshan, fengxian}}); err != nil {
		t.Fatal(err)
	}
	plant := addEnterprise(t, st, "91310116MA1FL00033", "金山石化", true, jinshanPoint)
	addEnterprise(t, st, "91310116MA1FL00044", "金山仓储", false, jinshanPoint)
	addEnterprise(t, st, "91310104MA1FL00055", "徐汇化工", true, westPoint)
	second := addEnterprise(t, st, "91310120MA1FL00066", "奉贤化工", true, fengxianPoint)
	tieHazard(t, st, "重大", plant, "2020-01-01", jinshanPoint)
	tieHazard(t, st, "一般", plant, "2020-01-01", jinshanPoint)
	tieHazard(t, st, "一般", plant, "2999-01-01", jinshanPoint)
	tieHazard(t, st, "一般", second, "", fengxianPoint)
	rows := testdb.NewRiskRows(t, st)
	snap := rows.Snapshot("2026-12-01", warnRules())
	rows.Cell(snap, int64FromCell(jinshanPoint), jinshan, "310116001", "red", 95)
	for _, p := range []*grid.Principal{pFengxian, pJinshan, pPlanner} {
		ms, err := svc.ZoneMajorHazards(ctx, p, "hangzhou-bay")
		if err != nil {
			t.Fatalf("%s: %v", p.Username, err)
		}
		if len(ms) != 2 {
			t.Fatalf("%s: %+v", p.Username, ms)
		}
		m := ms[0]
		if m.USCC != plant || m.OpenHazards != 3 || m.OverdueOpen != 2 || m.MajorOverdue != 1 || m.RiskLevel != "较大" ||
			m.RiskColour != Orange || m.CellColour == nil || *m.CellColour != Red || m.DistrictCode != jinshan {
			t.Errorf("%s: first %+v", p.Username, m)
		}
		if ms[1].USCC != second || ms[1].OpenHazards != 1 || ms[1].OverdueOpen != 0 || ms[1].CellColour != nil {
			t.Errorf("%s: second %+v", p.Username, ms[1])
		}
	}
	var nf *grid.NotFoundError
	if _, err := svc.ZoneMajorHazards(ctx, pXuhui, "hangzhou-bay"); !errors.As(err, &nf) {
		t.Errorf("a non-member: %v", err)
	}
	if _, err := svc.ZoneMajorHazards(ctx, pOfficer, "hangzhou-bay"); !errors.Is(err, grid.ErrForbidden) {
		t.Errorf("an officer: %v", err)
	}
}
