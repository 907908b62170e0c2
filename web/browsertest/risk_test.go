package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
	"safegrid/grid/risk"
	"safegrid/grid/testdb"
)

// riskDistrict is the district bureau the risk map scenarios sign in as: 金山区, where the
// demo's chemical plants concentrate (the joint-control zone's heart).
const riskDistrict = "310116"

// riskExportScenario is the name of run.mjs's scenario that downloads the risk workbook.
const riskExportScenario = "risk map: district bureau"

// riskSeed is what seedRisk prepared for the risk map scenarios.
type riskSeed struct {
	District string // the district bureau's username (district_310116)
	Street   string // the street office of the street made to rise a colour
	Raised   string // that street's code ("" when every street of the district was red already)
}

// seedRisk gives the risk map two snapshot dates to compare: one computed as of a month
// ago (as `safegrid demo` back-fills its monthly snapshots), then one enterprise of the
// district's highest-scoring street below red made a 重大 (major-risk) enterprise, so that
// street turns red (an area is never coloured below its highest enterprise risk level),
// and a recompute today through the API (as the admin's 立即重新计算 does), which raises
// its warnings.
func seedRisk(t *testing.T, st *grid.Store, base, admin string) riskSeed {
	t.Helper()
	ctx := context.Background()
	db := testdb.DB(st)
	seed := riskSeed{District: "district_" + riskDistrict}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM users WHERE username = $1 AND role = 'district'`, seed.District).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the demo has no district bureau %s (%d, %v)", seed.District, n, err)
	}
	now := time.Now().In(grid.ShanghaiZone())
	monthAgo := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, grid.ShanghaiZone()).AddDate(0, -1, 0)
	sn, err := risk.New(st).Recompute(ctx, risk.Request{Trigger: risk.TriggerDemo, By: "demo", AsOf: monthAgo})
	if err != nil {
		t.Fatalf("the risk snapshot as of %s: %v", monthAgo.Format(time.DateOnly), err)
	}
	first := sn.ID
	err = db.QueryRow(ctx, `SELECT code FROM risk_areas
		WHERE snapshot_id = $1 AND district_code = $2 AND level = 'street' AND colour <> 'red'
		ORDER BY score DESC, code LIMIT 1`, first, riskDistrict).Scan(&seed.Raised)
	if err == nil {
		tag, err := db.Exec(ctx, `UPDATE enterprises SET risk_level = '重大', updated_at = now()
			WHERE (district_code, id) = (SELECT district_code, id FROM enterprises WHERE district_code = $1 AND street_code = $2 ORDER BY id LIMIT 1)`,
			riskDistrict, seed.Raised)
		if err != nil {
			t.Fatal(err)
		}
		if tag.RowsAffected() != 1 {
			t.Logf("street %s has no enterprise to raise", seed.Raised)
			seed.Raised = ""
		}
	} else {
		t.Logf("no street of %s below red in snapshot %d (%v): the trend has no rise to show", riskDistrict, first, err)
	}
	recomputeRisk(t, base, apiToken(t, base, admin))
	q := `SELECT username FROM users WHERE role = 'street' AND street_code = $1 ORDER BY username LIMIT 1`
	arg := seed.Raised
	if arg == "" {
		q = `SELECT username FROM users WHERE role = 'street' AND left(street_code, 6) = $1 ORDER BY street_code LIMIT 1`
		arg = riskDistrict
	}
	if err := db.QueryRow(ctx, q, arg).Scan(&seed.Street); err != nil {
		t.Fatalf("picking a street office in %s: %v", arg, err)
	}
	return seed
}

// apiToken signs user in through the API.
func apiToken(t *testing.T, base, user string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": demoPassword})
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("login %s: %s %s", user, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Token
}

// recomputeRisk is POST /api/v1/risk/snapshots; it returns the new snapshot's id.
func recomputeRisk(t *testing.T, base, token string) int64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/risk/snapshots", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/risk/snapshots: %s %s", resp.Status, b)
	}
	var snap struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(b, &snap); err != nil || snap.ID == 0 {
		t.Fatalf("POST /api/v1/risk/snapshots: %s (%v)", b, err)
	}
	return snap.ID
}

// riskExport is the risk map's XLSX download with the API's JSON of the same list.
type riskExport struct {
	XLSX  download          `json:"xlsx"`
	Level string            `json:"level"`
	API   map[string]string `json:"api"` // level -> file with GET /risk/areas?level=<level> for the same snapshot
}

// checkRiskExport opens the workbook the page downloaded (a zip that excelize reads):
// its sheets are risk.SheetDistricts and risk.SheetStreets, each listing the API's areas of
// its level in the API's order under risk.ReportHeader, with the code, the score (to one
// decimal), the colour's Chinese name and the change.
func checkRiskExport(t *testing.T, x *riskExport) {
	if x == nil {
		t.Fatal("run.mjs downloaded no risk workbook")
	}
	if !strings.HasSuffix(x.XLSX.Filename, ".xlsx") {
		t.Errorf("download name %q does not end with .xlsx", x.XLSX.Filename)
	}
	b, err := os.ReadFile(x.XLSX.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		t.Fatalf("%s is not a zip (starts %q)", x.XLSX.Filename, b[:min(8, len(b))])
	}
	wb, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("open %s: %v", x.XLSX.Filename, err)
	}
	defer wb.Close()
	sheets := map[string]string{risk.LevelDistrict: risk.SheetDistricts, risk.LevelStreet: risk.SheetStreets}
	if got := wb.GetSheetList(); !slices.Equal(got, []string{risk.SheetDistricts, risk.SheetStreets}) {
		t.Fatalf("%s sheets %q, want %q and %q", x.XLSX.Filename, got, risk.SheetDistricts, risk.SheetStreets)
	}
	for _, level := range []string{risk.LevelDistrict, risk.LevelStreet} {
		path, ok := x.API[level]
		if !ok {
			t.Errorf("no API answer for level %s", level)
			continue
		}
		var page struct {
			Areas []struct {
				Code   string  `json:"code"`
				Score  float64 `json:"score"`
				Colour string  `json:"colour"`
				Change string  `json:"change"`
			} `json:"areas"`
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(page.Areas) == 0 {
			t.Errorf("the API lists no %s area", level)
			continue
		}
		rows, err := wb.GetRows(sheets[level])
		if err != nil {
			t.Fatal(err)
		}
		header := risk.ReportHeader(level)
		head := slices.IndexFunc(rows, func(r []string) bool { return slices.Equal(r, header) })
		if head < 0 {
			t.Fatalf("sheet %s has no header row %q", sheets[level], header)
		}
		col := func(name string) int { return slices.Index(header, name) }
		data := rows[head+1:]
		if len(data) != len(page.Areas) {
			t.Fatalf("sheet %s has %d rows, the API %d %s areas", sheets[level], len(data), len(page.Areas), level)
		}
		bad := 0
		for i, a := range page.Areas {
			row := data[i]
			cell := func(name string) string {
				if c := col(name); c < len(row) {
					return row[c]
				}
				return ""
			}
			want := map[string]string{
				"代码": a.Code, "风险分": strconv.FormatFloat(math.Round(a.Score*10)/10, 'f', -1, 64),
				"颜色": risk.Colour(a.Colour).Chinese(), "变化": risk.ChangeChinese(a.Change),
			}
			for name, w := range want {
				if got := cell(name); got != w && bad < 10 {
					bad++
					t.Errorf("sheet %s row %d %s: %q, the API %q", sheets[level], i+1, name, got, w)
				}
			}
		}
		t.Logf("sheet %s: the API's %d %s areas", sheets[level], len(page.Areas), level)
	}
}
