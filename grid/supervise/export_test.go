package supervise

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

func exportFixture() []HazardItem {
	s := func(v string) *string { return &v }
	return []HazardItem{
		{ID: 7, Code: "HZ0000000007", Level: "重大", Category: "消防安全", Description: "通道堵塞, \"严重\"\n两处", Status: "assigned",
			Deadline: s("2026-12-01"), Overdue: true, CommunityCode: s("310101001001"), CommunityName: s("甲一居委"),
			Feature:  &FeatureRef{Kind: "enterprises", Code: "91310100000000001X", Name: s("测试企业")},
			Location: LonLatPoint{Lon: 121.4737, Lat: 31.2304}, ReportedAt: time.Date(2026, 10, 1, 1, 2, 3, 0, time.UTC)},
		{ID: 8, Code: "HZ8", Level: "一般", Category: "用电", Description: "d", Status: "closed",
			Location: LonLatPoint{Lon: 121.5, Lat: 31.25}, ReportedAt: time.Date(2026, 10, 2, 16, 0, 0, 0, time.UTC)},
	}
}

var exportWant = [][]string{
	{"序号", "隐患编号", "隐患等级", "隐患类别", "隐患描述", "状态", "整改期限", "是否逾期", "社区编码", "社区名称", "关联对象类型", "关联对象编码", "关联对象名称", "经度", "纬度", "上报时间"},
	{"7", "HZ0000000007", "重大", "消防安全", "通道堵塞, \"严重\"\n两处", "派遣", "2026-12-01", "是", "310101001001", "甲一居委", "生产经营单位", "91310100000000001X", "测试企业", "121.4737", "31.2304", "2026-10-01 09:02:03"},
	{"8", "HZ8", "一般", "用电", "d", "销号", "", "否", "", "", "", "", "", "121.5", "31.25", "2026-10-03 00:00:00"},
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
	for _, cell := range []string{"A2", "N2", "O2"} {
		if typ, _ := f.GetCellType("隐患清单", cell); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
			t.Errorf("%s has type %v", cell, typ)
		}
	}
}
