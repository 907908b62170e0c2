package dossier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
	"safegrid/grid/dossier"
	"safegrid/grid/testdb"
)

func licenceCount(t *testing.T, st *grid.Store) (rows, audits int) {
	t.Helper()
	db := testdb.DB(st)
	ctx := context.Background()
	if err := db.QueryRow(ctx, `SELECT count(*) FROM enterprise_licences`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'import' AND target = 'enterprise_licences'`).Scan(&audits); err != nil {
		t.Fatal(err)
	}
	return rows, audits
}

func TestLicenceLoadRefusesBadRows(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	badCheck := f.e[:17] + "X"
	if f.e[17] == 'X' {
		badCheck = f.e[:17] + "Y"
	}
	unknown := uscc(t, 999)
	long := strings.Repeat("证", dossier.MaxLicenceAuthority+1)
	file := "uscc,type,number,authority,issued_on,valid_until\n" +
		f.e + ",安全生产许可证,(沪)WH安许证字[2024]0001,上海市应急管理局,2024-01-01,2027-01-01\n" + // 2: good
		badCheck + ",安全生产许可证,A-2,上海市应急管理局,2024-01-01,2027-01-01\n" + // 3
		f.e + ",营业执照,A-3,上海市应急管理局,2024-01-01,2027-01-01\n" + // 4
		f.e + ",危险化学品登记证,A-4,上海市应急管理局,2024-05-01,2024-04-30\n" + // 5
		f.e + ",危险化学品登记证,A-5,上海市应急管理局,2024/05/01,2024-02-30\n" + // 6: two dates
		f.e + ",其他,A-6," + long + ",2024-01-01,2027-01-01\n" + // 7
		f.e + ",其他,A\x007,上海市应急管理局,2024-01-01,2027-01-01\n" + // 8
		f.e + ",其他,A-8,\xff\xfe,2024-01-01,2027-01-01\n" + // 9
		f.e + ",安全生产许可证,(沪)WH安许证字[2024]0001,另一机关,2024-01-01,2027-01-01\n" + // 10: repeats row 2
		f.e + ",其他,,上海市应急管理局,2024-01-01,2027-01-01\n" + // 11
		f.e + ",其他,A-12\n" + // 12
		f.e + ",其他,A-13,上海市应急管理局,0001-01-01,9999-12-31\n" + // 13
		unknown + ",其他,A-14,上海市应急管理局,2024-01-01,2027-01-01\n" + // 14: no such enterprise
		unknown + ",其他,A-15,,2024-01-01,2027-01-01\n" // 15: no such enterprise, no authority
	_, err := f.svc.LoadLicencesCSV(ctx, strings.NewReader(file), "adm")
	var le *dossier.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("want a LoadError, got %v", err)
	}
	var got []string
	for _, r := range le.Rejections {
		got = append(got, fmt.Sprintf("%d %s", r.Row, r.Field))
	}
	want := []string{"3 uscc", "4 type", "5 valid_until", "6 issued_on", "6 valid_until", "7 authority", "8 number",
		"9 authority", "10 number", "11 number", "12 row", "13 issued_on", "13 valid_until", "14 uscc", "15 authority", "15 uscc"}
	if !slices.Equal(got, want) {
		t.Errorf("rejections %v\nwant %v\n%v", got, want, err)
	}
	if n, a := licenceCount(t, f.st); n != 0 || a != 0 {
		t.Errorf("a refused file wrote %d licences, %d audit entries", n, a)
	}

	// Rows good in themselves but naming no enterprise: refused in the transaction.
	file = "uscc,type,number,authority,issued_on,valid_until\n" +
		f.e + ",安全生产许可证,B-1,上海市应急管理局,2024-01-01,2027-01-01\n" +
		unknown + ",安全生产许可证,B-2,上海市应急管理局,2024-01-01,2027-01-01\n" +
		f.eB + ",安全生产许可证,B-3,上海市应急管理局,2024-01-01,2027-01-01\n" +
		uscc(t, 998) + ",其他,B-4,上海市应急管理局,2024-01-01,2027-01-01\n"
	_, err = f.svc.LoadLicencesCSV(ctx, strings.NewReader(file), "adm")
	if !errors.As(err, &le) || len(le.Rejections) != 2 || le.Rejections[0] != (dossier.RowError{Row: 3, Field: "uscc", Reason: "no enterprise " + unknown}) ||
		le.Rejections[1].Row != 5 {
		t.Errorf("unknown enterprises: %v", err)
	}
	if n, a := licenceCount(t, f.st); n != 0 || a != 0 {
		t.Errorf("a refused file wrote %d licences, %d audit entries", n, a)
	}
	for _, head := range []string{"", "uscc,type,number\n", "uscc,kind,number,authority,issued_on,valid_until\n"} {
		_, err := f.svc.LoadLicencesCSV(ctx, strings.NewReader(head), "adm")
		if !errors.As(err, &le) || le.Rejections[0].Row != 1 || le.Rejections[0].Field != "header" {
			t.Errorf("header %q: %v", head, err)
		}
	}
}

func TestLicenceLoadIsIdempotent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := testdb.DB(f.st)
	file := "\ufeffuscc,type,number,authority,issued_on,valid_until\n" +
		f.e + ",安全生产许可证,(沪)WH安许证字[2024]0001,上海市应急管理局,2024-01-01,2027-01-01\n" +
		f.e + ",危险化学品经营许可证, 沪徐危化经字[2023]000123 ,徐汇区应急管理局,2023-03-01,2026-02-28\n" +
		f.eB + ",安全生产许可证,(沪)WH安许证字[2024]0001,上海市应急管理局,2024-01-01,2027-01-01\n"
	res, err := f.svc.LoadLicencesCSV(ctx, strings.NewReader(file), "adm")
	if err != nil {
		t.Fatal(err)
	}
	if *res != (dossier.LoadResult{Rows: 3, Inserted: 3}) {
		t.Errorf("first load %+v", res)
	}
	snapshot := func() string {
		var s string
		if err := db.QueryRow(ctx, `SELECT string_agg(concat_ws('|', district_code, id, uscc, type, number, authority, issued_on, valid_until, updated_at), ';' ORDER BY id)
  FROM enterprise_licences`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := snapshot()
	if !strings.Contains(before, "|沪徐危化经字[2023]000123|") {
		t.Errorf("number not trimmed: %s", before)
	}
	res, err = f.svc.LoadLicencesCSV(ctx, strings.NewReader(file), "adm")
	if err != nil {
		t.Fatal(err)
	}
	if *res != (dossier.LoadResult{Rows: 3, Unchanged: 3}) {
		t.Errorf("second load %+v", res)
	}
	if after := snapshot(); after != before {
		t.Errorf("re-loading changed the table:\n%s\n%s", before, after)
	}
	// A renewed licence (same number, new dates) is updated in place.
	renewed := strings.Replace(file, "2023-03-01,2026-02-28", "2026-03-01,2029-02-28", 1)
	res, err = f.svc.LoadLicencesCSV(ctx, strings.NewReader(renewed), "adm")
	if err != nil {
		t.Fatal(err)
	}
	if *res != (dossier.LoadResult{Rows: 3, Updated: 1, Unchanged: 2}) {
		t.Errorf("renewal %+v", res)
	}
	var until time.Time
	var n int
	if err := db.QueryRow(ctx, `SELECT valid_until, count(*) OVER () FROM enterprise_licences WHERE type = '危险化学品经营许可证'`).Scan(&until, &n); err != nil {
		t.Fatal(err)
	}
	if until.Format(time.DateOnly) != "2029-02-28" || n != 1 {
		t.Errorf("renewed valid_until %v (%d rows)", until, n)
	}
	var district string
	if err := db.QueryRow(ctx, `SELECT l.district_code FROM enterprise_licences l JOIN enterprises e ON e.uscc = l.uscc AND e.district_code = l.district_code WHERE l.uscc = $1`, f.eB).Scan(&district); err != nil {
		t.Errorf("eB's licence is not in eB's district: %v", err)
	}
	if _, a := licenceCount(t, f.st); a != 3 {
		t.Errorf("%d audit entries for 3 loads", a)
	}
}

// seedLicences puts licences of e valid until today-1, today, today+30 and today+31
// (Shanghai), and one of eB, straight into the table.
func seedLicences(t *testing.T, f *fixture) (today time.Time) {
	t.Helper()
	now := time.Now().In(grid.ShanghaiZone())
	today = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString("uscc,type,number,authority,issued_on,valid_until\n")
	for i, days := range []int{-1, 0, dossier.ExpiringDays, dossier.ExpiringDays + 1} {
		fmt.Fprintf(&b, "%s,%s,N-%d,上海市应急管理局,%s,%s\n", f.e, dossier.LicenceTypes[i], i,
			today.AddDate(-3, 0, 0).Format(time.DateOnly), today.AddDate(0, 0, days).Format(time.DateOnly))
	}
	fmt.Fprintf(&b, "%s,其他,=cmd|' /C calc'!A0,上海市应急管理局,2020-01-01,2020-12-31\n", f.e)
	fmt.Fprintf(&b, "%s,安全生产许可证,EB-1,上海市应急管理局,2024-01-01,2030-01-01\n", f.eB)
	if _, err := f.svc.LoadLicencesCSV(context.Background(), strings.NewReader(b.String()), "adm"); err != nil {
		t.Fatal(err)
	}
	return today
}

func TestDossierLicences(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	today := seedLicences(t, f)
	d, err := f.svc.Dossier(ctx, f.off1, dossier.Key{USCC: f.e}, dossier.DefaultRadiusM)
	if err != nil {
		t.Fatal(err)
	}
	if d.Today != today.Format(time.DateOnly) {
		t.Errorf("today %s, want %s", d.Today, today.Format(time.DateOnly))
	}
	// The table's rows of e, in the dossier's order.
	rows, err := testdb.DB(f.st).Query(ctx, `SELECT type, number, authority, to_char(issued_on, 'YYYY-MM-DD'), to_char(valid_until, 'YYYY-MM-DD'),
	valid_until - (now() AT TIME ZONE 'Asia/Shanghai')::date
  FROM enterprise_licences WHERE uscc = $1 ORDER BY array_position($2::text[], type), valid_until, number`, f.e, dossier.LicenceTypes)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var typ, num, auth, from, until string
		var days int
		if err := rows.Scan(&typ, &num, &auth, &from, &until, &days); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%s %s %s %s %s %d", typ, num, auth, from, until, days))
	}
	var got, status []string
	for _, l := range d.Licences {
		got = append(got, fmt.Sprintf("%s %s %s %s %s %d", l.Type, l.Number, l.Authority, l.IssuedOn, l.ValidUntil, l.DaysLeft))
		status = append(status, l.Status)
	}
	if !slices.Equal(got, want) || len(got) != 5 {
		t.Errorf("licences\n%v\nthe table's\n%v", got, want)
	}
	// By type: 安全生产许可证 (today-1), 危险化学品经营许可证 (today), 危险化学品安全使用许可证
	// (today+30), 危险化学品登记证 (today+31), 其他 (2020).
	wantStatus := []string{dossier.LicenceExpired, dossier.LicenceExpiring, dossier.LicenceExpiring, dossier.LicenceValid, dossier.LicenceExpired}
	if !slices.Equal(status, wantStatus) {
		t.Errorf("status %v, want %v", status, wantStatus)
	}
	// eB's licence is eB's alone, and eB's dossier is not off1's.
	dB, err := f.svc.Dossier(ctx, admin, dossier.Key{USCC: f.eB}, dossier.DefaultRadiusM)
	if err != nil {
		t.Fatal(err)
	}
	if len(dB.Licences) != 1 || dB.Licences[0].Number != "EB-1" || dB.Licences[0].Status != dossier.LicenceValid {
		t.Errorf("eB's licences %+v", dB.Licences)
	}
	var nf *grid.NotFoundError
	if _, err := f.svc.Dossier(ctx, f.off1, dossier.Key{USCC: f.eB}, dossier.DefaultRadiusM); !errors.As(err, &nf) {
		t.Errorf("off1 read eB's dossier: %v", err)
	}
}

func TestLicenceStatus(t *testing.T) {
	day := func(s string) time.Time {
		t, _ := time.Parse(time.DateOnly, s)
		return t
	}
	for _, c := range []struct {
		until, today, status string
		days                 int
	}{
		{"2026-12-02", "2026-12-03", dossier.LicenceExpired, -1},
		{"2026-12-03", "2026-12-03", dossier.LicenceExpiring, 0},
		{"2027-01-02", "2026-12-03", dossier.LicenceExpiring, 30},
		{"2027-01-03", "2026-12-03", dossier.LicenceValid, 31},
		{"2027-03-29", "2027-02-27", dossier.LicenceExpiring, 30}, // across February
	} {
		if s, d := dossier.LicenceStatus(day(c.until), day(c.today)); s != c.status || d != c.days {
			t.Errorf("%s on %s: %s %d, want %s %d", c.until, c.today, s, d, c.status, c.days)
		}
	}
}

func TestDossierLicencesXLSX(t *testing.T) {
	f := newFixture(t)
	seedLicences(t, f)
	d, err := f.svc.Dossier(context.Background(), admin, dossier.Key{ID: f.eID}, dossier.DefaultRadiusM)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dossier.WriteXLSX(&buf, d); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.GetRows(dossier.SheetLicences)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(d.Licences)+1 || len(d.Licences) != 5 {
		t.Fatalf("%d sheet rows for %d licences", len(rows), len(d.Licences))
	}
	text := map[string]string{dossier.LicenceValid: "有效", dossier.LicenceExpiring: "即将到期", dossier.LicenceExpired: "已过期"}
	for i, l := range d.Licences {
		want := []string{l.Type, grid.CSVSafe(l.Number), l.Authority, l.IssuedOn, l.ValidUntil, text[l.Status], fmt.Sprint(l.DaysLeft)}
		if !slices.Equal(rows[i+1], want) {
			t.Errorf("row %d: %q, JSON %q", i+1, rows[i+1], want)
		}
	}
	if !slices.ContainsFunc(rows, func(r []string) bool { return r[1] == `'=cmd|' /C calc'!A0` }) {
		t.Errorf("the formula-like number was not neutralised: %q", rows)
	}
}
