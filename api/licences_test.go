package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"safegrid/grid/dossier"
	"safegrid/grid/testdb"
)

// TestLicencesAPI: an admin loads a licence file (re-loading changes nothing), a bad file
// is a 422 naming each row and field with nothing written, other roles are refused, and the
// dossier lists the licences.
func TestLicencesAPI(t *testing.T) {
	f := newGridFixture(t)
	const path = "/api/v1/admin/licences"
	head := strings.Join(dossier.LicenceColumns, ",") + "\n"
	good := head + f.uscc["E1"] + ",安全生产许可证,(沪)WH安许证字[2024]0001,上海市应急管理局,2024-01-01,2099-01-01\n" +
		f.uscc["E1"] + ",危险化学品登记证,DJ-1,上海市应急管理局,2020-01-01,2021-01-01\n"
	post := func(auth, ct, body string) (int, []byte) {
		t.Helper()
		resp, b := f.ts.do(t, "POST", path, body, "Authorization", auth, "Content-Type", ct)
		return resp.StatusCode, b
	}
	for _, who := range []string{f.off1, f.sta, f.planner} {
		if st, b := post(who, "text/csv", good); st != 403 {
			t.Errorf("non-admin: %d %s", st, b)
		}
	}
	if st, b := post(f.admin, "application/json", good); st != 415 {
		t.Errorf("json: %d %s", st, b)
	}
	if st, b := post(f.admin, "text/csv", ""); st != 400 {
		t.Errorf("empty: %d %s", st, b)
	}
	bad := head + f.uscc["E1"] + ",营业执照,X-1,上海市应急管理局,2024-01-01,2027-01-01\n" +
		f.uscc["E1"] + ",其他,X-2,上海市应急管理局,2024-01-01,2023-01-01\n" +
		f.uscc["E1"] + ",其他,X-3,上海市应急管理局,2024-01-01,2027-01-01\n"
	st, b := post(f.admin, "text/csv", bad)
	var p problem
	if err := json.Unmarshal(b, &p); err != nil || st != 422 || len(p.Errors) != 2 ||
		p.Errors[0] != (FieldError{Row: 2, Field: "type", Reason: p.Errors[0].Reason}) || p.Errors[1].Row != 3 || p.Errors[1].Field != "valid_until" {
		t.Errorf("bad file: %d %s", st, b)
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM enterprise_licences`); n != 0 {
		t.Errorf("a refused file wrote %d licences", n)
	}
	for i, want := range []dossier.LoadResult{{Rows: 2, Inserted: 2}, {Rows: 2, Unchanged: 2}} {
		st, b := post(f.admin, "text/csv; charset=utf-8", good)
		var res dossier.LoadResult
		if err := json.Unmarshal(b, &res); err != nil || st != 200 || res != want {
			t.Errorf("load %d: %d %s, want %+v", i, st, b, want)
		}
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM audit_log WHERE target = 'enterprise_licences' AND actor NOT IN ('demo', '')`); n != 2 {
		t.Errorf("%d audit entries for two loads", n)
	}
	var d dossier.Dossier
	if resp, body := f.get(t, f.off1, fmt.Sprintf("/api/v1/enterprises/%s/dossier", f.uscc["E1"]), &d); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if len(d.Licences) != 2 || d.Licences[0].Status != dossier.LicenceValid || d.Licences[1].Status != dossier.LicenceExpired {
		t.Errorf("dossier licences %+v", d.Licences)
	}
}

// TestLicencesBodyLimit: the licence route takes a file over the JSON routes' 1 MB from an
// admin, and refuses one over licenceBodyLimit with a 413 before reading it.
func TestLicencesBodyLimit(t *testing.T) {
	f := newGridFixture(t)
	addr, _ := servedOn(t, f.ts)
	auth := "Authorization: " + f.admin + "\r\n"
	start := time.Now()
	resp, body := rawPost(t, addr, "/api/v1/admin/licences", auth+fmt.Sprintf("Content-Length: %d\r\n", licenceBodyLimit+1), "uscc,type")
	if resp.StatusCode != 413 || time.Since(start) > time.Second {
		t.Errorf("over the limit: %d after %v: %s", resp.StatusCode, time.Since(start), body)
	}
	big := strings.Repeat("x", 2<<20)
	resp, body = rawPost(t, addr, "/api/v1/admin/licences", auth+fmt.Sprintf("Content-Length: %d\r\n", len(big)), big)
	if resp.StatusCode != 415 { // rawPost sends application/json: the handler's refusal, not the limit's
		t.Errorf("2 MB: %d %.200s", resp.StatusCode, body)
	}
}
