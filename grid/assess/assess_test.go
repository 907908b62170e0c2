package assess_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
	"safegrid/grid/assess"
	"safegrid/grid/testdb"
)

func TestParseMonth(t *testing.T) {
	now := time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC) // December 1st in Shanghai
	for _, tc := range []struct {
		raw, want string // want "" is an error on month
	}{
		{"", "2026-12"},
		{"2026-12", "2026-12"},
		{"2026-11", "2026-11"},
		{"2000-01", "2000-01"},
		{"1999-12", ""},
		{"2027-01", ""},
		{"2026-13", ""},
		{"2026-00", ""},
		{"2026-1", ""},
		{"2026-11-01", ""},
		{"202611", ""},
		{" 2026-11", ""},
		{"２０２６-11", ""},
	} {
		got, err := assess.ParseMonth(tc.raw, now)
		if tc.want == "" {
			var inv *grid.InvalidError
			if !errors.As(err, &inv) || inv.Field != "month" {
				t.Errorf("%q: %v, want an InvalidError on month", tc.raw, err)
			}
			continue
		}
		if err != nil || got.Format("2006-01") != tc.want || got.Day() != 1 || got.Hour() != 0 || got.Location() != grid.ShanghaiZone() {
			t.Errorf("%q: %v %v, want %s", tc.raw, got, err, tc.want)
		}
	}
}

func month(t *testing.T, s string) time.Time {
	t.Helper()
	m, err := assess.ParseMonth(s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func admin() *grid.Principal {
	return &grid.Principal{UserID: 1, Username: "adm", Role: grid.RoleAdmin}
}

func byCode(rows []assess.Row) map[string]assess.Row {
	out := map[string]assess.Row{}
	for _, r := range rows {
		out[r.Code] = r
	}
	return out
}

// counts is a row's figures without the rates, in a comparable form.
type counts struct{ Units, Enterprises, Due, Done, Inspections, Located, Found, Rectified, OnTime, Overdue int }

func countsOf(r assess.Row) counts {
	return counts{r.Units, r.Enterprises, r.Due, r.Done, r.Inspections, r.Located, r.HazardsFound, r.Rectified, r.OnTime, r.OverdueNow}
}

// Figures worked out by hand from the fixture (grid/testdb/assess.go) for November 2026.
func TestAssessmentHandChecked(t *testing.T) {
	st := testdb.New(t, nil)
	testdb.Assess(t, st)
	svc := assess.New(st)
	rep, err := svc.Assess(context.Background(), admin(), assess.Query{Month: month(t, "2026-11")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Month != "2026-11" || !rep.From.Equal(time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC)) ||
		!rep.To.Equal(time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)) || rep.Today != time.Now().In(grid.ShanghaiZone()).Format(time.DateOnly) {
		t.Errorf("report bounds %s %v %v %s", rep.Month, rep.From, rep.To, rep.Today)
	}
	want := map[string]counts{
		// U1: due E1 E2 E4 (E3's last inspection, 09-15, is within two months), done E1 E4 (E2's
		// came on December 1st in Shanghai); inspections E1, E3 (23:30 on the 30th), E4, one
		// located; found Z1 Z3; rectified Z1 (on time) and Z2 (two days late); Z3 overdue.
		"U1": {1, 4, 3, 2, 3, 1, 2, 2, 1, 1},
		// U2: due E5 (never inspected) and E6, done E6 (00:10 on November 1st); Z4 came on
		// December 1st; Z5 verified at 23:59 on its deadline day.
		"U2": {1, 2, 2, 1, 1, 1, 0, 1, 1, 0},
		// U3: E7's October inspection (23:50 on the 31st) makes it due, the 11-15 one done;
		// Z6's accepted verification is December's (the November one was rejected).
		"U3": {1, 1, 1, 1, 1, 0, 1, 0, 0, 0},
		"U4": {1, 1, 1, 1, 1, 1, 1, 0, 0, 1},
	}
	units := byCode(rep.Units)
	if len(rep.Units) != 4 {
		t.Errorf("%d units, want 4", len(rep.Units))
	}
	for code, w := range want {
		if got := countsOf(units[code]); got != w {
			t.Errorf("unit %s: %+v, want %+v", code, got, w)
		}
	}
	u1 := units["U1"]
	if u1.Name != "甲一网格" || *u1.StreetCode != testdb.AssessStreetA || *u1.DistrictCode != testdb.AssessDistrict || *u1.Officer != "off1" ||
		*u1.DoneRate != 0.6667 || *u1.LocatedRate != 0.3333 || *u1.OnTimeRate != 0.5 {
		t.Errorf("U1: %+v", u1)
	}
	if u3 := units["U3"]; u3.OnTimeRate != nil || u4(units).Officer != nil {
		t.Errorf("U3's on-time rate %v (nothing rectified), U4's officer %v", u3.OnTimeRate, u4(units).Officer)
	}
	officers := byCode(rep.Officers)
	if len(rep.Officers) != 3 || rep.Officers[2].Code != "" {
		t.Errorf("officers %+v, want off1, off2 and the unassigned last", rep.Officers)
	}
	if got := countsOf(officers["off1"]); got != (counts{2, 5, 4, 3, 4, 1, 3, 2, 1, 1}) || officers["off1"].Name != "姓名off1" {
		t.Errorf("off1 (U1 + U3): %+v %s", got, officers["off1"].Name)
	}
	streets := byCode(rep.Streets)
	if got := countsOf(streets[testdb.AssessStreetA]); got != (counts{2, 6, 5, 3, 4, 2, 2, 3, 2, 1}) || streets[testdb.AssessStreetA].Name != "甲街道" {
		t.Errorf("street A: %+v", got)
	}
	districts := byCode(rep.Districts)
	if got := countsOf(districts[testdb.AssessDistrict]); got != (counts{3, 7, 6, 4, 5, 2, 3, 3, 2, 1}) || districts[testdb.AssessDistrict].Name != "黄浦区" {
		t.Errorf("district 310101: %+v", got)
	}
	// E9 and Z8 lie in no grid unit: not assessed.
	if got := countsOf(rep.Total); got != (counts{4, 8, 7, 5, 6, 3, 4, 3, 2, 2}) || *rep.Total.DoneRate != 0.7143 {
		t.Errorf("total: %+v %v", got, *rep.Total.DoneRate)
	}

	// December: E2's inspection at 16:30 UTC on November 30th is December's, and so is Z6's
	// accepted verification (late: its deadline was November 30th) and Z4's report.
	dec, err := svc.Assess(context.Background(), admin(), assess.Query{Month: month(t, "2026-12")})
	if err != nil {
		t.Fatal(err)
	}
	du := byCode(dec.Units)
	if du["U1"].Inspections != 1 || du["U1"].Located != 1 || du["U1"].Done != 1 || du["U3"].Rectified != 1 || du["U3"].OnTime != 0 || du["U2"].HazardsFound != 1 {
		t.Errorf("December: U1 %+v, U3 %+v, U2 %+v", du["U1"], du["U3"], du["U2"])
	}
}

func u4(units map[string]assess.Row) assess.Row { return units["U4"] }

// oracle computes every figure of level for month m straight from docs/ASSESSMENT.md's
// definitions, in plain SQL written apart from the service's: months as Shanghai
// 'YYYY-MM' strings, "due" in its calendar form (重大/较大 every month; the others unless
// inspected in one of the two months before), the rectification moment as the latest step to
// verified.
func oracle(t *testing.T, st *grid.Store, level, m string, where string, args ...any) map[string]counts {
	t.Helper()
	key := map[string]string{
		assess.LevelOfficer: "coalesce(us.username, '')", assess.LevelUnit: "gu.code",
		assess.LevelStreet: "gu.street_code", assess.LevelDistrict: "left(gu.street_code, 6)",
	}[level]
	mt, _ := time.Parse("2006-01", m)
	prev1, prev2 := mt.AddDate(0, -1, 0).Format("2006-01"), mt.AddDate(0, -2, 0).Format("2006-01")
	today := time.Now().In(grid.ShanghaiZone()).Format(time.DateOnly)
	sql := `WITH g AS (
	SELECT gu.code, ` + key + ` AS k FROM grid_units gu LEFT JOIN users us ON us.id = gu.officer_id WHERE ` + where + `
), e AS (
	SELECT g.k, e.id, e.district_code, e.risk_level FROM enterprises e JOIN grid_cells gc ON gc.h3 = e.h3 JOIN g ON g.code = gc.unit_code
), m AS (
	SELECT i.enterprise_id, i.district_code, i.checkin, to_char(i.inspected_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS ym FROM inspections i
), d AS (
	SELECT e.*, (e.risk_level IN ('重大', '较大') OR NOT EXISTS (SELECT 1 FROM m WHERE m.enterprise_id = e.id
		AND m.district_code = e.district_code AND m.ym IN ($2, $3))) AS due,
		EXISTS (SELECT 1 FROM m WHERE m.enterprise_id = e.id AND m.district_code = e.district_code AND m.ym = $1) AS inspected
	FROM e
), hz AS (
	SELECT g.k, h.status, h.deadline, to_char(h.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS rym,
		(SELECT hh.at FROM hazard_history hh WHERE hh.hazard_id = h.id AND hh.district_code = h.district_code
			AND hh.to_status = 'verified' ORDER BY hh.at DESC LIMIT 1) AS vat
	FROM hazards h JOIN grid_cells gc ON gc.h3 = h.h3 JOIN g ON g.code = gc.unit_code
)
SELECT keys.k,
	(SELECT count(*) FROM g WHERE g.k = keys.k)::int,
	(SELECT count(*) FROM d WHERE d.k = keys.k)::int,
	(SELECT count(*) FROM d WHERE d.k = keys.k AND d.due)::int,
	(SELECT count(*) FROM d WHERE d.k = keys.k AND d.due AND d.inspected)::int,
	(SELECT count(*) FROM e JOIN m ON m.enterprise_id = e.id AND m.district_code = e.district_code WHERE e.k = keys.k AND m.ym = $1)::int,
	(SELECT count(*) FROM e JOIN m ON m.enterprise_id = e.id AND m.district_code = e.district_code WHERE e.k = keys.k AND m.ym = $1 AND m.checkin = 'located')::int,
	(SELECT count(*) FROM hz WHERE hz.k = keys.k AND hz.rym = $1)::int,
	(SELECT count(*) FROM hz WHERE hz.k = keys.k AND hz.status IN ('verified', 'closed') AND to_char(hz.vat AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') = $1)::int,
	(SELECT count(*) FROM hz WHERE hz.k = keys.k AND hz.status IN ('verified', 'closed') AND to_char(hz.vat AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') = $1
		AND (hz.vat AT TIME ZONE 'Asia/Shanghai')::date <= hz.deadline)::int,
	(SELECT count(*) FROM hz WHERE hz.k = keys.k AND hz.status NOT IN ('verified', 'closed') AND hz.deadline < $4::date)::int
FROM (SELECT DISTINCT k FROM g) keys`
	rows, err := testdb.DB(st).Query(context.Background(), sql, append([]any{m, prev2, prev1, today}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]counts{}
	for rows.Next() {
		var k string
		var c counts
		if err := rows.Scan(&k, &c.Units, &c.Enterprises, &c.Due, &c.Done, &c.Inspections, &c.Located, &c.Found, &c.Rectified, &c.OnTime, &c.Overdue); err != nil {
			t.Fatal(err)
		}
		out[k] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Every figure at every level, for months around the fixture's, equals the oracle's, for
// callers of each scope; rates are the counts' quotients.
func TestAssessmentMatchesPlainSQL(t *testing.T) {
	st := testdb.New(t, nil)
	f := testdb.Assess(t, st)
	svc := assess.New(st)
	for _, who := range []struct {
		p     *grid.Principal
		q     assess.Query
		where string
		args  []any
	}{
		{admin(), assess.Query{}, "true", nil},
		{&grid.Principal{Role: grid.RolePlanner}, assess.Query{District: testdb.AssessDistrict}, "left(gu.street_code, 6) = $5", []any{testdb.AssessDistrict}},
		{admin(), assess.Query{Street: testdb.AssessStreetB}, "gu.street_code = $5", []any{testdb.AssessStreetB}},
		{&grid.Principal{UserID: f.Users["sta"], Role: grid.RoleStreet, StreetCode: testdb.AssessStreetA}, assess.Query{}, "gu.street_code = $5", []any{testdb.AssessStreetA}},
		{&grid.Principal{UserID: f.Users["dist"], Role: grid.RoleDistrict, DistrictCode: testdb.AssessDistrict}, assess.Query{}, "left(gu.street_code, 6) = $5", []any{testdb.AssessDistrict}},
		{&grid.Principal{UserID: f.Users["distx"], Role: grid.RoleDistrict, DistrictCode: testdb.AssessDistrictX}, assess.Query{}, "left(gu.street_code, 6) = $5", []any{testdb.AssessDistrictX}},
	} {
		for _, m := range []string{"2026-08", "2026-09", "2026-10", "2026-11", "2026-12"} {
			q := who.q
			q.Month = month(t, m)
			rep, err := svc.Assess(context.Background(), who.p, q)
			if err != nil {
				t.Fatalf("%s %+v: %v", who.p.Role, who.q, err)
			}
			var total counts
			for _, level := range assess.Levels() {
				want := oracle(t, st, level, m, who.where, who.args...)
				rows := rep.Rows(level)
				if len(rows) != len(want) {
					t.Errorf("%s %+v %s %s: %d rows, want %d", who.p.Role, who.q, m, level, len(rows), len(want))
				}
				for _, r := range rows {
					if got := countsOf(r); got != want[r.Code] {
						t.Errorf("%s %+v %s %s %q: %+v, want %+v", who.p.Role, who.q, m, level, r.Code, got, want[r.Code])
					}
					checkRates(t, r)
				}
				if level == assess.LevelDistrict {
					for _, c := range want {
						total = addCounts(total, c)
					}
				}
			}
			if got := countsOf(rep.Total); got != total {
				t.Errorf("%s %+v %s total %+v, want %+v", who.p.Role, who.q, m, got, total)
			}
			checkRates(t, rep.Total)
		}
	}
}

func addCounts(a, b counts) counts {
	return counts{a.Units + b.Units, a.Enterprises + b.Enterprises, a.Due + b.Due, a.Done + b.Done, a.Inspections + b.Inspections,
		a.Located + b.Located, a.Found + b.Found, a.Rectified + b.Rectified, a.OnTime + b.OnTime, a.Overdue + b.Overdue}
}

func checkRates(t *testing.T, r assess.Row) {
	t.Helper()
	for _, c := range []struct {
		name string
		got  *float64
		n, d int
	}{{"done", r.DoneRate, r.Done, r.Due}, {"located", r.LocatedRate, r.Located, r.Inspections}, {"on time", r.OnTimeRate, r.OnTime, r.Rectified}} {
		if c.d == 0 {
			if c.got != nil {
				t.Errorf("%s: %s rate %v without a denominator", r.Code, c.name, *c.got)
			}
			continue
		}
		want, _ := strconv.ParseFloat(fmt.Sprintf("%.4f", float64(c.n)/float64(c.d)), 64)
		if c.got == nil || *c.got != want {
			t.Errorf("%s: %s rate %v, want %v", r.Code, c.name, c.got, want)
		}
	}
}

// A caller sees only their scope, and a filter outside it is refused exactly as one naming
// no area.
func TestAssessmentScope(t *testing.T) {
	st := testdb.New(t, nil)
	f := testdb.Assess(t, st)
	svc := assess.New(st)
	ctx := context.Background()
	nov := month(t, "2026-11")
	sta := &grid.Principal{UserID: f.Users["sta"], Role: grid.RoleStreet, StreetCode: testdb.AssessStreetA}
	dist := &grid.Principal{UserID: f.Users["dist"], Role: grid.RoleDistrict, DistrictCode: testdb.AssessDistrict}
	distx := &grid.Principal{UserID: f.Users["distx"], Role: grid.RoleDistrict, DistrictCode: testdb.AssessDistrictX}
	off := &grid.Principal{UserID: f.Users["off1"], Role: grid.RoleOfficer}
	unitCodes := func(rep *assess.Report) string {
		s := ""
		for _, u := range rep.Units {
			s += u.Code
		}
		return s
	}
	for _, tc := range []struct {
		p     *grid.Principal
		q     assess.Query
		units string
		err   string // the field of the InvalidError, or ""
	}{
		{sta, assess.Query{}, "U1U2", ""},
		{sta, assess.Query{Street: testdb.AssessStreetA}, "U1U2", ""},
		{sta, assess.Query{District: testdb.AssessDistrict}, "U1U2", ""},
		{sta, assess.Query{Street: testdb.AssessStreetB}, "", "street"},
		{sta, assess.Query{District: testdb.AssessDistrictX}, "", "district"},
		{dist, assess.Query{}, "U1U2U3", ""},
		{dist, assess.Query{Street: testdb.AssessStreetB}, "U3", ""},
		{dist, assess.Query{Street: testdb.AssessStreetC}, "", "street"},
		{dist, assess.Query{District: testdb.AssessDistrictX}, "", "district"},
		{distx, assess.Query{}, "U4", ""},
		{distx, assess.Query{Street: testdb.AssessStreetA}, "", "street"},
		{admin(), assess.Query{District: testdb.AssessDistrictX}, "U4", ""},
		{admin(), assess.Query{District: testdb.AssessDistrict, Street: testdb.AssessStreetC}, "", "street"},
		{admin(), assess.Query{Street: "310101999"}, "", "street"},
		{admin(), assess.Query{Street: "31010100"}, "", "street"},
		{admin(), assess.Query{District: "310199"}, "", "district"},
		{admin(), assess.Query{District: testdb.AssessStreetA}, "", "district"},
		{off, assess.Query{}, "", ""},
	} {
		tc.q.Month = nov
		rep, err := svc.Assess(ctx, tc.p, tc.q)
		if tc.err != "" {
			var inv *grid.InvalidError
			if !errors.As(err, &inv) || inv.Field != tc.err {
				t.Errorf("%s %+v: %v, want an InvalidError on %s", tc.p.Role, tc.q, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %+v: %v", tc.p.Role, tc.q, err)
			continue
		}
		if got := unitCodes(rep); got != tc.units {
			t.Errorf("%s %+v: units %q, want %q", tc.p.Role, tc.q, got, tc.units)
		}
	}
	// Another street is refused in the very words of a street that does not exist.
	_, other := svc.Assess(ctx, sta, assess.Query{Month: nov, Street: testdb.AssessStreetB})
	_, none := svc.Assess(ctx, admin(), assess.Query{Month: nov, Street: "310101999"})
	if other == nil || none == nil || other.Error() != fmt.Sprintf("street: no street has the code %s", testdb.AssessStreetB) ||
		none.Error() != "street: no street has the code 310101999" {
		t.Errorf("another street: %v; a missing one: %v", other, none)
	}
	// The street office's officer row is only its street's part of off1 (U1, not U3).
	rep, _ := svc.Assess(ctx, sta, assess.Query{Month: nov})
	if o := byCode(rep.Officers)["off1"]; o.Units != 1 || o.Due != 3 || rep.Street != testdb.AssessStreetA || rep.ScopeName != "甲街道" {
		t.Errorf("street office: off1 %+v, scope %s %s", o, rep.Street, rep.ScopeName)
	}
	if rep, _ := svc.Assess(ctx, distx, assess.Query{Month: nov}); rep.District != testdb.AssessDistrictX || rep.ScopeName != "徐汇区" || len(rep.Districts) != 1 {
		t.Errorf("district user: %s %s %+v", rep.District, rep.ScopeName, rep.Districts)
	}
}

// The workbook holds every level's rows and the total as the report does, below a title
// naming the month and scope.
func TestAssessmentXLSX(t *testing.T) {
	st := testdb.New(t, nil)
	testdb.Assess(t, st)
	rep, err := assess.New(st).Assess(context.Background(), admin(), assess.Query{Month: month(t, "2026-11"), District: testdb.AssessDistrict})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := assess.WriteXLSX(&buf, rep); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := x.GetSheetList(); fmt.Sprint(got) != "[网格员 网格 街道 区]" {
		t.Errorf("sheets %v", got)
	}
	for _, level := range assess.Levels() {
		rows, err := x.GetRows(assess.SheetName(level), excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		if rows[0][0] != "网格化监管考核 2026年11月（2026-11）· 范围：区 310101 黄浦区 · 当前逾期按 "+rep.Today+" 计" {
			t.Errorf("%s title %q", level, rows[0][0])
		}
		if fmt.Sprint(rows[1]) != fmt.Sprint(assess.Columns(level)) {
			t.Errorf("%s header %v", level, rows[1])
		}
		data := rep.Rows(level)
		if len(rows) != len(data)+3 {
			t.Fatalf("%s: %d rows, want %d", level, len(rows), len(data)+3)
		}
		n := len(assess.Columns(level))
		for i := range data {
			checkXLSXRow(t, level, rows[i+2], data[i], n, false)
		}
		checkXLSXRow(t, level, rows[len(rows)-1], rep.Total, n, true)
	}
}

// checkXLSXRow compares a sheet's row with a report row: keys first, then the figures.
func checkXLSXRow(t *testing.T, level string, cells []string, r assess.Row, n int, total bool) {
	t.Helper()
	for len(cells) < n {
		cells = append(cells, "")
	}
	figs := cells[n-12:]
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	want := []string{strconv.Itoa(r.Enterprises), strconv.Itoa(r.Due), strconv.Itoa(r.Done), num(r.DoneRate), strconv.Itoa(r.Inspections),
		strconv.Itoa(r.Located), num(r.LocatedRate), strconv.Itoa(r.HazardsFound), strconv.Itoa(r.Rectified), strconv.Itoa(r.OnTime),
		num(r.OnTimeRate), strconv.Itoa(r.OverdueNow)}
	if fmt.Sprint(figs) != fmt.Sprint(want) {
		t.Errorf("%s %q: figures %v, want %v", level, r.Code, figs, want)
	}
	if total {
		if cells[0] != assess.TotalLabel {
			t.Errorf("%s total row starts %q", level, cells[0])
		}
	} else if cells[0] != r.Code {
		t.Errorf("%s row %v, want code %q", level, cells, r.Code)
	}
}

// A hazard that reached verified or closed with no verification step recorded (an
// import) counts as rectified at its closing step, else at closed_at; without either it
// is not counted in any month.
func TestAssessmentRectifiedWithoutVerification(t *testing.T) {
	st := testdb.New(t, nil)
	testdb.Assess(t, st)
	ctx := context.Background()
	for _, q := range []string{
		// closed_at in November, on time.
		`INSERT INTO hazards (district_code, code, level, category, description, status, deadline, reported_at, closed_at, h3, geom)
			SELECT district_code, 'Z9', '一般', '消防安全', '导入', 'closed', '2026-11-20', '2026-10-01 09:00+08', '2026-11-15 09:00+08', h3, geom
			FROM hazards WHERE code = 'Z4'`,
		// verified and closed with no date at all: counted nowhere.
		`INSERT INTO hazards (district_code, code, level, category, description, status, deadline, reported_at, h3, geom)
			SELECT district_code, 'Z10', '一般', '消防安全', '导入', 'verified', '2026-11-20', '2026-10-01 09:00+08', h3, geom
			FROM hazards WHERE code = 'Z4'`,
		// only a closing step, on November 25th: late for a deadline of the 20th.
		`INSERT INTO hazards (district_code, code, level, category, description, status, deadline, reported_at, closed_at, h3, geom)
			SELECT district_code, 'Z11', '一般', '消防安全', '导入', 'closed', '2026-11-20', '2026-10-01 09:00+08', '2026-10-02 09:00+08', h3, geom
			FROM hazards WHERE code = 'Z4'`,
		`INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, at)
			SELECT district_code, id, 'verified', 'closed', 'sta', '2026-11-25 09:00+08' FROM hazards WHERE code = 'Z11'`,
	} {
		if _, err := testdb.DB(st).Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rep, err := assess.New(st).Assess(ctx, admin(), assess.Query{Month: month(t, "2026-11")})
	if err != nil {
		t.Fatal(err)
	}
	// U2 had Z5 (on time); now Z9 (on time, closed_at) and Z11 (late, its closing step).
	if u2 := byCode(rep.Units)["U2"]; u2.Rectified != 3 || u2.OnTime != 2 || *u2.OnTimeRate != 0.6667 {
		t.Errorf("U2: rectified %d, on time %d", u2.Rectified, u2.OnTime)
	}
	oct, err := assess.New(st).Assess(ctx, admin(), assess.Query{Month: month(t, "2026-10")})
	if err != nil {
		t.Fatal(err)
	}
	if u2 := byCode(oct.Units)["U2"]; u2.Rectified != 0 {
		t.Errorf("October: U2 rectified %d (Z11's closed_at is October, but its closing step is November's)", u2.Rectified)
	}
}
