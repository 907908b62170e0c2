package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
	"safegrid/grid/assess"
	"safegrid/grid/testdb"
)

// assessServer serves the assessment fixture (grid/testdb/assess.go) and signs its users in.
type assessServer struct {
	*testServer
	auth map[string]string
}

func newAssessServer(t *testing.T) *assessServer {
	t.Helper()
	st := testdb.New(t, nil)
	testdb.Assess(t, st)
	ts := serverOn(t, st, nil)
	a := &assessServer{testServer: ts, auth: map[string]string{}}
	for _, u := range []string{"off1", "sta", "stb", "dist", "distx", "adm", "plan"} {
		a.auth[u] = ts.login(t, u)
	}
	return a
}

func (a *assessServer) get(t *testing.T, who, path string) (int, []byte, string) {
	t.Helper()
	resp, body := a.do(t, "GET", path, "", "Authorization", a.auth[who])
	return resp.StatusCode, body, resp.Header.Get("Content-Disposition")
}

type assessAnswer struct {
	Month    string       `json:"month"`
	From     string       `json:"from"`
	To       string       `json:"to"`
	Today    string       `json:"today"`
	By       string       `json:"by"`
	District *string      `json:"district"`
	Street   *string      `json:"street"`
	Area     string       `json:"area_name"`
	Rows     []assess.Row `json:"rows"`
	Total    assess.Row   `json:"total"`
}

func (a *assessServer) answer(t *testing.T, who, path string) assessAnswer {
	t.Helper()
	st, body, _ := a.get(t, who, path)
	if st != 200 {
		t.Fatalf("%s %s: %d %s", who, path, st, body)
	}
	var out assessAnswer
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAssessmentAPI(t *testing.T) {
	a := newAssessServer(t)
	// November, per unit, for the admin: the hand-checked figures of grid/assess's test.
	ans := a.answer(t, "adm", "/api/v1/assessment?month=2026-11&by=unit")
	if ans.Month != "2026-11" || ans.From != "2026-10-31T16:00:00.000Z" || ans.To != "2026-11-30T16:00:00.000Z" || ans.By != "unit" ||
		ans.Today != time.Now().In(grid.ShanghaiZone()).Format(time.DateOnly) || ans.District != nil || ans.Street != nil || len(ans.Rows) != 4 {
		t.Fatalf("answer %+v", ans)
	}
	u1 := ans.Rows[0]
	if u1.Code != "U1" || u1.Due != 3 || u1.Done != 2 || u1.Inspections != 3 || u1.Located != 1 || u1.HazardsFound != 2 ||
		u1.Rectified != 2 || u1.OnTime != 1 || u1.OverdueNow != 1 || *u1.DoneRate != 0.6667 || *u1.Officer != "off1" {
		t.Errorf("U1 %+v", u1)
	}
	if tot := ans.Total; tot.Due != 7 || tot.Done != 5 || tot.Inspections != 6 || tot.Located != 3 || tot.OverdueNow != 2 || tot.Units != 4 {
		t.Errorf("total %+v", tot)
	}
	// The raw JSON: a rate without a denominator is null, the total has no code.
	_, body, _ := a.get(t, "adm", "/api/v1/assessment?month=2026-11&by=unit&street="+testdb.AssessStreetB)
	if !strings.Contains(string(body), `"on_time_rate":null`) || !strings.Contains(string(body), `"street":"310101002"`) {
		t.Errorf("street B: %s", body)
	}
	// The default level is officer, the default month the current one.
	def := a.answer(t, "adm", "/api/v1/assessment")
	if def.By != "officer" || def.Month != time.Now().In(grid.ShanghaiZone()).Format("2006-01") || len(def.Rows) != 3 {
		t.Errorf("defaults: %s %s %d rows", def.By, def.Month, len(def.Rows))
	}

	// Scope: a street office sees its street, a district user its district, whatever it asks.
	for _, tc := range []struct {
		who, query, rows string
		district, street string
	}{
		{"sta", "by=unit", "U1 U2", "310101", "310101001"},
		{"sta", "by=district", "310101", "310101", "310101001"},
		{"sta", "by=street", "310101001", "310101", "310101001"},
		{"sta", "by=officer", "off1 off2", "310101", "310101001"},
		{"stb", "by=unit", "U3", "310101", "310101002"},
		{"dist", "by=unit", "U1 U2 U3", "310101", ""},
		{"dist", "by=district", "310101", "310101", ""},
		{"dist", "by=unit&street=310101002", "U3", "310101", "310101002"},
		{"distx", "by=unit", "U4", "310104", ""},
		{"distx", "by=officer", "", "310104", ""}, // U4 has no officer: one row with an empty code
		{"plan", "by=district", "310101 310104", "", ""},
		{"adm", "by=unit&district=310104", "U4", "310104", ""},
	} {
		ans := a.answer(t, tc.who, "/api/v1/assessment?month=2026-11&"+tc.query)
		var codes []string
		for _, r := range ans.Rows {
			codes = append(codes, r.Code)
		}
		if strings.Join(codes, " ") != tc.rows || str(ans.District) != tc.district || str(ans.Street) != tc.street {
			t.Errorf("%s %s: rows %q district %q street %q, want %q %q %q", tc.who, tc.query, codes, str(ans.District), str(ans.Street),
				tc.rows, tc.district, tc.street)
		}
	}
	if a := a.answer(t, "distx", "/api/v1/assessment?month=2026-11"); a.Area != "徐汇区" {
		t.Errorf("district user's area name %q", a.Area)
	}
	if a := a.answer(t, "sta", "/api/v1/assessment?month=2026-11"); a.Area != "甲街道" {
		t.Errorf("street office's area name %q", a.Area)
	}
	// Officers are refused.
	if st, body, _ := a.get(t, "off1", "/api/v1/assessment"); st != 403 {
		t.Errorf("officer: %d %s", st, body)
	}
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Bad input is a 400 naming the parameter; outside the scope reads exactly like missing.
func TestAssessmentBadInput(t *testing.T) {
	a := newAssessServer(t)
	next := time.Now().In(grid.ShanghaiZone()).AddDate(0, 1, 0).Format("2006-01")
	for _, tc := range []struct{ who, query, field string }{
		{"adm", "month=2026-13", "month"},
		{"adm", "month=2026-00", "month"},
		{"adm", "month=1999-12", "month"},
		{"adm", "month=" + next, "month"},
		{"adm", "month=2026-1", "month"},
		{"adm", "month=2026-11-01", "month"},
		{"adm", "month=%00", "month"},
		{"adm", "month=99999999999999999999-01", "month"},
		{"adm", "by=community", "by"},
		{"adm", "format=pdf", "format"},
		{"adm", "street=31010100", "street"},
		{"adm", "street=3101010010", "street"},
		{"adm", "street=abcdefghi", "street"},
		{"adm", "street=310101009", "street"},
		{"adm", "district=31010", "district"},
		{"adm", "district=310199", "district"},
		{"adm", "district=310101001", "district"},
		{"adm", "district=310104&street=310101001", "street"},
		{"sta", "street=310101002", "street"},
		{"sta", "district=310104", "district"},
		{"dist", "street=310104001", "street"},
		{"dist", "district=310104", "district"},
		{"distx", "street=310101001&format=xlsx", "street"},
	} {
		resp, body := a.do(t, "GET", "/api/v1/assessment?"+tc.query, "", "Authorization", a.auth[tc.who])
		p := problemOf(t, resp, body, 400)
		if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("%s %s: %+v", tc.who, tc.query, p)
		}
	}
	// Another street is refused in the words of a street that does not exist.
	_, other, _ := a.get(t, "sta", "/api/v1/assessment?street=310101002")
	_, missing, _ := a.get(t, "sta", "/api/v1/assessment?street=310101009")
	detail := func(b []byte) string {
		var p problem
		_ = json.Unmarshal(b, &p)
		return strings.ReplaceAll(p.Detail, "310101009", "310101002")
	}
	if detail(other) != detail(missing) || detail(other) == "" {
		t.Errorf("another street %q, a missing one %q", detail(other), detail(missing))
	}
}

// The workbook and the CSV hold what the JSON answers do, level by level.
func TestAssessmentExportsEqualJSON(t *testing.T) {
	a := newAssessServer(t)
	for _, who := range []string{"adm", "sta", "dist"} {
		st, body, disp := a.get(t, who, "/api/v1/assessment?month=2026-11&format=xlsx")
		if st != 200 {
			t.Fatalf("%s xlsx: %d %s", who, st, body)
		}
		wantName := map[string]string{"adm": "assessment-2026-11.xlsx", "sta": "assessment-2026-11-310101001.xlsx", "dist": "assessment-2026-11-310101.xlsx"}[who]
		if disp != `attachment; filename="`+wantName+`"` {
			t.Errorf("%s: Content-Disposition %q", who, disp)
		}
		x, err := excelize.OpenReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for _, level := range assess.Levels() {
			ans := a.answer(t, who, "/api/v1/assessment?month=2026-11&by="+level)
			rows, err := x.GetRows(assess.SheetName(level), excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(rows[0][0], "2026年11月") || !strings.Contains(rows[0][0], "范围") {
				t.Errorf("%s %s title %q", who, level, rows[0][0])
			}
			if want := exportRows(level, ans); fmt.Sprint(rows[1:]) != fmt.Sprint(want) {
				t.Errorf("%s %s:\nxlsx %v\njson %v", who, level, rows[1:], want)
			}
			st, body, disp := a.get(t, who, "/api/v1/assessment?month=2026-11&format=csv&by="+level)
			if st != 200 || !bytes.HasPrefix(body, []byte("\uFEFF")) || !strings.HasSuffix(disp, "-"+level+`.csv"`) {
				t.Fatalf("%s csv %s: %d %q", who, level, st, disp)
			}
			recs, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if want := exportRows(level, ans); fmt.Sprint(recs) != fmt.Sprint(want) {
				t.Errorf("%s %s:\ncsv  %v\njson %v", who, level, recs, want)
			}
		}
	}
}

// exportRows is what an export of level should hold for a JSON answer: the header, the rows
// and the total, as text (trailing empty cells dropped, as excelize reads them).
func exportRows(level string, ans assessAnswer) [][]string {
	out := [][]string{assess.Columns(level)}
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	line := func(r assess.Row, total bool) []string {
		var keys []string
		switch level {
		case assess.LevelOfficer:
			keys = []string{r.Code, r.Name, strconv.Itoa(r.Units)}
		case assess.LevelUnit:
			keys = []string{r.Code, r.Name, str(r.StreetCode), str(r.Officer)}
		case assess.LevelStreet:
			keys = []string{r.Code, r.Name, str(r.DistrictCode), strconv.Itoa(r.Units)}
		case assess.LevelDistrict:
			keys = []string{r.Code, r.Name, strconv.Itoa(r.Units)}
		}
		if total {
			for i := range keys {
				if _, err := strconv.Atoi(keys[i]); err != nil || level == assess.LevelUnit {
					keys[i] = ""
				}
			}
			keys[0] = assess.TotalLabel
		}
		cells := append(keys, strconv.Itoa(r.Enterprises), strconv.Itoa(r.Due), strconv.Itoa(r.Done), num(r.DoneRate),
			strconv.Itoa(r.Inspections), strconv.Itoa(r.Located), num(r.LocatedRate), strconv.Itoa(r.HazardsFound),
			strconv.Itoa(r.Rectified), strconv.Itoa(r.OnTime), num(r.OnTimeRate), strconv.Itoa(r.OverdueNow))
		return cells
	}
	for _, r := range ans.Rows {
		out = append(out, line(r, false))
	}
	return append(out, line(ans.Total, true))
}
