package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

func validUSCC(t *testing.T, n int) string {
	t.Helper()
	body := fmt.Sprintf("9131010%010d", n)
	c, err := geo.USCCCheckChar(body)
	if err != nil {
		t.Fatal(err)
	}
	return body + string(c)
}

// enterpriseFile is a FeatureCollection of enterprises in the west street; risk gives
// each one's risk_level (a bad value makes a bad row).
func enterpriseFile(t *testing.T, risk ...string) string {
	t.Helper()
	var feats []string
	for i, r := range risk {
		feats = append(feats, fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[%f,31.12]},
"properties":{"uscc":%q,"name":"上海导入%d有限公司","industry":"工贸","risk_level":%q}}`, 121.41+float64(i)*0.005, validUSCC(t, i+1), i, r))
	}
	return `{"type":"FeatureCollection","features":[` + strings.Join(feats, ",") + `]}`
}

func TestImportAPI(t *testing.T) {
	ls := newLifecycleServer(t)
	post := func(user, path, ct, body string) (int, []byte) {
		resp, data := ls.do(t, "POST", path, body, "Authorization", ls.auth[user], "Content-Type", ct)
		return resp.StatusCode, data
	}
	enterprises := func() int { return testdb.Count(t, ls.st, `SELECT count(*) FROM enterprises`) }

	// Only admins import.
	for _, user := range []string{"pei", "zhou", "wang"} {
		resp, body := ls.do(t, "POST", "/api/v1/import/enterprises", enterpriseFile(t, "一般"), "Authorization", ls.auth[user], "Content-Type", "application/geo+json")
		problemOf(t, resp, body, 403)
	}

	// A bad row refuses the whole file: 422 naming row and field, nothing written.
	resp, body := ls.do(t, "POST", "/api/v1/import/enterprises", enterpriseFile(t, "一般", "特别大", "低"), "Authorization", ls.auth["ann"], "Content-Type", "application/geo+json")
	p := problemOf(t, resp, body, 422)
	if len(p.Errors) != 1 || p.Errors[0].Row != 2 || p.Errors[0].Field != "risk_level" || !strings.Contains(p.Detail, "nothing was written") {
		t.Errorf("bad file: %+v", p)
	}
	if n := enterprises(); n != 0 {
		t.Fatalf("a refused file wrote %d enterprises", n)
	}

	// skip_invalid loads the good rows and reports the bad one.
	st, body := post("ann", "/api/v1/import/enterprises?skip_invalid=true", "application/geo+json", enterpriseFile(t, "一般", "特别大", "低"))
	var res ingest.ImportResult
	_ = json.Unmarshal(body, &res)
	if st != 200 || res.Inserted != 2 || res.Rejected != 1 || len(res.Rejections) != 1 || res.Rejections[0].Row != 2 {
		t.Errorf("skip_invalid: %d %s", st, body)
	}

	// A good file; re-importing updates by key.
	st, body = post("ann", "/api/v1/import/enterprises", "application/json; charset=utf-8", enterpriseFile(t, "重大", "较大", "低"))
	_ = json.Unmarshal(body, &res)
	if st != 200 || res.Read != 3 || res.Inserted != 1 || res.Updated != 2 || res.Rejected != 0 {
		t.Errorf("good file: %d %s", st, body)
	}
	if n := enterprises(); n != 3 {
		t.Errorf("%d enterprises, want 3", n)
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM enterprises WHERE street_code = $1 AND community_code = '310104003001'`, westStreet); n != 3 {
		t.Errorf("%d enterprises tagged with the west street's south community, want 3", n)
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM audit_log WHERE action = 'import' AND actor = 'ann' AND target = 'enterprises'`); n != 2 {
		t.Errorf("%d import audit records by ann, want 2", n)
	}

	// CSV.
	csv := "uscc,name,industry,risk_level,lon,lat\n" + validUSCC(t, 9) + ",上海CSV有限公司,工贸,一般,121.47,31.15\n"
	st, body = post("ann", "/api/v1/import/enterprises", "text/csv", csv)
	if st != 200 || !strings.Contains(string(body), `"inserted":1`) {
		t.Errorf("csv: %d %s", st, body)
	}

	// Refused requests.
	for name, c := range map[string]struct {
		path, ct, body string
		status         int
	}{
		"unknown kind":     {"/api/v1/import/castles", "application/geo+json", enterpriseFile(t, "一般"), 404},
		"no content type":  {"/api/v1/import/enterprises", "", enterpriseFile(t, "一般"), 415},
		"xml":              {"/api/v1/import/enterprises", "application/xml", "<x/>", 415},
		"bad crs":          {"/api/v1/import/enterprises?crs=mars", "application/geo+json", enterpriseFile(t, "一般"), 422},
		"bad skip_invalid": {"/api/v1/import/enterprises?skip_invalid=maybe", "application/geo+json", enterpriseFile(t, "一般"), 422},
		"empty body":       {"/api/v1/import/enterprises", "application/geo+json", "", 400},
		"not GeoJSON":      {"/api/v1/import/enterprises", "application/geo+json", "[1,2", 422},
	} {
		resp, body := ls.do(t, "POST", c.path, c.body, "Authorization", ls.auth["ann"], "Content-Type", c.ct)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d: %s", name, resp.StatusCode, c.status, body)
		}
	}
	if n := enterprises(); n != 4 {
		t.Errorf("%d enterprises after the refused requests, want 4", n)
	}

	// A code longer than grid.KeyMaxLen is the row's 422: without the limit, 1,000 varied
	// CJK characters (3,000 bytes, past a btree entry's 2,704) failed the unique index as a
	// 500 when the bulk path rebuilt it.
	for _, code := range []string{strings.Repeat("站", 1000), strings.Repeat("x", grid.KeyMaxLen+1)} {
		file := fmt.Sprintf(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[121.45,31.12]},
"properties":{"code":%q,"name":"长代码站","type":"一级普通","status":"existing"}}]}`, code)
		resp, body := ls.do(t, "POST", "/api/v1/import/fire_stations", file, "Authorization", ls.auth["ann"], "Content-Type", "application/geo+json")
		p := problemOf(t, resp, body, 422)
		if len(p.Errors) != 1 || p.Errors[0].Row != 1 || p.Errors[0].Field != "code" {
			t.Errorf("a %d-character code: %+v", len([]rune(code)), p)
		}
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM fire_stations`); n != 0 {
		t.Errorf("%d fire stations after refused files", n)
	}
}
