// Package browsertest drives the map page in a real browser: it serves the demo city with
// the real API server (and the page embedded in it), then runs web/test/run.mjs, which
// drives Debian's Chromium with playwright-core as each role. What the browser produced is
// checked here too: the exported workbook against the API's JSON (read with excelize), and
// every map screenshot against a blank canvas.
//
// The test needs the built page (make build), node, Chromium and web/test/node_modules
// (npm ci in web/test). With SAFEGRID_BROWSER=1, as `make test` sets after installing them,
// a missing piece fails the test; otherwise it skips.
package browsertest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"
	"github.com/xuri/excelize/v2"

	"safegrid/api"
	"safegrid/grid"
	"safegrid/grid/notify"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
	"safegrid/web"
)

// testDir is web/test, where run.mjs and its node_modules live.
func testDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "test")
}

// chromiumPath is Debian's Chromium unless SAFEGRID_CHROMIUM names another.
func chromiumPath() string {
	if p := os.Getenv("SAFEGRID_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// requirements lists what the test needs and is missing.
func requirements() []string {
	var missing []string
	if !web.Built() {
		missing = append(missing, "the built page (make build; web/dist is empty)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (apt-get install nodejs)")
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		missing = append(missing, chromiumPath()+" (scripts/test-deps.sh installs Debian's chromium)")
	}
	if _, err := os.Stat(filepath.Join(testDir(), "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "web/test/node_modules (npm ci in web/test)")
	}
	return missing
}

// logins are the demo users the browser signs in as, picked from the database.
type logins struct {
	Officer, Unit, Street, OtherCell string
	Admin, Planner                   string
	District                         string // the district bureau 区安监局 of the street's district
}

func TestBrowser(t *testing.T) {
	if missing := requirements(); len(missing) > 0 {
		msg := "browser test needs: " + strings.Join(missing, "; ")
		if os.Getenv("SAFEGRID_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (set SAFEGRID_BROWSER=1 to make this a failure; make test does)")
	}
	if testing.Short() && os.Getenv("SAFEGRID_BROWSER") != "1" {
		t.Skip("loads the demo city and runs a browser")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	st := testdb.New(t, withDemo)

	// The logins: the officer of the first grid unit with cells, the street office of that
	// unit's street, and a cell of another unit (the officer must be refused it).
	var in logins
	var street string
	err := testdb.DB(st).QueryRow(ctx, `
		SELECT u.username, g.code, g.street_code
		FROM grid_units g JOIN users u ON u.id = g.officer_id
		WHERE EXISTS (SELECT 1 FROM grid_cells c WHERE c.unit_code = g.code)
		  AND EXISTS (SELECT 1 FROM users s WHERE s.role = 'street' AND s.street_code = g.street_code)
		ORDER BY g.code LIMIT 1`).Scan(&in.Officer, &in.Unit, &street)
	if err != nil {
		t.Fatalf("picking an officer: %v", err)
	}
	if err := testdb.DB(st).QueryRow(ctx, `SELECT username FROM users WHERE role = 'street' AND street_code = $1 ORDER BY username LIMIT 1`, street).Scan(&in.Street); err != nil {
		t.Fatalf("picking the street office of %s: %v", street, err)
	}
	if err := testdb.DB(st).QueryRow(ctx, `SELECT username FROM users WHERE role = 'district' AND district_code = left($1, 6) ORDER BY username LIMIT 1`, street).Scan(&in.District); err != nil {
		t.Fatalf("picking the district bureau of %s: %v", street, err)
	}
	var other int64
	if err := testdb.DB(st).QueryRow(ctx, `SELECT h3 FROM grid_cells WHERE unit_code <> $1 ORDER BY unit_code = $1, h3 LIMIT 1`, in.Unit).Scan(&other); err != nil {
		t.Fatalf("picking another unit's cell: %v", err)
	}
	in.OtherCell = h3.Cell(other).String()
	for role, dst := range map[string]*string{"admin": &in.Admin, "planner": &in.Planner} {
		if err := testdb.DB(st).QueryRow(ctx, `SELECT username FROM users WHERE role = $1 AND NOT disabled ORDER BY username = $1 DESC, username LIMIT 1`, role).Scan(dst); err != nil {
			t.Fatalf("picking a %s: %v", role, err)
		}
	}

	seedNotifications(t, st, street, in.Officer, in.Street, in.Planner, in.Admin)
	seedAssessment(t, st, street) // officer assessment (考核)

	// The real server, with the embedded page, on a free port.
	logs := &testdb.LogBuffer{}
	cfg := api.DefaultConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.LoginAttempts = 100
	// go test runs packages side by side on few cores: give slow queries room, so a loaded
	// machine does not turn into a 503 the page is not at fault for.
	cfg.RequestTimeout, cfg.StatementTimeout = 2*time.Minute, 2*time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.PublicURL = "http://" + ln.Addr().String()
	srv := api.New(st, cfg)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Logf("server: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()
	if err := waitReady(base); err != nil {
		t.Fatal(err)
	}
	risk := seedRisk(t, st, base, in.Admin) // risk map 风险四色图: two snapshot dates, a street that rose

	out := filepath.Join(testDir(), "out")
	_ = os.RemoveAll(out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join(testDir(), "screenshots")

	nctx, ncancel := context.WithTimeout(ctx, 20*time.Minute)
	defer ncancel()
	cmd := exec.CommandContext(nctx, "node", "run.mjs",
		"--base", base,
		"--password", demoPassword,
		"--officer", in.Officer, "--street", in.Street, "--planner", in.Planner, "--admin", in.Admin, "--district", in.District,
		"--other-cell", in.OtherCell,
		"--risk-district", risk.District, "--risk-street", risk.Street, "--risk-raised", risk.Raised,
		"--chromium", chromiumPath(),
		"--out", out, "--screenshots", shots)
	// SAFEGRID_BROWSER_ONLY runs only the scenarios whose names start with one of its
	// comma-separated prefixes (run.mjs --only); the exports are then not checked.
	only := os.Getenv("SAFEGRID_BROWSER_ONLY")
	if only != "" {
		cmd.Args = append(cmd.Args, "--only", only)
	}
	cmd.Dir = testDir()
	var nodeOut bytes.Buffer
	cmd.Stdout = &nodeOut
	cmd.Stderr = &nodeOut
	start := time.Now()
	err = cmd.Run()
	t.Logf("node run.mjs (%.0f s):\n%s", time.Since(start).Seconds(), nodeOut.String())
	if err != nil {
		if l := logs.String(); l != "" {
			t.Logf("server log (warnings and errors):\n%s", tail(l, 8000))
		}
		t.Fatalf("node run.mjs: %v", err)
	}

	var res result
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatalf("run.mjs wrote no result: %v", err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("result.json: %v", err)
	}

	t.Run("screenshots", func(t *testing.T) {
		if len(res.Screenshots) == 0 {
			t.Fatal("no screenshots were taken")
		}
		for _, s := range res.Screenshots {
			for _, p := range []string{s.Page, s.Map} {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s: %v", s.Name, err)
				}
			}
			if err := checkNotBlank(s.Map); err != nil {
				t.Errorf("%s map: %v", s.Name, err)
			}
		}
	})

	t.Run("risk export", func(t *testing.T) {
		if only != "" && !slices.ContainsFunc(strings.Split(only, ","), func(p string) bool { return strings.HasPrefix(riskExportScenario, p) }) {
			t.Skip("SAFEGRID_BROWSER_ONLY runs no risk map scenario")
		}
		checkRiskExport(t, res.Risk)
	})

	t.Run("exports", func(t *testing.T) {
		if only != "" && !strings.Contains(only, "street") {
			t.Skip("SAFEGRID_BROWSER_ONLY runs no street scenario")
		}
		x := res.Exports
		if x == nil {
			t.Fatal("run.mjs downloaded no export")
		}
		var page apiPage
		b, err := os.ReadFile(x.API)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("%s: %v", x.API, err)
		}
		if page.Total == 0 || page.Total != len(page.Items) {
			t.Fatalf("API: total %d, %d items", page.Total, len(page.Items))
		}
		if x.Total != page.Total {
			t.Errorf("the page showed a total of %d, the API has %d for %s", x.Total, page.Total, x.Query)
		}
		t.Run("xlsx", func(t *testing.T) {
			compareExport(t, x.XLSX, ".xlsx", readXLSX(t, x.XLSX.Path), page, x.Query)
		})
		t.Run("csv", func(t *testing.T) {
			compareExport(t, x.CSV, ".csv", readCSV(t, x.CSV.Path), page, x.Query)
		})
	})
}

// result is what run.mjs reports in out/result.json.
type result struct {
	Screenshots []struct {
		Name string `json:"name"`
		Page string `json:"page"`
		Map  string `json:"map"`
	} `json:"screenshots"`
	Exports *exports    `json:"exports"`
	Risk    *riskExport `json:"risk"` // the risk map's workbook (风险四色图)
}

// exports are the street office's downloads of its filtered table, with the API's JSON for
// the same street and filters fetched at the same moment.
type exports struct {
	XLSX   download `json:"xlsx"`
	CSV    download `json:"csv"`
	API    string   `json:"api"`    // file with the API's JSON page
	Street string   `json:"street"` // the street's code
	Query  string   `json:"query"`  // the table's filters as a query string
	Total  int      `json:"total"`  // #hazard-total as the page showed it
}

type download struct {
	Path     string `json:"path"`
	Filename string `json:"filename"`
}

func waitReady(base string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("GET /: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// checkNotBlank fails a screenshot whose pixels are (nearly) all one colour: a canvas the
// map never drew on. A drawn map has many colours (areas, hexagons, anti-aliased edges).
func checkNotBlank(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return err
	}
	counts := map[[4]uint32]int{}
	bounds := img.Bounds()
	total := bounds.Dx() * bounds.Dy()
	if total < 100*100 {
		return fmt.Errorf("map area is only %dx%d px", bounds.Dx(), bounds.Dy())
	}
	top := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, a := img.At(x, y).RGBA()
			k := [4]uint32{r >> 8, g >> 8, b >> 8, a >> 8}
			counts[k]++
			if counts[k] > top {
				top = counts[k]
			}
		}
	}
	share := float64(top) / float64(total)
	if len(counts) < 16 || share > 0.98 {
		return fmt.Errorf("looks blank: %d colours, the commonest covers %.1f%% of %d px", len(counts), 100*share, total)
	}
	return nil
}

// apiPage is the API's JSON page of a street's hazards.
type apiPage struct {
	Items []map[string]any `json:"items"`
	Total int              `json:"total"`
}

func readXLSX(t *testing.T, path string) [][]string {
	t.Helper()
	wb, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer wb.Close()
	sheets := wb.GetSheetList()
	if len(sheets) == 0 {
		t.Fatal("workbook has no sheet")
	}
	rows, err := wb.GetRows(sheets[0])
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// compareExport checks a downloaded table against the API's JSON for the same filters: one
// row per item in the same order, and the columns the API's fields map to (supervise.HazardColumns():
// Chinese headers, Chinese status and overdue terms).
func compareExport(t *testing.T, d download, ext string, rows [][]string, page apiPage, query string) {
	if !strings.HasSuffix(d.Filename, ext) {
		t.Errorf("download name %q does not end with %s", d.Filename, ext)
	}
	if len(rows) < 2 {
		t.Fatalf("%s has %d rows; the test picks filters that match hazards", d.Filename, len(rows))
	}
	data := rows[1:]
	if len(data) != page.Total {
		t.Fatalf("%s has %d data rows, the API %d for %s", d.Filename, len(data), page.Total, query)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	want := []struct {
		header string
		value  func(map[string]any) string
	}{
		{"序号", func(it map[string]any) string { return str(it["id"]) }},
		{"隐患编号", func(it map[string]any) string { return str(it["code"]) }},
		{"隐患等级", func(it map[string]any) string { return str(it["level"]) }},
		{"隐患类别", func(it map[string]any) string { return str(it["category"]) }},
		{"隐患描述", func(it map[string]any) string { return str(it["description"]) }},
		{"状态", func(it map[string]any) string { return supervise.ExportStatusNames()[str(it["status"])] }},
		{"整改期限", func(it map[string]any) string { return str(it["deadline"]) }},
		{"是否逾期", func(it map[string]any) string {
			return map[bool]string{true: "是", false: "否"}[it["overdue"] == true]
		}},
		{"街道编码", func(it map[string]any) string { return str(it["street_code"]) }},
		{"社区编码", func(it map[string]any) string { return str(it["community_code"]) }},
	}
	for _, w := range want {
		if _, ok := col[w.header]; !ok {
			t.Fatalf("%s header %q lacks %s", d.Filename, rows[0], w.header)
		}
	}
	bad := 0
	for i, it := range page.Items {
		row := data[i]
		for _, w := range want {
			got := ""
			if c := col[w.header]; c < len(row) {
				got = row[c]
			}
			if exp := w.value(it); got != exp && bad < 10 {
				bad++
				t.Errorf("%s row %d %s: %q, API %q", d.Filename, i+2, w.header, got, exp)
			}
		}
	}
	t.Logf("%s: %d rows match the API for %s", d.Filename, len(data), query)
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// seedNotifications gives every role's user something in the notification centre: the
// deadline reminders the demo's hazards have today, a message to the street office's
// street, and 25 to each user themselves (more than the list's first page), three of them
// read; then the outbox is fanned out as the scheduler would.
func seedNotifications(t *testing.T, st *grid.Store, street string, users ...string) {
	t.Helper()
	ctx := context.Background()
	svc := notify.New(st)
	if _, err := svc.RaiseReminders(ctx, notify.DefaultRules(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Notify(ctx, nil, grid.Message{Key: "browser/street", Kind: "test", Title: "街道通知", Body: "浏览器测试", Street: street},
		grid.Recipient{Kind: grid.RecipientStreet, Code: street}); err != nil {
		t.Fatal(err)
	}
	for _, name := range users {
		u, err := st.UserByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 25 {
			m := grid.Message{Key: fmt.Sprintf("browser/%s/%d", name, i), Kind: "test", Title: fmt.Sprintf("测试通知 %d", i), Body: "<b>不是标记</b>"}
			if _, err := st.Notify(ctx, nil, m, grid.UserRecipient(u.ID)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := svc.FanOut(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := testdb.DB(st).Exec(ctx, `UPDATE notifications SET read_at = now() WHERE id IN (
    SELECT n.id FROM notifications n JOIN notify_outbox o ON o.id = n.outbox_id WHERE o.key LIKE 'browser/%/2_' AND o.key ~ '/2[0-2]$')`); err != nil {
		t.Fatal(err)
	}
}

// seedAssessment (officer assessment 考核) records inspections this month of enterprises in
// the street's grid units, with every check-in verdict, so the 考核 table has done
// inspections and located check-ins to show (the demo has no inspections).
func seedAssessment(t *testing.T, st *grid.Store, street string) {
	t.Helper()
	if _, err := testdb.DB(st).Exec(context.Background(), `INSERT INTO inspections (district_code, enterprise_id, officer_id, inspected_at, result, h3, geom, checkin)
		SELECT e.district_code, e.id, g.officer_id, now() - interval '1 hour', 'passed', e.h3, e.geom,
			(ARRAY['located', 'far', 'inaccurate', 'unlocated'])[1 + (row_number() OVER (ORDER BY e.id))::int % 4]
		FROM enterprises e JOIN grid_cells c ON c.h3 = e.h3 JOIN grid_units g ON g.code = c.unit_code
		WHERE g.street_code = $1
		ORDER BY e.id LIMIT 40`, street); err != nil {
		t.Fatal(err)
	}
}
