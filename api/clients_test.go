package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"safegrid/grid/testdb"
)

// stampRE is a timestamp as every answer writes it: RFC 3339, UTC, milliseconds.
var stampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// TestReportHazardAnswersAsGet: POST /api/v1/hazards answers, byte for byte, what GET
// /api/v1/hazards/{id} then answers for the new hazard (version and history included),
// with the same ETag; so does a transition for the state it leaves. If-None-Match with
// that ETag is a 304 until the hazard changes.
func TestReportHazardAnswersAsGet(t *testing.T) {
	f := newGridFixture(t)
	loc := centre(f.c1, 0.0002, 0.0001)
	resp, posted := f.post(t, f.off1, "/api/v1/hazards", fmt.Sprintf(
		`{"level":"一般","category":"消防安全","description":"灭火器过期","lon":%v,"lat":%v,"feature_kind":"enterprises","feature_code":%q}`,
		loc[0], loc[1], f.uscc["E1"]))
	if resp.StatusCode != 201 {
		t.Fatalf("report: %d %s", resp.StatusCode, posted)
	}
	var created struct {
		ID      int64 `json:"id"`
		Version int   `json:"version"`
	}
	if err := json.Unmarshal(posted, &created); err != nil || created.ID == 0 || created.Version != 1 {
		t.Fatalf("report answered %s (%v)", posted, err)
	}
	path := fmt.Sprintf("/api/v1/hazards/%d", created.ID)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Location") != path || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("report headers: ETag %q, Location %q, Content-Type %q", etag, resp.Header.Get("Location"), resp.Header.Get("Content-Type"))
	}
	// The reporter and the street office (whose street it lies in) read the same bytes.
	for _, who := range []string{f.off1, f.sta} {
		resp, got := f.get(t, who, path, nil)
		if resp.StatusCode != 200 || !bytes.Equal(got, posted) {
			t.Errorf("GET %d:\n%s\nPOST answered:\n%s", resp.StatusCode, got, posted)
		}
		if resp.Header.Get("ETag") != etag {
			t.Errorf("GET ETag %q, POST %q", resp.Header.Get("ETag"), etag)
		}
	}
	resp, body := f.ts.do(t, "GET", path, "", "Authorization", f.off1, "If-None-Match", etag)
	if resp.StatusCode != 304 || len(body) != 0 {
		t.Errorf("If-None-Match the report's ETag: %d %s", resp.StatusCode, body)
	}

	// A step: its answer is the next GET's, and the old ETag no longer matches.
	resp, stepped := f.post(t, f.sta, path+"/transition", `{"to":"registered","version":1}`)
	if resp.StatusCode != 200 {
		t.Fatalf("transition: %d %s", resp.StatusCode, stepped)
	}
	stepTag := resp.Header.Get("ETag")
	resp, got := f.ts.do(t, "GET", path, "", "Authorization", f.off1, "If-None-Match", etag)
	if resp.StatusCode != 200 || !bytes.Equal(got, stepped) || resp.Header.Get("ETag") != stepTag || stepTag == etag {
		t.Errorf("after the step: %d ETag %q (step %q, report %q)\n%s\nstep answered\n%s", resp.StatusCode, resp.Header.Get("ETag"), stepTag, etag, got, stepped)
	}
	var h struct {
		Version int `json:"version"`
		History []struct {
			To string `json:"to"`
			At string `json:"at"`
		} `json:"history"`
		ReportedAt string `json:"reported_at"`
		UpdatedAt  string `json:"updated_at"`
	}
	if err := json.Unmarshal(got, &h); err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || len(h.History) != 2 || h.History[1].To != "registered" || !stampRE.MatchString(h.History[1].At) ||
		!stampRE.MatchString(h.ReportedAt) || !stampRE.MatchString(h.UpdatedAt) {
		t.Errorf("after the step: %s", got)
	}
}

// TestOGCTimestampsWithGDAL reads the hazards collection through GDAL's OAPIF driver
// (QGIS reads OGC API Features through it): updated_at, reported_at and closed_at are
// DateTime fields, and each feature's value is the database's to the millisecond.
func TestOGCTimestampsWithGDAL(t *testing.T) {
	ogrinfo := clientTool(t, "ogrinfo", "gdal-bin")
	f := newGridFixture(t)
	// Sub-millisecond digits, and a time whose UTC date differs from Shanghai's.
	if _, err := testdb.DB(f.ts.st).Exec(t.Context(), `UPDATE hazards SET updated_at = '2026-12-02 10:14:19.77842+00',
		reported_at = '2026-12-02 07:30:00.5+08', closed_at = CASE WHEN status = 'closed' THEN '2026-12-02 23:59:59.9999+08'::timestamptz END
		WHERE code = 'H2'`); err != nil {
		t.Fatal(err)
	}
	addr, _ := servedOn(t, f.ts)
	cmd := exec.Command(ogrinfo, "-ro", "--config", "GDAL_HTTP_AUTH", "BASIC", "--config", "GDAL_HTTP_USERPWD", "adm:password-adm",
		"--config", "GDAL_HTTP_TIMEOUT", "30", "-al", "OAPIF:http://"+addr+"/ogc", "hazards")
	cmd.Env = append(os.Environ(), "GDAL_HTTP_MAX_RETRY=0", "CPL_DEBUG=OFF")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo: %v\n%s\nservice log:\n%s", err, out, f.ts.logs.String())
	}
	for _, field := range []string{"updated_at", "reported_at", "closed_at"} {
		if !regexp.MustCompile(`(?m)^` + field + `: DateTime `).Match(out) {
			t.Errorf("GDAL does not type %s as DateTime:\n%s", field, out)
		}
	}
	// GDAL writes a DateTime as 2026/12/02 10:14:19.778+00 (no fraction when it is .000).
	gdalTime := `to_char(%s AT TIME ZONE 'UTC', 'YYYY/MM/DD HH24:MI:SS.MS')`
	rows, err := testdb.DB(f.ts.st).Query(t.Context(), fmt.Sprintf(`SELECT code, %s, %s, coalesce(%s, '(null)') FROM hazards ORDER BY code`,
		fmt.Sprintf(gdalTime, "updated_at"), fmt.Sprintf(gdalTime, "reported_at"), fmt.Sprintf(gdalTime, "closed_at")))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]string{}
	for rows.Next() {
		var code string
		var v [3]string
		if err := rows.Scan(&code, &v[0], &v[1], &v[2]); err != nil {
			t.Fatal(err)
		}
		for i := range v {
			if v[i] != "(null)" {
				v[i] = strings.TrimSuffix(v[i], ".000") + "+00"
			}
		}
		want[code] = v
	}
	if rows.Err() != nil || len(want) != 6 {
		t.Fatalf("%d hazards: %v", len(want), rows.Err())
	}
	if h2 := want["H2"]; h2 != [3]string{"2026/12/02 10:14:19.778+00", "2026/12/01 23:30:00.500+00", "2026/12/02 15:59:59.999+00"} {
		t.Errorf("the database holds %v for H2", h2)
	}
	feature := regexp.MustCompile(`(?ms)^OGRFeature\(hazards\):\d+$(.*?)^\s*POINT`)
	value := func(block, field string) string {
		m := regexp.MustCompile(`(?m)^\s+` + field + ` \((\w+)\) = (.*)$`).FindStringSubmatch(block)
		if m == nil {
			return "missing"
		}
		return m[1] + " " + m[2]
	}
	seen := 0
	for _, m := range feature.FindAllSubmatch(out, -1) {
		block := string(m[1])
		code := strings.TrimPrefix(value(block, "code"), "String ")
		w, ok := want[code]
		if !ok {
			t.Errorf("GDAL read a hazard %q the database lacks", code)
			continue
		}
		seen++
		for i, field := range []string{"updated_at", "reported_at", "closed_at"} {
			if got := value(block, field); got != "DateTime "+w[i] {
				t.Errorf("%s %s: GDAL read %q, the database holds %q", code, field, got, w[i])
			}
		}
	}
	if seen != len(want) {
		t.Errorf("GDAL read %d of %d hazards:\n%s", seen, len(want), out)
	}
}

// TestTimestampsInJSON reads every kind of answer that carries a timestamp: each field
// named like one (at, *_at, timeStamp) and each string that starts like an RFC 3339 time
// is RFC 3339 UTC with milliseconds, e.g. 2026-12-02T10:14:19.778Z, and calendar dates
// (deadline) stay YYYY-MM-DD. The CSV export and the tiles write the same format.
func TestTimestampsInJSON(t *testing.T) {
	f := newGridFixture(t)
	db := testdb.DB(f.ts.st)
	// Sub-millisecond digits everywhere, so a writer that keeps them or rounds shows up.
	if _, err := db.Exec(t.Context(), `UPDATE hazards SET updated_at = updated_at + interval '0.123456 s',
		reported_at = reported_at + interval '0.000789 s', closed_at = CASE WHEN status = 'closed' THEN now() - interval '1 day 0.5 ms' END`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(t.Context(), `UPDATE enterprises SET updated_at = updated_at + interval '0.000001 s'`); err != nil {
		t.Fatal(err)
	}
	loc := centre(f.c1, 0.0001, 0)
	resp, created := f.post(t, f.off1, "/api/v1/inspections", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E1"], loc[0], loc[1]))
	if resp.StatusCode != 201 {
		t.Fatalf("inspection: %d %s", resp.StatusCode, created)
	}
	resp, login := f.ts.do(t, "POST", "/api/v1/auth/login", `{"username":"off1","password":"password-off1"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, login)
	}
	h1, h2 := fmt.Sprint(f.hazardID["H1"]), fmt.Sprint(f.hazardID["H2"])
	resp, stepped := f.post(t, f.sta, "/api/v1/hazards/"+h1+"/transition", `{"to":"registered","version":1}`)
	if resp.StatusCode != 200 {
		t.Fatalf("transition: %d %s", resp.StatusCode, stepped)
	}
	bodies := map[string][]byte{"POST /api/v1/inspections": created, "POST /api/v1/auth/login": login, "POST transition": stepped}
	for _, c := range []struct {
		auth, path string
		stamps     int // timestamps the answer holds at least
	}{
		{f.admin, "/api/v1/hazards/" + h2, 3}, // reported, updated, closed
		{f.admin, "/api/v1/hazards/" + h1, 3}, // reported, updated, the step's history row
		{f.admin, "/api/v1/hazards/" + h1 + "/history", 1},
		{f.sta, "/api/v1/streets/" + f.streetA + "/hazards", 5},
		{f.off1, "/api/v1/me/inspections/due", 2},
		{f.off1, "/api/v1/cells/" + f.c1.String(), 1},
		{f.admin, "/api/v1/admin/users", 6},
		{f.admin, "/api/v1/admin/users/off1/sessions", 4},
		{f.admin, "/api/v1/admin/audit", 10},                 // at, and a login's expires_at
		{f.admin, "/ogc/collections/hazards/items", 6*2 + 2}, // updated and reported, H2's closed, timeStamp
		{f.admin, "/ogc/collections/hazards/items/" + h2, 3},
		{f.admin, "/ogc/collections/enterprises/items", 7},
		{f.admin, "/ogc/collections/enterprises/items?properties=name,updated_at", 7},
	} {
		resp, body := f.get(t, c.auth, c.path, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", c.path, resp.StatusCode, body)
		}
		bodies["GET "+c.path] = body
		if n := countStamps(t, c.path, body); n < c.stamps {
			t.Errorf("GET %s: %d timestamps, want at least %d:\n%.600s", c.path, n, c.stamps, body)
		}
	}
	for what, body := range bodies {
		countStamps(t, what, body)
	}
	// The closed hazard's closed_at is written alike by Go (the detail) and by PostgreSQL
	// (the OGC item).
	var detail, item struct {
		ClosedAt   string `json:"closed_at"`
		UpdatedAt  string `json:"updated_at"`
		Properties struct {
			ClosedAt  string `json:"closed_at"`
			UpdatedAt string `json:"updated_at"`
		} `json:"properties"`
	}
	if json.Unmarshal(bodies["GET /api/v1/hazards/"+h2], &detail) != nil || json.Unmarshal(bodies["GET /ogc/collections/hazards/items/"+h2], &item) != nil ||
		detail.ClosedAt == "" || detail.ClosedAt != item.Properties.ClosedAt || detail.UpdatedAt != item.Properties.UpdatedAt {
		t.Errorf("H2: the detail has closed %q updated %q, the OGC item %q %q", detail.ClosedAt, detail.UpdatedAt, item.Properties.ClosedAt, item.Properties.UpdatedAt)
	}
	var want string
	if err := db.QueryRow(t.Context(), `SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM hazards WHERE code = 'H2'`).Scan(&want); err != nil || detail.UpdatedAt != want {
		t.Errorf("H2 updated_at %q, the database %q (%v)", detail.UpdatedAt, want, err)
	}

	// The street export's report times.
	resp, csvBody := f.get(t, f.sta, "/api/v1/streets/"+f.streetA+"/hazards?format=csv", nil)
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(csvBody, []byte("\xEF\xBB\xBF")))).ReadAll()
	if err != nil || resp.StatusCode != 200 || len(rows) < 2 {
		t.Fatalf("CSV: %d %v %s", resp.StatusCode, err, csvBody)
	}
	col := slices.Index(rows[0], "上报时间 (UTC)")
	if col < 0 {
		t.Fatalf("CSV header %q", rows[0])
	}
	for _, r := range rows[1:] {
		if !stampRE.MatchString(r[col]) {
			t.Errorf("CSV report time %q", r[col])
		}
	}
	// Tiles carry the same text as attributes.
	tiled, _ := f.collect(t, f.admin, "hazards", 16, "reported_at")
	if len(tiled) == 0 {
		t.Fatal("no hazards in the tiles")
	}
	for id, v := range tiled {
		if !stampRE.MatchString(v) {
			t.Errorf("tile feature %s: reported_at %q", id, v)
		}
	}
}

// timeKey names a JSON field that holds a timestamp.
var timeKey = regexp.MustCompile(`^(at|.+_at|timeStamp)$`)

// countStamps walks a JSON document: every field named like a timestamp is null or a
// timestamp in the service's format, every string that begins like an RFC 3339 time is
// one, and a date-only string is a calendar date. It returns the timestamps seen.
func countStamps(t *testing.T, what string, body []byte) int {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	looksTimed := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:`)
	date := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	n := 0
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(key, x)
			}
		case string:
			switch {
			case stampRE.MatchString(v):
				n++
			case looksTimed.MatchString(v):
				t.Errorf("%s: %s = %q is not RFC 3339 UTC with milliseconds", what, key, v)
			case timeKey.MatchString(key):
				t.Errorf("%s: %s = %q is not a timestamp", what, key, v)
			case key == "deadline" && !date.MatchString(v):
				t.Errorf("%s: deadline %q is not YYYY-MM-DD", what, v)
			}
		case nil:
		default:
			if timeKey.MatchString(key) {
				t.Errorf("%s: %s = %v is not a string", what, key, v)
			}
		}
	}
	walk("", doc)
	return n
}
