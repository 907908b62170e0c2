package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// districtFixture is the grid fixture (district 310101: streets A and B, hazards H1-H6,
// units U1-U3) plus a second district, 310115 (浦东), with one street, a community, an
// enterprise E7, a hazard H7 and a grid unit U7 on cell c7; and a district bureau user
// for each: qu (310101) and qu2 (310115).
type districtFixture struct {
	*gridFixture
	qu, qu2 string
	c7      h3.Cell
	h7      int64
}

const (
	otherDistrict = "310115"
	otherStreet   = "310115001"
)

func newDistrictFixture(t *testing.T) *districtFixture {
	t.Helper()
	f := &districtFixture{gridFixture: newGridFixture(t)}
	ctx := context.Background()
	db := testdb.DB(f.ts.st)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for _, a := range []struct {
		code, name string
		x0, x1     float64
	}{{otherDistrict, "浦东新区", 121.55, 121.70}, {otherStreet, "丙街道", 121.55, 121.70}, {otherStreet + "001", "丙一居委", 121.55, 121.70}} {
		exec(`INSERT INTO areas (code, name, geom) VALUES ($1, $2, ST_Multi(ST_MakeEnvelope($3, 31.18, $4, 31.28, 4326)))`, a.code, a.name, a.x0, a.x1)
	}
	exec(`INSERT INTO area_parts (code, level, geom) SELECT code, level, (ST_Dump(geom)).geom FROM areas WHERE district_code = $1`, otherDistrict)
	f.c7 = geo.PointCell(orb.Point{121.60, 31.22}, 9)
	f.ts.addUser(t, "off7", grid.RoleOfficer, "")
	exec(`INSERT INTO grid_units (code, name, street_code, officer_id) VALUES ('U7', '丙一网格', $1, (SELECT id FROM users WHERE username = 'off7'))`, otherStreet)
	exec(`INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ($1, $2, 'U7')`, otherDistrict, int64(f.c7))
	p := centre(f.c7, 0, 0)
	const tagged = `FROM (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS p) g, LATERAL area_tag(g.p) t`
	exec(`INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, street_code, community_code, h3, geom)
SELECT t.district_code, $3, '浦东企业7', '工贸', '重大', t.street_code, t.community_code, $4, g.p `+tagged, p[0], p[1], testUSCC(t, 7), int64(f.c7))
	if err := db.QueryRow(ctx, `INSERT INTO hazards (district_code, code, level, category, description, street_code, community_code, h3, geom)
SELECT t.district_code, 'H7', '一般', '消防安全', '隐患7', t.street_code, t.community_code, $3, g.p `+tagged+` RETURNING id`,
		p[0], p[1], int64(f.c7)).Scan(&f.h7); err != nil {
		t.Fatal(err)
	}
	f.hazardID["H7"] = f.h7
	if _, err := f.ts.st.AddUser(ctx, "test", grid.User{Username: "qu", Role: grid.RoleDistrict, DistrictCode: "310101"}, "password-qu"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ts.st.AddUser(ctx, "test", grid.User{Username: "qu2", Role: grid.RoleDistrict, DistrictCode: otherDistrict}, "password-qu2"); err != nil {
		t.Fatal(err)
	}
	f.qu, f.qu2 = f.ts.login(t, "qu"), f.ts.login(t, "qu2")
	return f
}

// status GETs path as auth and returns the status and body.
func (f *districtFixture) status(t *testing.T, auth, path string) (int, []byte) {
	t.Helper()
	resp, body := f.get(t, auth, path, nil)
	return resp.StatusCode, body
}

// TestDistrictReadsItsDistrictOnly: a district bureau user reads everything of its
// district (hazards across its streets, their history, the street lists, OGC items, tiles,
// grid units, the grid audit, the analyses) and nothing of another district: a detail
// route answers 404 exactly like something that does not exist, and lists, counts and
// tiles leave it out.
func TestDistrictReadsItsDistrictOnly(t *testing.T) {
	f := newDistrictFixture(t)
	h7 := strconv.FormatInt(f.h7, 10)

	var me meResponse
	if resp, body := f.get(t, f.qu, "/api/v1/me", &me); resp.StatusCode != 200 || me.Role != grid.RoleDistrict ||
		me.DistrictCode == nil || *me.DistrictCode != "310101" || me.StreetCode != nil {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}

	var districts districtList
	if resp, body := f.get(t, f.qu, "/api/v1/districts", &districts); resp.StatusCode != 200 || len(districts.Items) != 2 ||
		districts.Items[0] != (supervise.Area{Code: "310101", Name: "黄浦区"}) {
		t.Errorf("districts: %d %s", resp.StatusCode, body)
	}

	// Hazard details and histories: all of 310101's, none of 310115's.
	for n := 1; n <= 6; n++ {
		for _, suffix := range []string{"", "/history"} {
			if st, body := f.status(t, f.qu, fmt.Sprintf("/api/v1/hazards/%d%s", f.hazardID[fmt.Sprintf("H%d", n)], suffix)); st != 200 {
				t.Errorf("H%d%s: %d %s", n, suffix, st, body)
			}
		}
	}
	if st, _ := f.status(t, f.qu2, "/api/v1/hazards/"+h7); st != 200 {
		t.Errorf("qu2 cannot read its own district's H7: %d", st)
	}
	missing := strconv.FormatInt(f.h7+1000, 10)
	for _, c := range []struct{ outside, missing, key, missKey string }{
		{"/api/v1/hazards/" + h7, "/api/v1/hazards/" + missing, h7, missing},
		{"/api/v1/hazards/" + h7 + "/history", "/api/v1/hazards/" + missing + "/history", h7, missing},
		{"/ogc/collections/hazards/items/" + h7, "/ogc/collections/hazards/items/" + missing, h7, missing},
		{"/api/v1/streets/" + otherStreet + "/hazards", "/api/v1/streets/310101099/hazards", otherStreet, "310101099"},
		{"/api/v1/streets/" + otherStreet + "/hazards?format=csv", "/api/v1/streets/310101099/hazards?format=csv", otherStreet, "310101099"},
		{"/api/v1/streets/" + otherStreet + "/summary", "/api/v1/streets/310101099/summary", otherStreet, "310101099"},
		{"/api/v1/districts/" + otherDistrict + "/hazards", "/api/v1/districts/310199/hazards", otherDistrict, "310199"},
		{"/api/v1/districts/" + otherDistrict + "/hazards?format=xlsx", "/api/v1/districts/310199/hazards?format=xlsx", otherDistrict, "310199"},
		{"/api/v1/districts/" + otherDistrict + "/summary", "/api/v1/districts/310199/summary", otherDistrict, "310199"},
		{"/api/v1/districts/310101/hazards?street=" + otherStreet, "/api/v1/districts/310101/hazards?street=310101099", otherStreet, "310101099"},
		{"/api/v1/grid/units/U7", "/api/v1/grid/units/U99", "U7", "U99"},
		{"/api/v1/grid/units?street=" + otherStreet, "/api/v1/grid/units?street=310101099", otherStreet, "310101099"},
		{"/api/v1/grid/audit?street=" + otherStreet, "/api/v1/grid/audit?street=310101099", otherStreet, "310101099"},
	} {
		st1, out := f.status(t, f.qu, c.outside)
		st2, miss := f.status(t, f.qu, c.missing)
		if st1 != st2 || (st1 != 404 && st1 != 400) || !bytes.Equal(sameAnswer(out, c.key), sameAnswer(miss, c.missKey)) {
			t.Errorf("%s:\n outside %d %s\n missing %d %s", c.outside, st1, out, st2, miss)
		}
	}

	// The district's list across its streets: the six hazards of 310101, never H7.
	var page hazardPage
	if resp, body := f.get(t, f.qu, "/api/v1/districts/310101/hazards", &page); resp.StatusCode != 200 || page.Total != 6 || len(page.Items) != 6 {
		t.Fatalf("district hazards: %d %s", resp.StatusCode, body)
	}
	for _, it := range page.Items {
		if it.Code == "H7" || it.StreetCode == nil || !strings.HasPrefix(*it.StreetCode, "310101") {
			t.Errorf("district list item %+v", it)
		}
	}
	// The street filter gives exactly the street's list, as the street's own route does.
	var byStreet, streetOwn hazardPage
	f.get(t, f.qu, "/api/v1/districts/310101/hazards?street="+f.streetB, &byStreet)
	if resp, body := f.get(t, f.qu, "/api/v1/streets/"+f.streetB+"/hazards", &streetOwn); resp.StatusCode != 200 {
		t.Fatalf("street B as qu: %d %s", resp.StatusCode, body)
	}
	if byStreet.Total != 1 || byStreet.Items[0].Code != "H6" || streetOwn.Total != 1 || streetOwn.Items[0].ID != byStreet.Items[0].ID {
		t.Errorf("street B filter %+v, street route %+v", byStreet, streetOwn)
	}
	var filtered hazardPage
	f.get(t, f.qu, "/api/v1/districts/310101/hazards?level=重大&sort=reported_at", &filtered)
	if filtered.Total != 2 || filtered.Items[0].Code != "H1" || filtered.Items[1].Code != "H5" {
		t.Errorf("重大 hazards of the district: %+v", filtered)
	}
	// The export holds the same rows as the list.
	resp, body := f.get(t, f.qu, "/api/v1/districts/310101/hazards?format=csv", nil)
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF")))).ReadAll()
	if resp.StatusCode != 200 || err != nil || resp.Header.Get("X-Total-Count") != "6" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "hazards-310101.csv") {
		t.Fatalf("district export: %d %v %v", resp.StatusCode, err, resp.Header)
	}
	compareExport(t, "district csv", rows, page.Items)

	// The summary by street adds up to the list, and counts no other district.
	var sum supervise.DistrictSummary
	if resp, body := f.get(t, f.qu, "/api/v1/districts/310101/summary", &sum); resp.StatusCode != 200 {
		t.Fatalf("district summary: %d %s", resp.StatusCode, body)
	}
	perStreet := map[string]int{}
	for _, s := range sum.Streets {
		perStreet[s.Code] = s.Hazards
	}
	if sum.Total.Hazards != 6 || perStreet[f.streetA] != 5 || perStreet[f.streetB] != 1 || len(sum.Streets) != 2 || sum.Total.Enterprises != 6 {
		t.Errorf("district summary %+v", sum)
	}
	var streetSum supervise.StreetSummary
	f.get(t, f.qu, "/api/v1/streets/"+f.streetA+"/summary", &streetSum)
	if streetSum.Total.Hazards != perStreet[f.streetA] || streetSum.Total.Overdue != sum.Streets[0].Overdue {
		t.Errorf("street A's summary %+v disagrees with the district's %+v", streetSum.Total, sum.Streets[0])
	}

	// OGC items and their counts.
	ids, matched := f.allItems(t, f.qu, "/ogc/collections/hazards/items?limit=2")
	if matched != 6 || len(ids) != 6 || slices.Contains(ids, f.h7) {
		t.Errorf("OGC hazards for qu: %v (matched %d)", ids, matched)
	}
	ids, matched = f.allItems(t, f.qu2, "/ogc/collections/hazards/items")
	if matched != 1 || !slices.Equal(ids, []int64{f.h7}) {
		t.Errorf("OGC hazards for qu2: %v (matched %d)", ids, matched)
	}
	ents := f.items(t, f.qu, "/ogc/collections/enterprises/items")
	if ents.NumberMatched != 6 || slices.Contains(ents.props("name"), "浦东企业7") {
		t.Errorf("OGC enterprises for qu: %v", ents.props("name"))
	}
	if p := f.items(t, f.qu, "/ogc/collections/pipelines/items"); p.NumberMatched != 1 {
		t.Errorf("OGC pipelines for qu: %d", p.NumberMatched)
	}

	// Tiles: 310101's features, none over c7; qu2's tile over c7 has them.
	got, _ := f.collect(t, f.qu, "hazards", 14, "code")
	if !sameSet(values(got), []string{"H1", "H2", "H3", "H4", "H5", "H6"}) {
		t.Errorf("qu's hazard tiles: %v", values(got))
	}
	over7 := maptile.At(centre(f.c7, 0, 0), 15)
	for _, layer := range []string{"hazards", "enterprises", "grid_cells"} {
		if l, _ := f.tileOf(t, f.qu, layer, over7); len(l) != 0 && len(l[0].Features) != 0 {
			t.Errorf("qu's %s tile over c7: %v", layer, l[0].Features[0].Properties)
		}
		if l, _ := f.tileOf(t, f.qu2, layer, over7); len(l) != 1 || len(l[0].Features) == 0 {
			t.Errorf("qu2's %s tile over c7 is empty", layer)
		}
	}
	cells, _ := f.collect(t, f.qu, "grid_cells", 13, "unit_code")
	if !sameSet(values(cells), []string{"U1", "U1", "U2", "U3"}) {
		t.Errorf("qu's grid cells: %v", cells)
	}

	// Grid units and the audit: its district's.
	var units supervise.UnitPage
	if resp, body := f.get(t, f.qu, "/api/v1/grid/units", &units); resp.StatusCode != 200 || units.Total != 3 {
		t.Errorf("qu's grid units: %d %s", resp.StatusCode, body)
	}
	f.get(t, f.qu2, "/api/v1/grid/units", &units)
	if units.Total != 1 || units.Items[0].Code != "U7" {
		t.Errorf("qu2's grid units: %+v", units)
	}
	var audit supervise.GridAudit
	if resp, body := f.get(t, f.qu, "/api/v1/grid/audit", &audit); resp.StatusCode != 200 {
		t.Fatalf("qu's grid audit: %d %s", resp.StatusCode, body)
	}
	for _, e := range audit.UnsupervisedEnterprises.Items {
		if e.StreetCode == nil || !strings.HasPrefix(*e.StreetCode, "310101") {
			t.Errorf("qu's audit lists %+v", e)
		}
	}
	for _, w := range audit.Workloads.Items {
		if w.Officer == "off7" {
			t.Errorf("qu's audit lists off7's workload")
		}
	}
	f.get(t, f.qu2, "/api/v1/grid/audit", &audit)
	if audit.Workloads.Total != 1 || audit.Workloads.Items[0].Officer != "off7" || audit.UnsupervisedEnterprises.Total != 0 || audit.UnitsWithoutOfficer.Total != 0 {
		t.Errorf("qu2's audit %+v", audit)
	}

	// Analyses: its district only; another district, or a street of one, is 403.
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if resp, body := f.get(t, f.qu, "/api/v1/analysis/hotspots?resolution=9", &fc); resp.StatusCode != 200 {
		t.Fatalf("qu's hot spots: %d %s", resp.StatusCode, body)
	}
	total := 0
	for _, ft := range fc.Features {
		n, _ := ft.Properties["count"].(float64)
		total += int(n)
		if ft.Properties["cell"] == f.c7.String() {
			t.Errorf("qu's hot spots include c7")
		}
	}
	if total != 6 {
		t.Errorf("qu's hot spots count %d hazards, want 6", total)
	}
	for _, q := range []string{"district=" + otherDistrict, "street=" + otherStreet} {
		if st, body := f.status(t, f.qu, "/api/v1/analysis/hazard-clusters?"+q); st != 403 {
			t.Errorf("clusters of %s: %d %s", q, st, body)
		}
	}
	if st, _ := f.status(t, f.qu, "/api/v1/analysis/hazard-clusters?street="+f.streetA); st != 200 {
		t.Errorf("clusters of its own street: %d", st)
	}

	// Kept answers never cross districts: the same URL as qu2 right after qu.
	f.allItems(t, f.qu, "/ogc/collections/hazards/items?limit=50")
	if ids, _ := f.allItems(t, f.qu2, "/ogc/collections/hazards/items?limit=50"); !slices.Equal(ids, []int64{f.h7}) {
		t.Errorf("qu2 got qu's kept answer: %v", ids)
	}
	f.status(t, f.qu, "/api/v1/districts/310101/summary")
	if st, _ := f.status(t, f.qu2, "/api/v1/districts/310101/summary"); st != 404 {
		t.Errorf("qu2 read 310101's summary: %d", st)
	}
}

// TestDistrictCannotWrite: the district bureau reads and escalates; the lifecycle's steps,
// reports, inspections, grid units, users, imports and webhooks are refused by role (403,
// the same whatever the object), and coverage stays the planners'.
func TestDistrictCannotWrite(t *testing.T) {
	f := newDistrictFixture(t)
	h1 := f.hazardID["H1"]
	p := centre(f.c1, 0.0002, 0)
	for _, c := range []struct{ method, path, body string }{
		{"POST", fmt.Sprintf("/api/v1/hazards/%d/transition", h1), `{"to":"registered","version":1}`},
		{"POST", fmt.Sprintf("/api/v1/hazards/%d/transition", f.h7), `{"to":"registered","version":1}`},
		{"POST", "/api/v1/hazards", fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v}`, p[0], p[1])},
		{"POST", "/api/v1/inspections", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E1"], p[0], p[1])},
		{"POST", "/api/v1/grid/units", `{}`},
		{"PUT", "/api/v1/grid/units/U1", `{}`},
		{"DELETE", "/api/v1/grid/units/U1", ``},
		{"POST", "/api/v1/grid/units/U1/officer", `{"officer":"off3"}`},
		{"GET", "/api/v1/admin/users", ``},
		{"POST", "/api/v1/admin/users", `{"username":"x1","role":"planner"}`},
		{"GET", "/api/v1/admin/audit", ``},
		{"GET", "/api/v1/admin/webhooks", ``},
		{"POST", "/api/v1/analysis/coverage", `{}`},
		{"GET", "/api/v1/analysis/coverage/cells", ``},
		{"GET", "/api/v1/me/cells", ``},
		{"GET", "/api/v1/cells/" + f.c1.String(), ``},
	} {
		resp, body := f.ts.do(t, c.method, c.path, c.body, "Authorization", f.qu, "Content-Type", "application/json")
		if resp.StatusCode != 403 {
			t.Errorf("%s %s as qu: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM hazard_history WHERE actor = 'qu'`); n != 0 {
		t.Errorf("qu wrote %d history rows", n)
	}
}

// TestEscalateHazard: 挂牌督办 raises a 一般 hazard of the bureau's district to 重大 with a
// note, in the history, the audit log and the street office's notifications; another
// district's hazard is a 404 like a missing one; the street office may not (403); a stale
// version is a 409; a hazard 重大 already, or closed, and a missing note are 422s naming
// the field; nothing is written by a refusal.
func TestEscalateHazard(t *testing.T) {
	f := newDistrictFixture(t)
	h6 := f.hazardID["H6"] // 一般, reported, street B
	path := func(id int64) string { return fmt.Sprintf("/api/v1/hazards/%d/escalate", id) }
	body := func(note string, version int) string {
		return fmt.Sprintf(`{"note":%q,"version":%d}`, note, version)
	}
	refused := func(auth string, id int64, b string, status int, field string) {
		t.Helper()
		resp, raw := f.post(t, auth, path(id), b)
		pr := problemOf(t, resp, raw, status)
		if field != "" && (len(pr.Errors) == 0 || pr.Errors[0].Field != field) {
			t.Errorf("POST %s %s: %s, want the field %s", path(id), b, raw, field)
		}
	}
	refused(f.qu, f.h7, body("督办", 1), 404, "")
	missing := f.h7 + 1000
	_, outside := f.post(t, f.qu, path(f.h7), body("督办", 1))
	_, miss := f.post(t, f.qu, path(missing), body("督办", 1))
	if !bytes.Equal(sameAnswer(outside, strconv.FormatInt(f.h7, 10)), sameAnswer(miss, strconv.FormatInt(missing, 10))) {
		t.Errorf("another district's hazard %s, a missing one %s", outside, miss)
	}
	refused(f.stb, h6, body("督办", 1), 403, "")
	refused(f.off1, f.hazardID["H1"], body("督办", 1), 403, "")
	refused(f.planner, h6, body("督办", 1), 403, "")
	refused(f.qu, h6, body("督办", 7), 409, "")
	refused(f.qu, h6, body("  ", 1), 422, "note")
	refused(f.qu, h6, `{"version":1}`, 422, "note")
	refused(f.qu, f.hazardID["H1"], body("督办", 1), 422, "level") // 重大 already
	refused(f.qu, f.hazardID["H2"], body("督办", 1), 422, "level") // closed
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM audit_log WHERE action = 'hazard_escalate'`); n != 0 {
		t.Fatalf("%d escalations audited after refusals", n)
	}

	resp, raw := f.post(t, f.qu, path(h6), body("逾期未整改，区安监局挂牌督办", 1))
	var h supervise.HazardDetail
	if err := json.Unmarshal(raw, &h); resp.StatusCode != 200 || err != nil {
		t.Fatalf("escalate: %d %s", resp.StatusCode, raw)
	}
	last := h.History[len(h.History)-1]
	if h.Level != "重大" || !h.Supervised || h.Version != 2 || h.Status != "reported" ||
		last.Actor != "qu" || last.Note == nil || *last.Note != "逾期未整改，区安监局挂牌督办" || last.Details["escalated"] != true ||
		last.Details["level_from"] != "一般" || last.From == nil || *last.From != "reported" || last.To != "reported" {
		t.Errorf("escalated hazard %+v, last step %+v", h, last)
	}
	// The answer is what a read then returns, with the same ETag.
	resp2, again := f.get(t, f.qu, fmt.Sprintf("/api/v1/hazards/%d", h6), nil)
	if !bytes.Equal(raw, again) || resp.Header.Get("ETag") != resp2.Header.Get("ETag") {
		t.Errorf("escalation answer and read differ:\n%s\n%s", raw, again)
	}
	var events struct {
		Items []map[string]any `json:"items"`
	}
	f.get(t, f.stb, fmt.Sprintf("/api/v1/hazards/%d/history", h6), &events)
	if len(events.Items) == 0 || events.Items[len(events.Items)-1]["action"] != "hazard_escalate" {
		t.Errorf("history for the street office: %v", events)
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM audit_log WHERE action = 'hazard_escalate' AND actor = 'qu' AND street_code = $1`, f.streetB); n != 1 {
		t.Errorf("%d escalation audit records", n)
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM notify_outbox WHERE kind = 'supervised' AND recipient_kind = 'street' AND recipient = $1`, f.streetB); n != 1 {
		t.Errorf("%d supervised messages to street B", n)
	}
	// The street lists see the new level at once (kept answers follow the hazards' version).
	var list hazardPage
	f.get(t, f.stb, "/api/v1/streets/"+f.streetB+"/hazards?level=重大", &list)
	if list.Total != 1 || list.Items[0].ID != h6 {
		t.Errorf("street B's 重大 list after the escalation: %+v", list)
	}
	refused(f.qu, h6, body("again", 2), 422, "level")
	// An admin escalates anywhere.
	resp, raw = f.post(t, f.admin, path(f.h7), body("市级督办", 1))
	if resp.StatusCode != 200 {
		t.Errorf("admin escalation of H7: %d %s", resp.StatusCode, raw)
	}
}

// TestDistrictUsersAdmin: the district role needs a loaded district (district_code), an
// area of level district; no other role takes one; role changes clear or require it; the
// list filters by district.
func TestDistrictUsersAdmin(t *testing.T) {
	f := newDistrictFixture(t)
	refused := func(method, path, b, field, reason string) {
		t.Helper()
		resp, raw := f.ts.do(t, method, path, b, "Authorization", f.admin, "Content-Type", "application/json")
		pr := problemOf(t, resp, raw, 422)
		if len(pr.Errors) != 1 || pr.Errors[0].Field != field || !strings.Contains(pr.Errors[0].Reason, reason) {
			t.Errorf("%s %s %s: %s, want %s: %s", method, path, b, raw, field, reason)
		}
	}
	refused("POST", "/api/v1/admin/users", `{"username":"qu3","role":"district"}`, "district_code", "is required for the role district")
	refused("POST", "/api/v1/admin/users", `{"username":"qu3","role":"district","district_code":"310101001"}`, "district_code", "6-digit district code")
	refused("POST", "/api/v1/admin/users", `{"username":"qu3","role":"district","district_code":"310199"}`, "district_code", "310199 is not a loaded district")
	refused("POST", "/api/v1/admin/users", `{"username":"qu3","role":"street","street_code":"310101001","district_code":"310101"}`, "district_code", "only a district bureau user")
	refused("POST", "/api/v1/admin/users", `{"username":"qu3","role":"district","district_code":"310101","street_code":"310101001"}`, "street_code", "only a street office user")
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM users WHERE username = 'qu3'`); n != 0 {
		t.Fatal("a refused user was stored")
	}
	resp, raw := f.post(t, f.admin, "/api/v1/admin/users", `{"username":"qu3","role":"district","district_code":"310115","password":"qu3-password"}`)
	var made createUserResponse
	if err := json.Unmarshal(raw, &made); resp.StatusCode != 201 || err != nil || made.User.DistrictCode != otherDistrict || made.User.StreetCode != "" {
		t.Fatalf("create qu3: %d %s", resp.StatusCode, raw)
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM audit_log WHERE action = 'user_add' AND object_id = 'qu3' AND details->>'district_code' = $1`, otherDistrict); n != 1 {
		t.Errorf("user_add audit of qu3: %d", n)
	}
	// Role changes: to street needs a street, and clears the district; to district needs one.
	refused("PATCH", "/api/v1/admin/users/qu3", `{"role":"street"}`, "street_code", "is required for the role street")
	refused("PATCH", "/api/v1/admin/users/qu3", `{"district_code":"310101003"}`, "district_code", "6-digit district code")
	var u userInfo
	resp, raw = f.ts.do(t, "PATCH", "/api/v1/admin/users/qu3", `{"role":"street","street_code":"310101001"}`, "Authorization", f.admin, "Content-Type", "application/json")
	if err := json.Unmarshal(raw, &u); resp.StatusCode != 200 || err != nil || u.Role != "street" || u.DistrictCode != "" || u.StreetCode != "310101001" {
		t.Fatalf("qu3 to street: %d %s", resp.StatusCode, raw)
	}
	refused("PATCH", "/api/v1/admin/users/qu3", `{"role":"district"}`, "district_code", "is required for the role district")
	u = userInfo{}
	resp, raw = f.ts.do(t, "PATCH", "/api/v1/admin/users/qu3", `{"role":"district","district_code":"310101"}`, "Authorization", f.admin, "Content-Type", "application/json")
	if err := json.Unmarshal(raw, &u); resp.StatusCode != 200 || err != nil || u.DistrictCode != "310101" || u.StreetCode != "" {
		t.Fatalf("qu3 back to district: %d %s", resp.StatusCode, raw)
	}
	// Its session follows the new district at once.
	tok := f.ts.loginWith(t, "qu3", "qu3-password")
	if st, _ := f.status(t, tok, "/api/v1/districts/310101/summary"); st != 200 {
		t.Errorf("qu3 cannot read its new district: %d", st)
	}
	// The list's district filter: the bureau users, the street offices and the officers of the district.
	var pg userPage
	f.get(t, f.admin, "/api/v1/admin/users?district=310101", &pg)
	var names []string
	for _, it := range pg.Items {
		names = append(names, it.Username)
	}
	if want := []string{"off1", "qu", "qu3", "sta", "stb"}; !slices.Equal(names, want) {
		t.Errorf("users of 310101: %v, want %v", names, want)
	}
	f.get(t, f.admin, "/api/v1/admin/users?district="+otherDistrict, &pg)
	if pg.Total != 2 { // qu2 and off7
		t.Errorf("users of %s: %+v", otherDistrict, pg)
	}
	if st, raw := f.status(t, f.admin, "/api/v1/admin/users?district=310199"); st != 400 || !strings.Contains(string(raw), "district") {
		t.Errorf("unknown district filter: %d %s", st, raw)
	}
}
