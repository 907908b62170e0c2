package dossier

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
)

// The workbook's sheets, in order: one per section of the dossier. Every sheet but 企业概况
// has a header row and one row per item of the JSON's list of the same section.
const (
	SheetOverview    = "企业概况"
	SheetInspections = "检查记录"
	SheetHazards     = "隐患"
	SheetSteps       = "隐患处理记录"
	SheetRiskLevels  = "风险等级变更"
	SheetStations    = "消防站"
	SheetPipelines   = "周边管线"
	SheetGasSites    = "燃气占压"
	SheetPhotos      = "照片"
	SheetLicences    = "证照"
)

// licenceStatusText is a licence's status as the workbook writes it.
var licenceStatusText = map[string]string{LicenceValid: "有效", LicenceExpiring: "即将到期", LicenceExpired: "已过期"}

// xlsxTime is how the workbook writes an instant: Shanghai wall time to the second.
func xlsxTime(t time.Time) string { return t.In(grid.ShanghaiZone()).Format("2006-01-02 15:04:05") }

func xlsxTimePtr(t *grid.Time) string {
	if t == nil {
		return ""
	}
	return xlsxTime(t.Time)
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func officerText(o *OfficerRef) string {
	if o == nil {
		return ""
	}
	if o.DisplayName != nil {
		return *o.DisplayName + " (" + o.Username + ")"
	}
	return o.Username
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

// WriteXLSX writes d as an Excel workbook with one sheet per section. Text cells pass
// through grid.CSVSafe and are written as strings (never formulas); numbers stay numbers;
// instants are Shanghai time (YYYY-MM-DD HH:MM:SS).
func WriteXLSX(w io.Writer, d *Dossier) error {
	f := excelize.NewFile()
	defer f.Close()
	e, loc := d.Enterprise, d.Location
	unit, officer := "", ""
	if loc.Unit != nil {
		unit = loc.Unit.Name + " (" + loc.Unit.Code + ")"
		officer = officerText(loc.Unit.Officer)
	}
	employees := any("")
	if e.Employees != nil {
		employees = *e.Employees
	}
	sheets := []struct {
		name   string
		header []string
		rows   [][]any
	}{
		{SheetOverview, []string{"项目", "内容"}, [][]any{
			{"企业名称", e.Name}, {"统一社会信用代码", e.USCC}, {"编号", e.ID}, {"行业", e.Industry},
			{"风险等级", e.RiskLevel}, {"重大危险源", yesNo(e.MajorHazard)}, {"从业人员", employees},
			{"地址", str(e.Address)}, {"区", str(e.DistrictName) + " " + e.DistrictCode},
			{"街道", strings.TrimSpace(str(e.StreetName) + " " + str(e.StreetCode))},
			{"居委/村", strings.TrimSpace(str(e.CommunityName) + " " + str(e.CommunityCode))},
			{"经度", loc.Lon}, {"纬度", loc.Lat}, {"H3 网格单元", loc.Cell}, {"网格", unit}, {"网格员", officer},
			{"更新时间", xlsxTime(e.UpdatedAt.Time)},
			{"周边范围（米）", d.RadiusM},
			{"出警模型", fmt.Sprintf("直线距离 × %g ÷ %g km/h，%g 分钟可达（%.1f 米）", d.Travel.Detour, d.Travel.SpeedKmh, d.Travel.Minutes, d.Travel.ReachM)},
			{"生成时间", xlsxTime(d.GeneratedAt.Time)},
		}},
		{SheetInspections, []string{"编号", "检查时间", "结果", "发现隐患数", "检查人", "备注", "签到", "签到距离（米）", "定位精度（米）"}, nil},
		{SheetHazards, []string{"编号", "隐患编号", "等级", "类别", "描述", "状态", "责任人", "整改期限", "逾期", "上报时间", "销号时间", "关联方式", "距离（米）"}, nil},
		{SheetSteps, []string{"隐患编号", "时间", "操作人", "原状态", "新状态", "说明"}, nil},
		{SheetRiskLevels, []string{"时间", "原等级", "新等级", "操作人"}, nil},
		{SheetStations, []string{"编号", "名称", "类型", "距离（米）", "出警时间（分钟）", "5 分钟可达"}, nil},
		{SheetPipelines, []string{"编号", "名称", "介质", "类别", "压力", "管径（毫米）", "运营单位", "距离（米）"}, nil},
		{SheetGasSites, []string{"编号", "占压单位", "整治状态", "管线编号", "整治期限", "距离（米）"}, nil},
		{SheetPhotos, []string{"照片编号", "所属", "隐患编号/检查编号", "步骤", "上传人", "拍摄时间", "距离（米）", "距离过远", "缩略图"}, nil},
		{SheetLicences, []string{"证照类型", "证书编号", "发证机关", "发证日期", "有效期至", "状态", "剩余天数"}, nil},
	}
	photo := func(ph grid.Photo, owner, key, step string) []any {
		dist := any("")
		if ph.DistanceM != nil {
			dist = math.Round(*ph.DistanceM*10) / 10
		}
		return []any{ph.ID, owner, key, step, ph.Uploader, xlsxTimePtr(ph.TakenAt), dist, yesNo(ph.Far), ph.ThumbURL}
	}
	for _, in := range d.Inspections {
		c := in.Checkin
		dist, acc := any(""), any("")
		if c.DistanceM != nil {
			dist = math.Round(*c.DistanceM*10) / 10
		}
		if c.AccuracyM != nil {
			acc = math.Round(*c.AccuracyM*10) / 10
		}
		sheets[1].rows = append(sheets[1].rows, []any{in.ID, xlsxTime(in.InspectedAt.Time), in.Result, in.HazardsFound, officerText(in.Officer), str(in.Notes),
			c.Status, dist, acc})
		for _, ph := range in.Photos {
			sheets[8].rows = append(sheets[8].rows, photo(ph, "检查", fmt.Sprint(in.ID), ""))
		}
	}
	for _, h := range d.Hazards {
		link := "关联企业"
		if h.Link == "location" {
			link = "位于企业"
		}
		sheets[2].rows = append(sheets[2].rows, []any{h.ID, h.Code, h.Level, h.Category, h.Description, h.Status,
			str(h.Responsible), str(h.Deadline), yesNo(h.Overdue), xlsxTime(h.ReportedAt.Time), xlsxTimePtr(h.ClosedAt), link, h.DistanceM})
		for _, st := range h.Steps {
			actor := st.Actor
			if st.ActorName != nil {
				actor = *st.ActorName + " (" + st.Actor + ")"
			}
			sheets[3].rows = append(sheets[3].rows, []any{h.Code, xlsxTime(st.At.Time), actor, str(st.FromStatus), st.ToStatus, str(st.Note)})
			for _, ph := range st.Photos {
				sheets[8].rows = append(sheets[8].rows, photo(ph, "隐患", h.Code, st.ToStatus))
			}
		}
	}
	for _, r := range d.RiskLevels {
		sheets[4].rows = append(sheets[4].rows, []any{xlsxTime(r.At.Time), str(r.From), r.To, r.Actor})
	}
	for _, l := range d.Licences {
		sheets[9].rows = append(sheets[9].rows, []any{l.Type, l.Number, l.Authority, l.IssuedOn, l.ValidUntil, licenceStatusText[l.Status], l.DaysLeft})
	}
	for _, st := range d.FireStations {
		sheets[5].rows = append(sheets[5].rows, []any{st.Code, st.Name, st.Type, st.DistanceM, st.Minutes, yesNo(st.InReach)})
	}
	for _, p := range d.Pipelines {
		dia := any("")
		if p.DiameterMM != nil {
			dia = *p.DiameterMM
		}
		sheets[6].rows = append(sheets[6].rows, []any{p.Code, str(p.Name), p.Medium, p.Class, p.Pressure, dia, str(p.Operator), p.DistanceM})
	}
	for _, g := range d.GasSites {
		sheets[7].rows = append(sheets[7].rows, []any{g.Code, g.Occupant, g.Status, str(g.PipelineCode), str(g.Deadline), g.DistanceM})
	}
	for i, sh := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", sh.name); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(sh.name); err != nil {
			return err
		}
		sw, err := f.NewStreamWriter(sh.name)
		if err != nil {
			return err
		}
		row := make([]any, len(sh.header))
		for j, h := range sh.header {
			row[j] = h
		}
		if err := sw.SetRow("A1", row); err != nil {
			return err
		}
		for r, vals := range sh.rows {
			out := make([]any, len(vals))
			for j, v := range vals {
				if s, ok := v.(string); ok {
					v = excelize.Cell{Value: grid.CSVSafe(cut(s))}
				}
				out[j] = v
			}
			cell, err := excelize.CoordinatesToCellName(1, r+2)
			if err != nil {
				return err
			}
			if err := sw.SetRow(cell, out); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return err
		}
	}
	return f.Write(w)
}

// cut keeps a text within what an Excel cell holds; input limits keep every field far
// below it, so this only guards.
func cut(s string) string {
	if len(s) <= excelize.TotalCellChars {
		return s
	}
	r := []rune(s)
	if len(r) > excelize.TotalCellChars/2 {
		r = r[:excelize.TotalCellChars/2]
	}
	return string(r) + "…"
}
