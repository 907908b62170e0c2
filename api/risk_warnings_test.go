package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// riskFixture serves testdb.RiskDistricts with a user of each kind: the street offices
// of 徐汇's west (stw) and east (ste) streets, the bureaus of 徐汇, 金山 and 奉贤, an
// officer, a planner and an admin; and early warnings in each district.
type riskFixture struct {
	ts                                                 *testServer
	stw, ste, xuhui, jinshan, fengxian, off, plan, adm string
	// The warnings: of the west street, the east street's community, 徐汇 itself, 金山's
	// street and 奉贤.
	wWest, wEast, wXuhui, wJinshan, wFengxian int64
}

func newRiskFixture(t *testing.T) *riskFixture {
	t.Helper()
	ts := serverOn(t, testdb.New(t, testdb.RiskDistricts), nil)
	ctx := context.Background()
	for _, u := range []grid.User{
		{Username: "stw", Role: grid.RoleStreet, StreetCode: "310104003"},
		{Username: "ste", Role: grid.RoleStreet, StreetCode: "310104004"},
		{Username: "d310104", Role: grid.RoleDistrict, DistrictCode: "310104"},
		{Username: "d310116", Role: grid.RoleDistrict, DistrictCode: "310116"},
		{Username: "d310120", Role: grid.RoleDistrict, DistrictCode: "310120"},
		{Username: "off", Role: grid.RoleOfficer},
		{Username: "plan", Role: grid.RolePlanner},
		{Username: "adm", Role: grid.RoleAdmin},
	} {
		if _, err := ts.st.AddUser(ctx, "test", u, "password-"+u.Username); err != nil {
			t.Fatal(err)
		}
	}
	f := &riskFixture{ts: ts, stw: ts.login(t, "stw"), ste: ts.login(t, "ste"), xuhui: ts.login(t, "d310104"),
		jinshan: ts.login(t, "d310116"), fengxian: ts.login(t, "d310120"), off: ts.login(t, "off"),
		plan: ts.login(t, "plan"), adm: ts.login(t, "adm")}
	// Ids of six digits, so that an id never reads as part of a status in sameAnswer.
	if _, err := testdb.DB(ts.st).Exec(ctx, `ALTER TABLE risk_warnings ALTER COLUMN id RESTART WITH 100001`); err != nil {
		t.Fatal(err)
	}
	add := func(district, street, level, code, cause string) int64 {
		var id int64
		if err := testdb.DB(ts.st).QueryRow(ctx, `INSERT INTO risk_warnings (district_code, street_code, area_level, area_code, rule, cause, title, reason, figures)
VALUES ($1, nullif($2, ''), $3, $4, 'turned_red', $5, '转为红色（重大风险）', '得分 90', '{"score": 90}') RETURNING id`,
			district, street, level, code, cause).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	f.wWest = add("310104", "310104003", "street", "310104003", "a")
	f.wEast = add("310104", "310104004", "community", "310104004001", "b")
	f.wXuhui = add("310104", "", "district", "310104", "c")
	f.wJinshan = add("310116", "310116001", "street", "310116001", "d")
	f.wFengxian = add("310120", "", "district", "310120", "e")
	return f
}

func (f *riskFixture) do(t *testing.T, method, path, auth, body string) (int, []byte) {
	t.Helper()
	resp, data := f.ts.do(t, method, path, body, "Authorization", auth, "X-Request-ID", "risk-1", "Content-Type", "application/json")
	return resp.StatusCode, data
}

// warningIDs reads a list's ids and total.
func warningIDs(t *testing.T, body []byte) (string, int) {
	t.Helper()
	var page struct {
		Warnings []struct {
			ID int64 `json:"id"`
		} `json:"warnings"`
		Total int `json:"total"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	var ids []string
	for _, w := range page.Warnings {
		ids = append(ids, strconv.FormatInt(w.ID, 10))
	}
	return strings.Join(ids, ","), page.Total
}

func idList(ids ...int64) string {
	var out []string
	for _, id := range ids {
		out = append(out, strconv.FormatInt(id, 10))
	}
	return strings.Join(out, ",")
}

// Each role sees its own warnings, newest first; a zone member with zone= the zone's;
// officers are refused; a warning out of scope answers byte for byte like a missing one.
func TestRiskWarningsAPIScope(t *testing.T) {
	f := newRiskFixture(t)
	if code, body := f.do(t, "PUT", "/api/v1/risk/zones/hangzhou-bay", f.adm, `{"name":"杭州湾","areas":["310116","310120"]}`); code != 200 {
		t.Fatalf("zone: %d %s", code, body)
	}
	all := idList(f.wFengxian, f.wJinshan, f.wXuhui, f.wEast, f.wWest)
	for _, c := range []struct {
		who, auth, query, want string
	}{
		{"admin", f.adm, "", all},
		{"planner", f.plan, "", all},
		{"street west", f.stw, "", idList(f.wWest)},
		{"street east", f.ste, "", idList(f.wEast)},
		{"徐汇", f.xuhui, "", idList(f.wXuhui, f.wEast, f.wWest)},
		{"金山", f.jinshan, "", idList(f.wJinshan)},
		{"金山 in the zone", f.jinshan, "?zone=hangzhou-bay", idList(f.wFengxian, f.wJinshan)},
		{"奉贤 in the zone", f.fengxian, "?zone=hangzhou-bay", idList(f.wFengxian, f.wJinshan)},
		{"徐汇, one street", f.xuhui, "?street=310104004", idList(f.wEast)},
		{"admin, status new", f.adm, "?status=new&rule=turned_red&district=310116", idList(f.wJinshan)},
		{"admin, a page", f.adm, "?limit=2&offset=1", idList(f.wJinshan, f.wXuhui)},
	} {
		code, body := f.do(t, "GET", "/api/v1/risk/warnings"+c.query, c.auth, "")
		if code != 200 {
			t.Fatalf("%s: %d %s", c.who, code, body)
		}
		ids, total := warningIDs(t, body)
		if ids != c.want || (c.query == "" && total != len(strings.Split(c.want, ","))) {
			t.Errorf("%s: %s (total %d), want %s", c.who, ids, total, c.want)
		}
	}
	for _, c := range []struct {
		what, auth, path string
		status           int
		field            string
	}{
		{"officer", f.off, "/api/v1/risk/warnings", 403, ""},
		{"officer, one", f.off, fmt.Sprintf("/api/v1/risk/warnings/%d", f.wWest), 403, ""},
		{"officer acknowledges", f.off, fmt.Sprintf("/api/v1/risk/warnings/%d/acknowledge", f.wWest), 403, ""},
		{"not a member of the zone", f.xuhui, "/api/v1/risk/warnings?zone=hangzhou-bay", 404, ""},
		{"bad status", f.adm, "/api/v1/risk/warnings?status=open", 400, "status"},
		{"bad rule", f.adm, "/api/v1/risk/warnings?rule=fire", 400, "rule"},
		{"unknown street", f.adm, "/api/v1/risk/warnings?street=310104999", 400, "street"},
		{"bad limit", f.adm, "/api/v1/risk/warnings?limit=0", 422, "limit"},
	} {
		method := "GET"
		if strings.HasSuffix(c.path, "acknowledge") {
			method = "POST"
		}
		code, body := f.do(t, method, c.path, c.auth, `{"note":"x","version":1}`)
		if code != c.status || c.field != "" && !strings.Contains(string(body), `"field":"`+c.field+`"`) {
			t.Errorf("%s: %d %s", c.what, code, body)
		}
	}
	// Out of scope reads like missing: GET and POST, for a street and a district.
	missing := strconv.FormatInt(f.wFengxian+1000, 10)
	for _, c := range []struct {
		who, auth string
		outside   int64
		suffix    string
	}{
		{"street west, the east street's", f.stw, f.wEast, ""},
		{"street west, the district's", f.stw, f.wXuhui, ""},
		{"徐汇, 金山's", f.xuhui, f.wJinshan, ""},
		{"徐汇 acknowledges 金山's", f.xuhui, f.wJinshan, "/acknowledge"},
		{"金山 acknowledges 奉贤's (a zone member, read-only)", f.jinshan, f.wFengxian, "/acknowledge"},
		{"street east closes the west's", f.ste, f.wWest, "/close"},
	} {
		method := "GET"
		if c.suffix != "" {
			method = "POST"
		}
		id := strconv.FormatInt(c.outside, 10)
		code, out := f.do(t, method, "/api/v1/risk/warnings/"+id+c.suffix, c.auth, `{"note":"已知悉","version":1}`)
		mcode, miss := f.do(t, method, "/api/v1/risk/warnings/"+missing+c.suffix, c.auth, `{"note":"已知悉","version":1}`)
		if code != 404 || mcode != 404 || !bytes.Equal(sameAnswer(out, id), sameAnswer(miss, missing)) {
			t.Errorf("%s: %d %s, missing %d %s", c.who, code, out, mcode, miss)
		}
	}
	// A zone member reads the zone's warning with zone=, not without.
	if code, body := f.do(t, "GET", fmt.Sprintf("/api/v1/risk/warnings/%d?zone=hangzhou-bay", f.wFengxian), f.jinshan, ""); code != 200 ||
		!strings.Contains(string(body), `"area_name":"奉贤区"`) || !strings.Contains(string(body), `"figures":{"score":90}`) {
		t.Errorf("zone read: %d %s", code, body)
	}
	if code, _ := f.do(t, "GET", fmt.Sprintf("/api/v1/risk/warnings/%d", f.wFengxian), f.jinshan, ""); code != 404 {
		t.Errorf("without zone=: %d", code)
	}
	// Planners read only.
	if code, body := f.do(t, "POST", fmt.Sprintf("/api/v1/risk/warnings/%d/close", f.wWest), f.plan, `{"version":1}`); code != 403 {
		t.Errorf("planner closes: %d %s", code, body)
	}
}

// new → acknowledged (note required) → closed over HTTP: 409 on a stale version, 422 on
// a missing note or a step the flow lacks, the audit log naming each step.
func TestRiskWarningsAPIFlow(t *testing.T) {
	f := newRiskFixture(t)
	ack := fmt.Sprintf("/api/v1/risk/warnings/%d/acknowledge", f.wWest)
	closeURL := fmt.Sprintf("/api/v1/risk/warnings/%d/close", f.wWest)
	for _, c := range []struct {
		what, path, body string
		status           int
		field            string
	}{
		{"no note", ack, `{"version":1}`, 422, "note"},
		{"blank note", ack, `{"note":"  ","version":1}`, 422, "note"},
		{"long note", ack, `{"note":"` + strings.Repeat("注", 2001) + `","version":1}`, 422, "note"},
		{"NUL in the note", ack, `{"note":"a\u0000b","version":1}`, 422, "note"},
		{"no version", ack, `{"note":"x"}`, 422, "version"},
		{"unknown field", ack, `{"note":"x","version":1,"status":"closed"}`, 422, "status"},
		{"stale version", ack, `{"note":"已安排排查","version":3}`, 409, ""},
		{"acknowledged", ack, `{"note":"已安排排查","version":1}`, 200, ""},
		{"again", ack, `{"note":"再次","version":2}`, 422, "status"},
		{"close, stale", closeURL, `{"version":1}`, 409, ""},
		{"closed", closeURL, `{"note":"已整改","version":2}`, 200, ""},
		{"closed again", closeURL, `{"version":3}`, 422, "status"},
	} {
		code, body := f.do(t, "POST", c.path, f.stw, c.body)
		if code != c.status || c.field != "" && !strings.Contains(string(body), `"field":"`+c.field+`"`) {
			t.Errorf("%s: %d %s", c.what, code, body)
		}
	}
	code, body := f.do(t, "GET", fmt.Sprintf("/api/v1/risk/warnings/%d", f.wWest), f.xuhui, "")
	var w struct {
		Status         string `json:"status"`
		AckNote        string `json:"ack_note"`
		CloseNote      string `json:"close_note"`
		AcknowledgedBy string `json:"acknowledged_by"`
		ClosedBy       string `json:"closed_by"`
		Version        int    `json:"version"`
	}
	if err := json.Unmarshal(body, &w); code != 200 || err != nil || w.Status != "closed" || w.AckNote != "已安排排查" ||
		w.CloseNote != "已整改" || w.AcknowledgedBy != "stw" || w.ClosedBy != "stw" || w.Version != 3 {
		t.Errorf("the warning: %d %s", code, body)
	}
	// The district closes one of its own new warnings straight away.
	if code, body := f.do(t, "POST", fmt.Sprintf("/api/v1/risk/warnings/%d/close", f.wEast), f.xuhui, `{"version":1}`); code != 200 ||
		!strings.Contains(string(body), `"status":"closed"`) || !strings.Contains(string(body), `"close_note":null`) {
		t.Errorf("new → closed: %d %s", code, body)
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM audit_log WHERE object_kind = 'risk_warning' AND object_id = $1
   AND action IN ('risk_warning_acknowledge', 'risk_warning_close') AND actor = 'stw' AND street_code = '310104003'`, strconv.FormatInt(f.wWest, 10)); n != 2 {
		t.Errorf("%d audit records of the west warning", n)
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM audit_log WHERE object_kind = 'risk_warning'`); n != 3 {
		t.Errorf("%d audit records in all (refusals write none)", n)
	}
}

// Zones: members list and read theirs; admins define them (a refusal is a 400 naming the
// field, changing nothing) and remove them; officers are refused.
func TestRiskZonesAPI(t *testing.T) {
	f := newRiskFixture(t)
	for _, c := range []struct {
		what, body string
		status     int
		field      string
	}{
		{"no name", `{"areas":["310116"]}`, 422, "name"},
		{"duplicate area", `{"name":"湾区","areas":["310116","310120","310116"]}`, 400, "areas[2]"},
		{"unknown area", `{"name":"湾区","areas":["310116","310199"]}`, 400, "areas[1]"},
		{"both", `{"name":"湾区","areas":["310116"],"geometry":{"type":"Point","coordinates":[121.25,30.8]}}`, 400, "geometry"},
		{"a point", `{"name":"湾区","geometry":{"type":"Point","coordinates":[121.25,30.8]}}`, 400, "geometry"},
		{"in the sea", `{"name":"湾区","geometry":{"type":"Polygon","coordinates":[[[122.5,30.5],[122.6,30.5],[122.6,30.6],[122.5,30.5]]]}}`, 400, "geometry"},
		{"not JSON", `{"name":"湾区","areas":["310116"]`, 400, ""},
	} {
		code, body := f.do(t, "PUT", "/api/v1/risk/zones/bay", f.adm, c.body)
		if code != c.status || c.field != "" && !strings.Contains(string(body), `"field":"`+c.field+`"`) {
			t.Errorf("%s: %d %s", c.what, code, body)
		}
	}
	if code, body := f.do(t, "PUT", "/api/v1/risk/zones/Bad!", f.adm, `{"name":"x","areas":["310116"]}`); code != 400 || !strings.Contains(string(body), `"field":"code"`) {
		t.Errorf("bad code: %d %s", code, body)
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM risk_zones`); n != 0 {
		t.Fatalf("refusals wrote %d zones", n)
	}
	code, body := f.do(t, "PUT", "/api/v1/risk/zones/bay", f.adm,
		`{"name":"金山化工区","geometry":{"type":"Polygon","coordinates":[[[121.22,30.77],[121.28,30.77],[121.28,30.83],[121.22,30.83],[121.22,30.77]]]}}`)
	if code != 200 || !strings.Contains(string(body), `"areas":["310116","310116001"]`) || !strings.Contains(string(body), `"has_polygon":true`) {
		t.Fatalf("polygon zone: %d %s", code, body)
	}
	for _, c := range []struct {
		who, auth, method, path string
		status                  int
	}{
		{"金山 lists", f.jinshan, "GET", "/api/v1/risk/zones", 200},
		{"金山 reads", f.jinshan, "GET", "/api/v1/risk/zones/bay", 200},
		{"金山 reads its major hazards", f.jinshan, "GET", "/api/v1/risk/zones/bay/major-hazards", 200},
		{"奉贤 reads", f.fengxian, "GET", "/api/v1/risk/zones/bay", 404},
		{"奉贤 reads its major hazards", f.fengxian, "GET", "/api/v1/risk/zones/bay/major-hazards", 404},
		{"officer lists", f.off, "GET", "/api/v1/risk/zones", 403},
		{"planner defines", f.plan, "PUT", "/api/v1/risk/zones/bay", 403},
		{"district defines", f.jinshan, "PUT", "/api/v1/risk/zones/bay", 403},
		{"district removes", f.jinshan, "DELETE", "/api/v1/risk/zones/bay", 403},
		{"admin removes a missing zone", f.adm, "DELETE", "/api/v1/risk/zones/nope", 404},
	} {
		code, body := f.do(t, c.method, c.path, c.auth, `{"name":"x","areas":["310116"]}`)
		if code != c.status {
			t.Errorf("%s: %d %s", c.who, code, body)
		}
	}
	code, body = f.do(t, "GET", "/api/v1/risk/zones", f.fengxian, "")
	if code != 200 || string(body) != `{"zones":[]}` {
		t.Errorf("奉贤's zones: %d %s", code, body)
	}
	if code, body := f.do(t, "DELETE", "/api/v1/risk/zones/bay", f.adm, ""); code != 204 {
		t.Errorf("remove: %d %s", code, body)
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM audit_log WHERE object_kind = 'risk_zone' AND object_id = 'bay'`); n != 2 {
		t.Errorf("%d audit records", n)
	}
}
