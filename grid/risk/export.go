package risk

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"safegrid/grid"
)

// The exports of the map: the areas as GeoJSON (their polygons from areas), and the XLSX
// report 风险四色图报表 of the districts and streets ranked by score.

// GeoJSON writes list as a FeatureCollection: one feature per area, its polygon from
// areas (EPSG:4326, 6 decimals), its id the code and its properties the area's JSON row
// (top contributors as an array); snapshot, previous and level are foreign members.
func (s *Service) GeoJSON(ctx context.Context, w io.Writer, list *AreaList) error {
	codes := make([]string, len(list.Areas))
	for i, a := range list.Areas {
		codes[i] = a.Code
	}
	geoms := map[string]json.RawMessage{}
	rows, err := s.db.Query(ctx, `SELECT code, ST_AsGeoJSON(geom, 6) FROM areas WHERE code = ANY($1)`, codes)
	if err != nil {
		return err
	}
	var (
		code string
		g    []byte
	)
	if _, err := pgx.ForEachRow(rows, []any{&code, &g}, func() error {
		geoms[code] = append(json.RawMessage(nil), g...)
		return nil
	}); err != nil {
		return err
	}
	type feature struct {
		Type       string          `json:"type"`
		ID         string          `json:"id"`
		Geometry   json.RawMessage `json:"geometry"`
		Properties AreaRow         `json:"properties"`
	}
	fc := struct {
		Type     string       `json:"type"`
		Snapshot SnapshotRef  `json:"snapshot"`
		Previous *SnapshotRef `json:"previous"`
		Level    string       `json:"level"`
		Features []feature    `json:"features"`
	}{Type: "FeatureCollection", Snapshot: list.Snapshot, Previous: list.Previous, Level: list.Level, Features: []feature{}}
	for _, a := range list.Areas {
		geom, ok := geoms[a.Code]
		if !ok {
			geom = json.RawMessage("null") // an area code the boundaries no longer hold
		}
		fc.Features = append(fc.Features, feature{Type: "Feature", ID: a.Code, Geometry: geom, Properties: a})
	}
	return json.NewEncoder(w).Encode(fc)
}

// Report is the XLSX report: the districts and the streets of one snapshot in the
// caller's view, each ranked by score.
type Report struct {
	Snapshot  SnapshotRef
	Previous  *SnapshotRef
	ConfigID  *int64 // nil: the built-in defaults
	Districts []AreaRow
	Streets   []AreaRow
}

// Report reads the districts and streets of q's snapshot with q's filters (q.Level is not
// used): the same rows as Areas at each level.
func (s *Service) Report(ctx context.Context, p *grid.Principal, q AreaQuery) (*Report, error) {
	rep := &Report{}
	for _, level := range []string{LevelDistrict, LevelStreet} {
		lq := q
		lq.Level = level
		list, err := s.Areas(ctx, p, lq)
		if err != nil {
			return nil, err
		}
		rep.Snapshot, rep.Previous = list.Snapshot, list.Previous
		// The same snapshot for both levels, should another be taken between the reads.
		q.SnapshotID, q.Date = list.Snapshot.ID, ""
		if level == LevelDistrict {
			rep.Districts = list.Areas
		} else {
			rep.Streets = list.Areas
		}
	}
	err := s.db.QueryRow(ctx, `SELECT config_id FROM risk_snapshots WHERE id = $1`, rep.Snapshot.ID).Scan(&rep.ConfigID)
	return rep, err
}

// Title is the report's first row: the snapshot's date and id and the configuration.
func (r *Report) Title() string {
	cfg := "默认参数"
	if r.ConfigID != nil {
		cfg = fmt.Sprintf("参数 #%d", *r.ConfigID)
	}
	prev := "无上期快照"
	if r.Previous != nil {
		prev = fmt.Sprintf("对比上期 %s（快照 #%d）", r.Previous.TakenOn, r.Previous.ID)
	}
	return fmt.Sprintf("区域风险四色图 %s（快照 #%d）· %s · %s", r.Snapshot.TakenOn, r.Snapshot.ID, cfg, prev)
}

// FileName is the report's file name without its extension: risk-YYYY-MM-DD-<id>.
func (r *Report) FileName() string {
	return fmt.Sprintf("risk-%s-%d", r.Snapshot.TakenOn, r.Snapshot.ID)
}

// The report's sheets.
const (
	SheetDistricts = "区"
	SheetStreets   = "街镇"
)

// ReportTopN is how many top contributors a report row lists.
const ReportTopN = 3

// ReportHeader is a sheet's header row (the street sheet adds 所属区 after 名称).
func ReportHeader(level string) []string {
	h := []string{"排名", "代码", "名称"}
	if level == LevelStreet {
		h = append(h, "所属区")
	}
	h = append(h, "风险分", "颜色", "等级", "变化", "上期风险分", "上期颜色")
	for i := 1; i <= ReportTopN; i++ {
		h = append(h, fmt.Sprintf("主要风险源%d", i), fmt.Sprintf("占比%d", i))
	}
	return h
}

// ChangeChinese names a change: 上升, 下降, 持平, 新增, 移除.
func ChangeChinese(change string) string {
	return map[string]string{ChangeUp: "上升", ChangeDown: "下降", ChangeSame: "持平", ChangeNew: "新增", ChangeRemoved: "移除"}[change]
}

// colourNames are the colours' names in the report: 红 重大风险 and so on.
var colourNames = map[Colour]string{Red: "重大风险", Orange: "较大风险", Yellow: "一般风险", Blue: "低风险"}

// colourFills are the report's fills, in the map's colours.
var colourFills = map[Colour]string{Red: "E53935", Orange: "FB8C00", Yellow: "FDD835", Blue: "1E88E5"}

// reportValues is one row of a sheet: texts (formula-safe), numbers, and nil for empty.
func reportValues(level string, r *AreaRow, districtNames map[string]string) []any {
	out := []any{r.Rank, r.Code, grid.CSVSafe(r.Name)}
	if level == LevelStreet {
		out = append(out, grid.CSVSafe(districtNames[r.DistrictCode]))
	}
	out = append(out, round1(r.Score), r.Colour.Chinese(), colourNames[r.Colour], ChangeChinese(r.Change))
	if r.PreviousScore != nil {
		out = append(out, round1(*r.PreviousScore))
	} else {
		out = append(out, nil)
	}
	if r.PreviousColour != nil {
		out = append(out, r.PreviousColour.Chinese())
	} else {
		out = append(out, nil)
	}
	for i := range ReportTopN {
		if i < len(r.Top) {
			out = append(out, grid.CSVSafe(contributorText(r.Top[i])), math.Round(r.Top[i].Share*10000)/10000)
		} else {
			out = append(out, nil, nil)
		}
	}
	return out
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// WriteXLSX writes the report: sheets 区 and 街镇, each a title row, the header and the
// areas ranked by score, the colour cell filled in the area's colour, shares as
// percentages. Texts are string cells passed through grid.CSVSafe, never formulas.
func WriteXLSX(w io.Writer, rep *Report) error {
	f := excelize.NewFile()
	defer f.Close()
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	pct, err := f.NewStyle(&excelize.Style{NumFmt: 10})
	if err != nil {
		return err
	}
	fills := map[Colour]int{}
	for _, c := range Colours() {
		font := &excelize.Font{Bold: true}
		if c == Red || c == Blue {
			font.Color = "FFFFFF"
		}
		if fills[c], err = f.NewStyle(&excelize.Style{Font: font, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{colourFills[c]}}}); err != nil {
			return err
		}
	}
	districtNames := map[string]string{}
	for _, d := range rep.Districts {
		districtNames[d.Code] = d.Name
	}
	for i, sh := range []struct {
		name, level string
		rows        []AreaRow
	}{{SheetDistricts, LevelDistrict, rep.Districts}, {SheetStreets, LevelStreet, rep.Streets}} {
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
		if err := sw.SetRow("A1", []any{excelize.Cell{Value: grid.CSVSafe(rep.Title()), StyleID: bold}}); err != nil {
			return err
		}
		header := ReportHeader(sh.level)
		head := make([]any, len(header))
		colourCol := -1
		for j, h := range header {
			head[j] = excelize.Cell{Value: h, StyleID: bold}
			if h == "颜色" {
				colourCol = j
			}
		}
		if err := sw.SetRow("A2", head); err != nil {
			return err
		}
		for n := range sh.rows {
			r := &sh.rows[n]
			vals := reportValues(sh.level, r, districtNames)
			cells := make([]any, len(vals))
			for j, v := range vals {
				cell := excelize.Cell{Value: v}
				switch {
				case j == colourCol:
					cell.StyleID = fills[r.Colour]
				case strings.HasPrefix(header[j], "占比"):
					cell.StyleID = pct
				}
				cells[j] = cell
			}
			addr, _ := excelize.CoordinatesToCellName(1, n+3)
			if err := sw.SetRow(addr, cells); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return err
		}
	}
	return f.Write(w)
}

// WriteCSV writes one level's rows (list) as CSV in UTF-8 with a byte-order mark: the
// report's header and rows, every text cell through grid.CSVSafe.
func WriteCSV(w io.Writer, list *AreaList) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	level := list.Level
	if level == LevelCommunity {
		level = LevelStreet // a community's district column is its district's code
	}
	header := ReportHeader(level)
	if err := cw.Write(header); err != nil {
		return err
	}
	for i := range list.Areas {
		r := &list.Areas[i]
		vals := reportValues(level, r, map[string]string{})
		rec := make([]string, len(vals))
		for j, v := range vals {
			switch v := v.(type) {
			case nil:
			case string:
				rec[j] = v
			case int:
				rec[j] = strconv.Itoa(v)
			case float64:
				rec[j] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		if level == LevelStreet {
			rec[3] = r.DistrictCode
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
