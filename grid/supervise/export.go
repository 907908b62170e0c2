package supervise

import (
	"encoding/csv"
	"io"
	"maps"
	"strconv"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
)

// exportStatusNames are the lifecycle's Chinese terms, for exports people read in Excel.
var exportStatusNames = map[string]string{
	"reported": "上报", "registered": "立案", "assigned": "派遣",
	"rectifying": "整改", "verified": "验收", "closed": "销号",
}

// exportKindNames are the Chinese names of the feature kinds.
var exportKindNames = map[string]string{
	"enterprises": "生产经营单位", "pipelines": "油气管道", "gas_occupancy_sites": "燃气管道占压",
	"fire_stations": "消防站", "fishing_ports": "渔港", "underground_spaces": "地下空间",
}

// hazardColumns are the columns of a hazard list export, in order: the JSON item's fields,
// with Chinese headers and Chinese terms for status, overdue and feature kind.
var hazardColumns = []struct {
	Header string
	Value  func(*HazardItem) any // string, int64 or float64
}{
	{"序号", func(h *HazardItem) any { return h.ID }},
	{"隐患编号", func(h *HazardItem) any { return h.Code }},
	{"隐患等级", func(h *HazardItem) any { return h.Level }},
	{"隐患类别", func(h *HazardItem) any { return h.Category }},
	{"隐患描述", func(h *HazardItem) any { return h.Description }},
	{"状态", func(h *HazardItem) any { return exportStatusNames[h.Status] }},
	{"整改期限", func(h *HazardItem) any { return exportText(h.Deadline) }},
	{"是否逾期", func(h *HazardItem) any {
		if h.Overdue {
			return "是"
		}
		return "否"
	}},
	{"街道编码", func(h *HazardItem) any { return exportText(h.StreetCode) }},
	{"街道名称", func(h *HazardItem) any { return exportText(h.StreetName) }},
	{"社区编码", func(h *HazardItem) any { return exportText(h.CommunityCode) }},
	{"社区名称", func(h *HazardItem) any { return exportText(h.CommunityName) }},
	{"关联对象类型", func(h *HazardItem) any {
		if h.Feature == nil {
			return ""
		}
		return exportKindNames[h.Feature.Kind]
	}},
	{"关联对象编码", func(h *HazardItem) any {
		if h.Feature == nil {
			return ""
		}
		return h.Feature.Code
	}},
	{"关联对象名称", func(h *HazardItem) any {
		if h.Feature == nil {
			return ""
		}
		return exportText(h.Feature.Name)
	}},
	{"经度", func(h *HazardItem) any { return h.Location.Lon }},
	{"纬度", func(h *HazardItem) any { return h.Location.Lat }},
	{"上报时间 (UTC)", func(h *HazardItem) any { return h.ReportedAt.String() }},
}

func exportText(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// exportCell is v as a CSV cell. Text passes through grid.CSVSafe, so a description such
// as =HYPERLINK(...) is shown, not run, by a spreadsheet; numbers are written as they are.
func exportCell(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return grid.CSVSafe(v.(string))
	}
}

// WriteHazardsCSV writes items as CSV in UTF-8 with a byte-order mark, so that Excel
// opens the Chinese correctly.
func WriteHazardsCSV(w io.Writer, items []HazardItem) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	row := make([]string, len(hazardColumns))
	for i, c := range hazardColumns {
		row[i] = c.Header
	}
	if err := cw.Write(row); err != nil {
		return err
	}
	for i := range items {
		for j, c := range hazardColumns {
			row[j] = exportCell(c.Value(&items[i]))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// xlsxCellChars is the most an Excel cell holds, in UTF-16 code units (excelize cuts a
// longer string there without a word).
const xlsxCellChars = excelize.TotalCellChars

// xlsxCutMark ends a cell that had to be cut; the 说明 sheet lists every such cell.
const xlsxCutMark = "…[已截断，全文见 CSV 导出]"

// xlsxText is s as it fits in a cell, and whether it had to be cut. Input limits keep
// every text field far below the cell's size, so this is a guard: an export never drops
// text without saying so.
func xlsxText(s string) (string, bool) {
	if utf16Len(s) <= xlsxCellChars {
		return s, false
	}
	room := xlsxCellChars - utf16Len(xlsxCutMark)
	n, out := 0, []rune{}
	for _, r := range s {
		w := utf16Len(string(r))
		if n+w > room {
			break
		}
		n += w
		out = append(out, r)
	}
	return string(out) + xlsxCutMark, true
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// WriteHazardsXLSX writes items as an Excel workbook with one sheet, 隐患清单; ids and
// coordinates are numbers, the rest text (typed strings: a description starting with =
// is text, never a formula). A text longer than a cell holds is cut with xlsxCutMark and
// listed, with its full length, on a second sheet, 说明.
func WriteHazardsXLSX(w io.Writer, items []HazardItem) error {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "隐患清单"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	row := make([]any, len(hazardColumns))
	for i, c := range hazardColumns {
		row[i] = c.Header
	}
	if err := sw.SetRow("A1", row); err != nil {
		return err
	}
	var cuts [][]any
	for i := range items {
		for j, c := range hazardColumns {
			v := c.Value(&items[i])
			if s, ok := v.(string); ok {
				if short, cut := xlsxText(s); cut {
					name, _ := excelize.CoordinatesToCellName(j+1, i+2)
					cuts = append(cuts, []any{name, items[i].Code, c.Header, int64(utf16Len(s))})
					v = short
				}
			}
			row[j] = v
		}
		cell, err := excelize.CoordinatesToCellName(1, i+2)
		if err != nil {
			return err
		}
		if err := sw.SetRow(cell, row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	if len(cuts) > 0 {
		if err := writeCutSheet(f, cuts); err != nil {
			return err
		}
	}
	return f.Write(w)
}

// writeCutSheet lists the cells WriteHazardsXLSX had to cut.
func writeCutSheet(f *excelize.File, cuts [][]any) error {
	const sheet = "说明"
	if _, err := f.NewSheet(sheet); err != nil {
		return err
	}
	rows := append([][]any{{"单元格", "隐患编号", "列", "原长度（字符）"}}, cuts...)
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &r); err != nil {
			return err
		}
	}
	return nil
}

// ExportStatusNames are the lifecycle's Chinese terms, for exports people read in Excel.
// Callers get a copy: the table itself is fixed.
func ExportStatusNames() map[string]string { return maps.Clone(exportStatusNames) }
