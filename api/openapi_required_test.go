package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"safegrid/grid"
	"safegrid/grid/risk"
	"safegrid/grid/testdb"
)

// bodyExample is a valid request body for one documented operation, sent to a real URL.
type bodyExample struct {
	op     string // "POST /api/v1/hazards", as the document names it
	url    string
	auth   string
	body   string
	status int // the answer to the body as it is
}

// missingStatus is the answer to a body without a required field where it is not 422:
// the risk routes' contract makes a field the client got wrong a 400.
var missingStatus = map[string]int{"PUT /api/v1/risk/config": 400}

// TestOpenAPIRequiredFields holds the document to what the routes do, for every
// operation that documents a JSON request body (the test fails for one without an
// example here): the example is valid by the document's schema and the route takes it;
// without any one field the schema lists as required (at any depth, e.g. add[0].lon) the
// schema refuses it and the route answers 422 problem+json naming that field. Examples
// leave out what has a default (a coverage run is {} plus one what-if station), so a
// default documented as required would fail too.
func TestOpenAPIRequiredFields(t *testing.T) {
	f := newGridFixture(t)
	f.ts.addUser(t, "pw1", grid.RolePlanner, "")
	pw1 := f.ts.login(t, "pw1")
	loc := func(dx float64) (float64, float64) { p := centre(f.c1, dx, 0.0001); return p[0], p[1] }
	lon1, lat1 := loc(0.0001)
	lon2, lat2 := loc(-0.0001)
	// A webhook to change (a public address: the fixture's server refuses private ones).
	hookBody := fmt.Sprintf(`{"name":"值班","url":"https://203.0.113.9/hook","scope_kind":"street","scope_code":%q}`, f.streetA)
	resp, raw := f.post(t, f.admin, "/api/v1/admin/webhooks", hookBody)
	var hook struct {
		Webhook struct {
			ID int64 `json:"id"`
		} `json:"webhook"`
	}
	if err := json.Unmarshal(raw, &hook); resp.StatusCode != 201 || err != nil {
		t.Fatalf("a webhook: %d %s", resp.StatusCode, raw)
	}
	// Two early warnings of street A to acknowledge and close.
	var warn [2]int64
	for i := range warn {
		if err := testdb.DB(f.ts.st).QueryRow(context.Background(), `INSERT INTO risk_warnings (district_code, street_code, area_level, area_code, rule, cause, title, reason, figures)
VALUES ('310101', $1, 'street', $1, 'turned_red', $2, '转为红色', '测试', '{}') RETURNING id`, f.streetA, fmt.Sprint(i)).Scan(&warn[i]); err != nil {
			t.Fatal(err)
		}
	}
	riskCfg, err := json.Marshal(map[string]any{"config": risk.DefaultConfig(), "note": "默认"})
	if err != nil {
		t.Fatal(err)
	}
	examples := []bodyExample{
		{"PUT /api/v1/risk/config", "/api/v1/risk/config", f.admin, string(riskCfg), 200},
		{"POST /api/v1/risk/warnings/{id}/acknowledge", fmt.Sprintf("/api/v1/risk/warnings/%d/acknowledge", warn[0]), f.sta,
			`{"note":"已安排排查","version":1}`, 200},
		{"POST /api/v1/risk/warnings/{id}/close", fmt.Sprintf("/api/v1/risk/warnings/%d/close", warn[1]), f.sta, `{"version":1}`, 200},
		{"PUT /api/v1/risk/zones/{code}", "/api/v1/risk/zones/bay", f.admin, fmt.Sprintf(`{"name":"联控区","areas":[%q]}`, f.streetA), 200},
		{"POST /api/v1/admin/webhooks", "/api/v1/admin/webhooks", f.admin, hookBody, 201},
		{"PATCH /api/v1/admin/webhooks/{id}", fmt.Sprintf("/api/v1/admin/webhooks/%d", hook.Webhook.ID), f.admin, `{"name":"夜班"}`, 200},
		{"POST /api/v1/auth/login", "/api/v1/auth/login", "", `{"username":"off1","password":"password-off1"}`, 200},
		{"POST /api/v1/me/password", "/api/v1/me/password", pw1, `{"old_password":"password-pw1","new_password":"a-new-good-password"}`, 204},
		{"POST /api/v1/admin/users", "/api/v1/admin/users", f.admin, `{"username":"newbie","role":"planner"}`, 201},
		{"PATCH /api/v1/admin/users/{username}", "/api/v1/admin/users/newbie", f.admin, `{"display_name":"新人"}`, 200},
		{"POST /api/v1/admin/users/{username}/password", "/api/v1/admin/users/newbie/password", f.admin, `{}`, 200},
		{"PUT /api/v1/grid/units/{code}", "/api/v1/grid/units/U2", f.admin,
			fmt.Sprintf(`{"name":"甲二网格","street_code":%q,"cells":[%q]}`, f.streetA, f.c3.String()), 200},
		{"POST /api/v1/grid/units", "/api/v1/grid/units", f.admin,
			fmt.Sprintf(`{"code":"U9","name":"乙九网格","street_code":%q,"cells":[%q]}`, f.streetB, f.c4.String()), 409}, // c4 is U3's
		{"POST /api/v1/grid/units/{code}/officer", "/api/v1/grid/units/U2/officer", f.admin, `{"officer":"off3"}`, 200},
		{"POST /api/v1/analysis/coverage", "/api/v1/analysis/coverage", f.planner,
			fmt.Sprintf(`{"add":[{"lon":%v,"lat":%v,"type":"小型"}]}`, lon1, lat1), 200},
		{"POST /api/v1/analysis/siting", "/api/v1/analysis/siting", f.planner,
			fmt.Sprintf(`{"k":1,"candidates":[{"lon":%v,"lat":%v}]}`, lon1, lat1), 200},
		{"POST /api/v1/hazards/{id}/transition", fmt.Sprintf("/api/v1/hazards/%d/transition", f.hazardID["H1"]), f.sta,
			`{"to":"registered","version":1}`, 200},
		{"POST /api/v1/hazards/{id}/escalate", fmt.Sprintf("/api/v1/hazards/%d/escalate", f.hazardID["H3"]), f.admin,
			`{"note":"逾期风险高","version":1}`, 200},
		{"POST /api/v1/inspections", "/api/v1/inspections", f.off1,
			fmt.Sprintf(`{"enterprise":%q,"result":"passed","inspected_at":"2026-11-20 10:30","lon":%v,"lat":%v,"position":{"lon":%v,"lat":%v,"accuracy_m":12}}`,
				f.uscc["E1"], lon1, lat1, lon1, lat1), 201},
		{"POST /api/v1/hazards", "/api/v1/hazards", f.off1,
			fmt.Sprintf(`{"level":"major","category":"消防安全","description":"堵塞","lon":%v,"lat":%v}`, lon2, lat2), 201},
	}

	resp, raw = f.get(t, f.admin, "/api/openapi.json", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]*openapi3.Schema{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			mt := op.RequestBody.Value.Content.Get("application/json")
			if mt == nil && op.RequestBody.Value.Content.Get("image/jpeg") != nil {
				continue // photos: the body is the image file (Operation.RawBody)
			}
			if mt == nil && op.RequestBody.Value.Content.Get("text/csv") != nil {
				continue // licences: the body is a CSV file (Operation.RawBody)
			}
			if mt == nil || mt.Schema == nil {
				t.Errorf("%s %s: a request body that is not JSON", method, path)
				continue
			}
			bodies[method+" "+path] = mt.Schema.Value
		}
	}
	for op := range bodies {
		if !slices.ContainsFunc(examples, func(e bodyExample) bool { return e.op == op }) {
			t.Errorf("%s documents a JSON body but has no example in this test: add one", op)
		}
	}

	checked := map[string][]string{}
	for _, ex := range examples {
		schema := bodies[ex.op]
		if schema == nil {
			t.Errorf("%s: not in the document (or without a body)", ex.op)
			continue
		}
		var valid any
		if err := json.Unmarshal([]byte(ex.body), &valid); err != nil {
			t.Fatal(err)
		}
		if err := schema.VisitJSON(valid); err != nil {
			t.Errorf("%s: the example is invalid by the document: %v", ex.op, err)
		}
		for _, field := range requiredPaths(schema, valid, "") {
			variant := withoutField(valid, field)
			if schema.VisitJSON(variant) == nil {
				t.Errorf("%s without %s: the document's schema takes it", ex.op, field)
			}
			js, _ := json.Marshal(variant)
			resp, body := f.ts.do(t, strings.Fields(ex.op)[0], ex.url, string(js), "Authorization", ex.auth, "Content-Type", "application/json")
			p := problemOf(t, resp, body, cmp.Or(missingStatus[ex.op], 422))
			if !slices.ContainsFunc(p.Errors, func(e FieldError) bool { return e.Field == field }) {
				t.Errorf("%s without %s: the 422 names %+v", ex.op, field, p.Errors)
			}
			checked[ex.op] = append(checked[ex.op], field)
		}
		resp, body := f.ts.do(t, strings.Fields(ex.op)[0], ex.url, ex.body, "Authorization", ex.auth, "Content-Type", "application/json")
		if resp.StatusCode != ex.status {
			t.Errorf("%s %s: %d, want %d: %s", ex.op, ex.body, resp.StatusCode, ex.status, body)
		}
	}
	ops := make([]string, 0, len(checked))
	for op, fields := range checked {
		ops = append(ops, op+": "+strings.Join(fields, ", "))
	}
	sort.Strings(ops)
	t.Logf("required fields checked:\n%s", strings.Join(ops, "\n"))
	if len(checked) < 9 {
		t.Errorf("only %d operations have required fields", len(checked))
	}
}

// requiredPaths lists the fields of v that schema s requires, at every depth, as the
// 422s name them: "lon", "add[0].type".
func requiredPaths(s *openapi3.Schema, v any, path string) []string {
	s = unwrap(s)
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for _, name := range s.Required {
			if _, ok := v[name]; ok {
				out = append(out, join(path, name))
			}
		}
		names := make([]string, 0, len(v))
		for name := range v {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if p := s.Properties[name]; p != nil {
				out = append(out, requiredPaths(p.Value, v[name], join(path, name))...)
			}
		}
	case []any:
		if s.Items != nil {
			for i, x := range v {
				out = append(out, requiredPaths(s.Items.Value, x, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return out
}

// unwrap follows allOf: [{$ref}] wrappers (a nullable or described reference).
func unwrap(s *openapi3.Schema) *openapi3.Schema {
	for len(s.AllOf) == 1 && len(s.Properties) == 0 {
		s = s.AllOf[0].Value
	}
	return s
}

// withoutField is a deep copy of v without the field at path ("add[0].type").
func withoutField(v any, path string) any {
	js, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(js, &out)
	cur := out
	parts := strings.Split(path, ".")
	for i, part := range parts {
		name, idx := part, -1
		if j := strings.IndexByte(part, '['); j >= 0 {
			name = part[:j]
			_, _ = fmt.Sscanf(part[j:], "[%d]", &idx)
		}
		m := cur.(map[string]any)
		if i == len(parts)-1 && idx < 0 {
			delete(m, name)
			break
		}
		cur = m[name]
		if idx >= 0 {
			cur = cur.([]any)[idx]
		}
	}
	return out
}
