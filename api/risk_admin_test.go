package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"safegrid/grid"
	"safegrid/grid/risk"
	"safegrid/grid/testdb"
)

// riskAdminServer serves RiskCity with one user of each role.
func riskAdminServer(t *testing.T) (*testServer, map[string]string) {
	t.Helper()
	st := testdb.New(t, testdb.TwoStreets)
	testdb.LoadRiskCity(t, st)
	ts := serverOn(t, st, nil)
	ctx := context.Background()
	for _, u := range []grid.User{
		{Username: "radmin", Role: grid.RoleAdmin},
		{Username: "rplanner", Role: grid.RolePlanner},
		{Username: "rdistrict", Role: grid.RoleDistrict, DistrictCode: "310104"},
		{Username: "rstreet", Role: grid.RoleStreet, StreetCode: testdb.WestStreet},
		{Username: "rofficer", Role: grid.RoleOfficer},
	} {
		if _, err := st.AddUser(ctx, "test", u, "password-"+u.Username); err != nil {
			t.Fatal(err)
		}
	}
	tok := map[string]string{}
	for _, n := range []string{"radmin", "rplanner", "rdistrict", "rstreet", "rofficer"} {
		tok[n] = ts.login(t, n)
	}
	return ts, tok
}

func TestRiskAdminRoutes(t *testing.T) {
	ts, tok := riskAdminServer(t)
	auth := func(n string) []string { return []string{"Authorization", tok[n], "Content-Type", "application/json"} }

	// Config: readers see the defaults; officers are refused everywhere.
	for _, n := range []string{"radmin", "rplanner", "rdistrict", "rstreet"} {
		resp, body := ts.do(t, "GET", "/api/v1/risk/config", "", auth(n)...)
		var rec risk.ConfigRecord
		if resp.StatusCode != 200 || json.Unmarshal(body, &rec) != nil || rec.ID != 0 || rec.Config.Thresholds["street"].Red == 0 {
			t.Fatalf("%s config: %d %s", n, resp.StatusCode, body)
		}
	}
	for _, r := range [][2]string{{"GET", "/api/v1/risk/config"}, {"PUT", "/api/v1/risk/config"}, {"POST", "/api/v1/risk/snapshots"},
		{"GET", "/api/v1/risk/snapshots"}, {"GET", "/api/v1/risk/snapshots/1"}, {"GET", "/api/v1/risk/runs"}} {
		resp, body := ts.do(t, r[0], r[1], "", auth("rofficer")...)
		problemOf(t, resp, body, 403)
		if resp, _ := ts.do(t, r[0], r[1], ""); resp.StatusCode != 401 {
			t.Errorf("%s %s without a token: %d", r[0], r[1], resp.StatusCode)
		}
	}
	for _, n := range []string{"rplanner", "rdistrict", "rstreet"} {
		for _, r := range [][2]string{{"PUT", "/api/v1/risk/config"}, {"POST", "/api/v1/risk/snapshots"}, {"GET", "/api/v1/risk/runs"}} {
			resp, body := ts.do(t, r[0], r[1], `{"config":{}}`, auth(n)...)
			problemOf(t, resp, body, 403)
		}
	}

	// PUT: refusals are 400s naming the field and change nothing.
	cfg := risk.DefaultConfig()
	cfg.Enterprise["重大"] = -1
	bad, _ := json.Marshal(map[string]any{"config": cfg, "note": "x"})
	cfg = risk.DefaultConfig()
	cfg.Thresholds["street"] = risk.Thresholds{Red: 1, Orange: 2, Yellow: 3}
	order, _ := json.Marshal(map[string]any{"config": cfg})
	good := risk.DefaultConfig()
	good.Hazchem = 9
	unknown, _ := json.Marshal(map[string]any{"config": good, "extra": 1})
	var nested map[string]any
	js, _ := json.Marshal(good)
	_ = json.Unmarshal(js, &nested)
	nested["fire"].(map[string]any)["radius"] = 3
	unknownNested, _ := json.Marshal(map[string]any{"config": nested})
	longNote, _ := json.Marshal(map[string]any{"config": good, "note": strings.Repeat("注", 501)})
	for _, tc := range []struct {
		body, field string
	}{
		{string(bad), "config.enterprise.重大"},
		{string(order), "config.thresholds.street.orange"},
		{string(unknown), "extra"},
		{string(unknownNested), "config.fire.radius"},
		{string(longNote), "note"},
		{`{"note":"x"}`, "config"},
		{`{"config":{"enterprise":{"重大":"heavy"}}}`, "config.enterprise"},
	} {
		resp, body := ts.do(t, "PUT", "/api/v1/risk/config", tc.body, auth("radmin")...)
		p := problemOf(t, resp, body, 400)
		found := false
		for _, e := range p.Errors {
			found = found || e.Field == tc.field
		}
		if !found {
			t.Errorf("%s: %s, want the field %s named", tc.field, body, tc.field)
		}
	}
	if resp, body := ts.do(t, "PUT", "/api/v1/risk/config", `{"config":`, auth("radmin")...); resp.StatusCode != 400 {
		t.Errorf("malformed: %d %s", resp.StatusCode, body)
	}
	addr, _ := servedOn(t, ts)
	big := `{"note":"` + strings.Repeat("x", 70<<10) + `"}`
	if resp, body := rawRequest(t, addr, "PUT /api/v1/risk/config HTTP/1.1\r\nHost: safegrid\r\nContent-Type: application/json\r\n"+
		"Authorization: "+tok["radmin"]+"\r\n"+fmt.Sprintf("Content-Length: %d\r\n\r\n", len(big))+big[:1000]); resp.StatusCode != 413 {
		t.Errorf("over 64 KiB: %d %s", resp.StatusCode, body)
	}
	if n := testdb.Count(t, ts.st, `SELECT count(*) FROM risk_configs`); n != 0 {
		t.Fatalf("refusals stored %d configs", n)
	}
	goodBody, _ := json.Marshal(map[string]any{"config": good, "note": "hazchem 9"})
	resp, body := ts.do(t, "PUT", "/api/v1/risk/config", string(goodBody), auth("radmin")...)
	var rec risk.ConfigRecord
	if resp.StatusCode != 200 || json.Unmarshal(body, &rec) != nil || rec.ID == 0 || rec.Config.Hazchem != 9 || rec.CreatedBy != "radmin" {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	if n := testdb.Count(t, ts.st, `SELECT count(*) FROM audit_log WHERE action = 'risk_config' AND actor = 'radmin'`); n != 1 {
		t.Errorf("%d audit records", n)
	}

	// POST /risk/snapshots: 201 with the configuration copy.
	resp, body = ts.do(t, "POST", "/api/v1/risk/snapshots", "", auth("radmin")...)
	var sn risk.Snapshot
	if resp.StatusCode != 201 || json.Unmarshal(body, &sn) != nil || sn.ID == 0 || sn.Config.Hazchem != 9 || sn.ConfigID == nil || *sn.ConfigID != rec.ID ||
		sn.Trigger != risk.TriggerManual || sn.RequestedBy != "radmin" || sn.Cells == 0 {
		t.Fatalf("post: %d %s", resp.StatusCode, body)
	}
	// A failed recompute: 503 naming why; the previous snapshot stays the latest.
	db := testdb.DB(ts.st)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no room for cells'; END $$`,
		`CREATE TRIGGER refuse BEFORE INSERT ON risk_cells FOR EACH ROW EXECUTE FUNCTION refuse()`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	resp, body = ts.do(t, "POST", "/api/v1/risk/snapshots", "", auth("radmin")...)
	p := problemOf(t, resp, body, 503)
	if !strings.Contains(p.Detail, "no room for cells") || !strings.Contains(p.Detail, "previous snapshot") || strings.Contains(p.Detail, "SQLSTATE") {
		t.Errorf("503 detail %q", p.Detail)
	}
	if _, err := db.Exec(ctx, `DROP TRIGGER refuse ON risk_cells`); err != nil {
		t.Fatal(err)
	}

	// Lists: snapshots without their configuration, newest first; one with it; runs.
	resp, body = ts.do(t, "POST", "/api/v1/risk/snapshots", "", auth("radmin")...)
	var sn2 risk.Snapshot
	if resp.StatusCode != 201 || json.Unmarshal(body, &sn2) != nil {
		t.Fatalf("second post: %d %s", resp.StatusCode, body)
	}
	for _, n := range []string{"rplanner", "rdistrict", "rstreet", "radmin"} {
		resp, body = ts.do(t, "GET", "/api/v1/risk/snapshots?limit=1", "", auth(n)...)
		var list map[string]any
		if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil {
			t.Fatalf("%s list: %d %s", n, resp.StatusCode, body)
		}
		items := list["snapshots"].([]any)
		first := items[0].(map[string]any)
		if len(items) != 1 || list["total"] != 2.0 || first["id"] != float64(sn2.ID) || first["config"] != nil || first["summary"] == nil {
			t.Errorf("%s list %s", n, body)
		}
	}
	resp, body = ts.do(t, "GET", "/api/v1/risk/snapshots?offset=1", "", auth("rplanner")...)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"id":`+jsonInt(sn.ID)) || strings.Contains(string(body), `"id":`+jsonInt(sn2.ID)+`,`) {
		t.Errorf("offset 1: %s", body)
	}
	if resp, body := ts.do(t, "GET", "/api/v1/risk/snapshots?limit=0", "", auth("rplanner")...); resp.StatusCode/100 != 4 {
		t.Errorf("limit 0: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "GET", "/api/v1/risk/snapshots/"+jsonInt(sn.ID), "", auth("rstreet")...)
	var got risk.Snapshot
	if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got.Config.Hazchem != 9 || got.ID != sn.ID {
		t.Errorf("one: %d %s", resp.StatusCode, body)
	}
	for _, id := range []string{"999", "0", "x"} {
		resp, body := ts.do(t, "GET", "/api/v1/risk/snapshots/"+id, "", auth("rplanner")...)
		problemOf(t, resp, body, 404)
	}
	resp, body = ts.do(t, "GET", "/api/v1/risk/runs", "", auth("radmin")...)
	var list struct{ Runs []risk.Run }
	err := json.Unmarshal(body, &list)
	runs := list.Runs
	if resp.StatusCode != 200 || err != nil || len(runs) != 3 || runs[1].Error == nil ||
		!strings.Contains(*runs[1].Error, "no room for cells") || runs[0].SnapshotID == nil || *runs[0].SnapshotID != sn2.ID {
		t.Errorf("runs: %d %s", resp.StatusCode, body)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
