package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"safegrid/geo"
	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

// `safegrid licences load`: a good file loads and loading it again changes nothing; a bad
// one lists its rows and fields and writes nothing.
func TestLicencesLoadCommand(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	url := testdb.URL(t, st)
	body := "913101010000000001"[:17]
	c, err := geo.USCCCheckChar(body)
	if err != nil {
		t.Fatal(err)
	}
	uscc := body + string(c)
	feat := testdb.Feat(testdb.WestSouth, map[string]any{"uscc": uscc, "name": "测试企业", "industry": "危化品经营", "risk_level": "一般"})
	if _, err := ingest.New(st).Import(context.Background(), testdb.FC(t, feat), ingest.ImportOptions{Kind: "enterprises", Format: "geojson", Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "uscc,type,number,authority,issued_on,valid_until\n"
	bad := write("bad.csv", head+uscc+",危险化学品经营许可证,沪徐危化经字[2024]000001,徐汇区应急管理局,2024-01-01,2027-01-01\n"+
		uscc+",经营许可,X,徐汇区应急管理局,2024-01-01,2027-01-01\n"+
		uscc+",其他,Y,徐汇区应急管理局,2024-13-01,2027-01-01\n")
	out, err := run(t, url, "licences", "load", bad)
	if err == nil || !strings.Contains(err.Error(), "row 3, type") || !strings.Contains(err.Error(), "row 4, issued_on") {
		t.Errorf("bad file: %v\n%s", err, out)
	}
	if n := countRows(t, st, "enterprise_licences"); n != 0 {
		t.Errorf("a refused file wrote %d licences", n)
	}
	good := write("good.csv", head+uscc+",危险化学品经营许可证,沪徐危化经字[2024]000001,徐汇区应急管理局,2024-01-01,2027-01-01\n")
	for _, want := range []string{"1 inserted, 0 updated, 0 unchanged", "0 inserted, 0 updated, 1 unchanged"} {
		out, err := run(t, url, "licences", "load", good)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("load: %v %q, want %q", err, out, want)
		}
	}
	if n := countRows(t, st, "enterprise_licences"); n != 1 {
		t.Errorf("%d licences", n)
	}
	if _, err := run(t, url, "licences", "load", filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("a missing file loaded")
	}
}
