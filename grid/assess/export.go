package assess

import (
	"encoding/csv"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
)

// SheetNames are the workbook's sheets, one per level, in Levels' order.
var sheetNames = map[string]string{LevelOfficer: "网格员", LevelUnit: "网格", LevelStreet: "街道", LevelDistrict: "区"}

// SheetName is the Chinese name of level's sheet.
func SheetName(level string) string { return sheetNames[level] }

// column is one column of an export: its header and its value in a row (string, int or
// *float64; nil rates are empty cells).
type column struct {
	Header string
	Value  func(*Row) any
}

func text(s *string) any {
	if s == nil {
		return ""
	}
	return *s
}

// keyColumns are each level's leading columns.
var keyColumns = map[string][]column{
	LevelOfficer: {
		{"网格员账号", func(r *Row) any { return r.Code }},
		{"网格员姓名", func(r *Row) any { return r.Name }},
		{"网格数", func(r *Row) any { return r.Units }},
	},
	LevelUnit: {
		{"网格编码", func(r *Row) any { return r.Code }},
		{"网格名称", func(r *Row) any { return r.Name }},
		{"街道代码", func(r *Row) any { return text(r.StreetCode) }},
		{"网格员账号", func(r *Row) any { return text(r.Officer) }},
	},
	LevelStreet: {
		{"街道代码", func(r *Row) any { return r.Code }},
		{"街道名称", func(r *Row) any { return r.Name }},
		{"区代码", func(r *Row) any { return text(r.DistrictCode) }},
		{"网格数", func(r *Row) any { return r.Units }},
	},
	LevelDistrict: {
		{"区代码", func(r *Row) any { return r.Code }},
		{"区名称", func(r *Row) any { return r.Name }},
		{"网格数", func(r *Row) any { return r.Units }},
	},
}

// figureColumns follow the key columns at every level, in Figures' order.
var figureColumns = []column{
	{"企业数", func(r *Row) any { return r.Enterprises }},
	{"应检企业", func(r *Row) any { return r.Due }},
	{"按期检查", func(r *Row) any { return r.Done }},
	{"按期检查率", func(r *Row) any { return r.DoneRate }},
	{"检查次数", func(r *Row) any { return r.Inspections }},
	{"定位签到", func(r *Row) any { return r.Located }},
	{"定位签到率", func(r *Row) any { return r.LocatedRate }},
	{"发现隐患", func(r *Row) any { return r.HazardsFound }},
	{"整改验收", func(r *Row) any { return r.Rectified }},
	{"按期整改", func(r *Row) any { return r.OnTime }},
	{"按期整改率", func(r *Row) any { return r.OnTimeRate }},
	{"当前逾期", func(r *Row) any { return r.OverdueNow }},
}

// Columns returns the headers of level's export, in order.
func Columns(level string) []string {
	var out []string
	for _, c := range columns(level) {
		out = append(out, c.Header)
	}
	return out
}

func columns(level string) []column {
	return append(append([]column{}, keyColumns[level]...), figureColumns...)
}

// TotalLabel is the first cell of an export's total row.
const TotalLabel = "合计"

// Title is the line above an export's header: the month and the scope.
func (r *Report) Title() string {
	scope := "全市"
	switch {
	case r.Street != "":
		scope = fmt.Sprintf("街道 %s %s", r.Street, r.ScopeName)
	case r.District != "":
		scope = fmt.Sprintf("区 %s %s", r.District, r.ScopeName)
	}
	return fmt.Sprintf("网格化监管考核 %s年%s月（%s）· 范围：%s · 当前逾期按 %s 计", r.Month[:4], r.Month[5:], r.Month, scope, r.Today)
}

// FileName is the exports' file name without its extension: assessment-YYYY-MM[-area].
func (r *Report) FileName() string {
	name := "assessment-" + r.Month
	switch {
	case r.Street != "":
		name += "-" + r.Street
	case r.District != "":
		name += "-" + r.District
	}
	return name
}

// cells is one row of level as export cells; the total row's first cell says 合计.
func cells(level string, r *Row, total bool) []any {
	cols := columns(level)
	out := make([]any, len(cols))
	for i, c := range cols {
		v := c.Value(r)
		switch v := v.(type) {
		case string:
			out[i] = grid.CSVSafe(v)
		case *float64:
			if v == nil {
				out[i] = nil
			} else {
				out[i] = *v
			}
		default:
			out[i] = v
		}
	}
	if total {
		for i := range len(keyColumns[level]) {
			if _, ok := out[i].(string); ok {
				out[i] = nil
			}
		}
		out[0] = TotalLabel
	}
	return out
}

// WriteXLSX writes the report as a workbook: one sheet per level (网格员, 网格, 街道, 区),
// each a title row naming the month and scope, the header, the rows and the total. Text
// cells pass through grid.CSVSafe; counts and rates are numbers (rates as fractions with a
// percent format), an empty rate an empty cell.
func WriteXLSX(w io.Writer, rep *Report) error {
	f := excelize.NewFile()
	defer f.Close()
	pct, err := f.NewStyle(&excelize.Style{NumFmt: 10}) // 0.00%
	if err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	for i, level := range Levels() {
		sheet := sheetNames[level]
		if i == 0 {
			if err := f.SetSheetName("Sheet1", sheet); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(sheet); err != nil {
			return err
		}
		sw, err := f.NewStreamWriter(sheet)
		if err != nil {
			return err
		}
		if err := sw.SetRow("A1", []any{excelize.Cell{Value: grid.CSVSafe(rep.Title()), StyleID: bold}}); err != nil {
			return err
		}
		cols := columns(level)
		head := make([]any, len(cols))
		for j, c := range cols {
			head[j] = excelize.Cell{Value: c.Header, StyleID: bold}
		}
		if err := sw.SetRow("A2", head); err != nil {
			return err
		}
		rows := rep.Rows(level)
		put := func(n int, r *Row, total bool) error {
			vals := cells(level, r, total)
			out := make([]any, len(vals))
			for j, v := range vals {
				cell := excelize.Cell{Value: v}
				if _, ok := cols[j].Value(r).(*float64); ok {
					cell.StyleID = pct
				}
				out[j] = cell
			}
			addr, _ := excelize.CoordinatesToCellName(1, n)
			return sw.SetRow(addr, out)
		}
		for j := range rows {
			if err := put(j+3, &rows[j], false); err != nil {
				return err
			}
		}
		if err := put(len(rows)+3, &rep.Total, true); err != nil {
			return err
		}
		if err := sw.Flush(); err != nil {
			return err
		}
	}
	return f.Write(w)
}

// WriteCSV writes level's rows and the total as CSV in UTF-8 with a byte-order mark: the
// header, the rows, the total (合计). Text cells pass through grid.CSVSafe; an empty rate
// is an empty cell.
func WriteCSV(w io.Writer, rep *Report, level string) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns(level)); err != nil {
		return err
	}
	line := func(r *Row, total bool) error {
		vals := cells(level, r, total)
		out := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
			case string:
				out[i] = v
			default:
				out[i] = fmt.Sprint(v)
			}
		}
		return cw.Write(out)
	}
	rows := rep.Rows(level)
	for i := range rows {
		if err := line(&rows[i], false); err != nil {
			return err
		}
	}
	if err := line(&rep.Total, true); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
