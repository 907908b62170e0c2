package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
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

// seedRisk gives the risk map two snapshot dates to compare: a recompute through the API
// (as the admin's 立即重新计算 does), dated a month back, then one enterprise of the
// district's highest-scoring street below red made a 重大 (major-risk) enterprise, so that
// street turns red (an area is never coloured below its highest enterprise risk level),
// and a second recompute today, which raises its warnings. Only the back-dating is SQL:
// a snapshot is always taken today.
func seedRisk(t *testing.T, st *grid.Store, base, admin string) riskSeed {
	t.Helper()
	ctx := context.Background()
	db := testdb.DB(st)
	seed := riskSeed{District: "district_" + riskDistrict}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM users WHERE username = $1 AND role = 'district'`, seed.District).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the demo has no district bureau %s (%d, %v)", seed.District, n, err)
	}
	token := apiToken(t, base, admin)
	first := recomputeRisk(t, base, token)
	if _, err := db.Exec(ctx, `UPDATE risk_snapshots SET taken_on = taken_on - 30, computed_at = computed_at - interval '30 days'`); err != nil {
		t.Fatal(err)
	}
	err := db.QueryRow(ctx, `SELECT code FROM risk_areas
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
	recomputeRisk(t, base, token)
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

// checkRiskExport opens the workbook the page downloaded (a zip that excelize reads) and
// finds each level's areas in a sheet of their own, one row each in the API's order, with
// the area's colour in Chinese beside its code.
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
	sheets := wb.GetSheetList()
	t.Logf("%s sheets: %q", x.XLSX.Filename, sheets)
	// A colour may be written as its Chinese name, its level name or its code.
	names := map[string][]string{"red": {"红", "重大风险", "red"}, "orange": {"橙", "较大风险", "orange"},
		"yellow": {"黄", "一般风险", "yellow"}, "blue": {"蓝", "低风险", "blue"}}
	for _, level := range []string{"district", "street"} {
		path, ok := x.API[level]
		if !ok {
			t.Errorf("no API answer for level %s", level)
			continue
		}
		var page struct {
			Areas []struct {
				Code   string `json:"code"`
				Name   string `json:"name"`
				Colour string `json:"colour"`
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
		found := ""
		var problems []string
		for _, name := range sheets {
			rows, err := wb.GetRows(name)
			if err != nil {
				t.Fatal(err)
			}
			if msg := sameAreaRows(rows, page.Areas[0].Code, len(page.Areas), func(i int) (string, []string) {
				return page.Areas[i].Code, names[page.Areas[i].Colour]
			}); msg == "" {
				found = name
				break
			} else {
				problems = append(problems, fmt.Sprintf("%s: %s", name, msg))
			}
		}
		if found == "" {
			t.Errorf("no sheet of %s lists the API's %d %s areas in order: %s", x.XLSX.Filename, len(page.Areas), level, strings.Join(problems, "; "))
		} else {
			t.Logf("sheet %q: the API's %d %s areas", found, len(page.Areas), level)
		}
	}
}

// sameAreaRows checks that rows hold, from the row where first appears, n rows whose
// cells include area i's code and one of its colour's names; it returns what differs.
func sameAreaRows(rows [][]string, first string, n int, area func(i int) (code string, colour []string)) string {
	start := -1
	for i, r := range rows {
		for _, c := range r {
			if c == first {
				start = i
				break
			}
		}
		if start >= 0 {
			break
		}
	}
	if start < 0 {
		return "no row holds " + first
	}
	if len(rows)-start < n {
		return fmt.Sprintf("%d rows from %s, the API has %d areas", len(rows)-start, first, n)
	}
	for i := range n {
		code, colour := area(i)
		row := strings.Join(rows[start+i], "\x00")
		cells := "\x00" + row + "\x00"
		if !strings.Contains(cells, "\x00"+code+"\x00") {
			return fmt.Sprintf("row %d lacks %s: %q", start+i+1, code, rows[start+i])
		}
		named := len(colour) == 0
		for _, c := range colour {
			named = named || strings.Contains(cells, "\x00"+c+"\x00") || strings.Contains(row, c)
		}
		if !named {
			return fmt.Sprintf("row %d (%s) lacks its colour %v: %q", start+i+1, code, colour, rows[start+i])
		}
	}
	return ""
}
