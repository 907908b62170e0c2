package risk

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// The rules of the early warnings 预警 (risk_warnings.rule; docs/RISK.md, "Early warnings").
const (
	RuleColourRise         = "colour_rise"          // a street or district rises a colour
	RuleTurnedRed          = "turned_red"           // an area or a cell turns red
	RuleMajorHazardOverdue = "major_hazard_overdue" // a 重大危险源 has an overdue 重大 hazard
	RuleHazardBurst        = "hazard_burst"         // many hazards in one cell or street within days
)

// WarningRuleNames lists the rules.
func WarningRuleNames() []string {
	return []string{RuleColourRise, RuleTurnedRed, RuleMajorHazardOverdue, RuleHazardBurst}
}

// candidate is a warning a rule found, before it is inserted (and perhaps found raised
// already: the cause is unique per district and rule).
type candidate struct {
	district, street string // street "" for a district's warning
	level, code      string // area_level and area_code
	rule, cause      string
	title, reason    string
	figures          map[string]any
}

// warningQuerier is what the rules read and write through: the recompute's transaction.
type warningQuerier interface {
	grid.Querier
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// raiseWarnings is the hook Recompute calls inside its transaction, after the snapshot's
// rows are written: it raises the warnings of cur (compared with prev, the snapshot before
// it; nil for the first) and of the hazards as they are at now, queues each new one's
// notification in the same transaction, and returns how many were new.
func (s *Service) raiseWarnings(ctx context.Context, tx pgx.Tx, cur Snapshot, prev *Snapshot, cfg Config, now time.Time) (int, error) {
	var all []candidate
	if prev != nil {
		if cfg.Rules.ColourRise.Enabled {
			c, err := colourRises(ctx, tx, cur.ID, prev.ID)
			if err != nil {
				return 0, fmt.Errorf("colour_rise: %w", err)
			}
			all = append(all, c...)
		}
		if cfg.Rules.TurnedRed.Enabled {
			c, err := turnedRed(ctx, tx, cur.ID, prev.ID)
			if err != nil {
				return 0, fmt.Errorf("turned_red: %w", err)
			}
			all = append(all, c...)
		}
	}
	hz, err := hazardCandidates(ctx, tx, cfg.Rules, now)
	if err != nil {
		return 0, err
	}
	id := cur.ID
	return s.insertWarnings(ctx, tx, append(all, hz...), &id, now)
}

// RaiseHazardWarnings runs the two hazard rules (major_hazard_overdue, hazard_burst) at
// now outside a recompute, so that an overdue hazard or a burst is warned of within a
// scheduler run, not only at the next snapshot. The rules are the configuration in force
// (the latest saved one, else the latest snapshot's); with neither, nothing is raised.
// It returns how many warnings were new.
func (s *Service) RaiseHazardWarnings(ctx context.Context, now time.Time) (int, error) {
	var raw []byte
	err := s.db.QueryRow(ctx, `SELECT config FROM (
    (SELECT config, 1 AS k FROM risk_configs ORDER BY id DESC LIMIT 1)
    UNION ALL (SELECT config, 2 FROM risk_snapshots ORDER BY id DESC LIMIT 1)) c ORDER BY k LIMIT 1`).Scan(&raw)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return 0, fmt.Errorf("the risk configuration in force: %w", err)
	}
	n := 0
	err = s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		c, err := hazardCandidates(ctx, tx, cfg.Rules, now)
		if err != nil {
			return err
		}
		n, err = s.insertWarnings(ctx, tx, c, nil, now)
		return err
	})
	return n, err
}

func hazardCandidates(ctx context.Context, q warningQuerier, r WarningRules, now time.Time) ([]candidate, error) {
	var all []candidate
	if r.MajorHazardOverdue.Enabled {
		c, err := majorHazardsOverdue(ctx, q, now)
		if err != nil {
			return nil, fmt.Errorf("major_hazard_overdue: %w", err)
		}
		all = append(all, c...)
	}
	if b := r.HazardBurst; b.Enabled && b.Days > 0 {
		c, err := hazardBursts(ctx, q, b, now)
		if err != nil {
			return nil, fmt.Errorf("hazard_burst: %w", err)
		}
		all = append(all, c...)
	}
	return all, nil
}

const insertWarningSQL = `INSERT INTO risk_warnings (district_code, street_code, area_level, area_code, rule, cause, snapshot_id, title, reason, figures, raised_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (district_code, rule, cause) DO NOTHING
RETURNING id`

// insertWarnings inserts each candidate whose cause was not warned of yet and queues its
// notification: to the street office for a street's, community's or cell's warning, and
// to the district always.
func (s *Service) insertWarnings(ctx context.Context, q warningQuerier, cs []candidate, snapshot *int64, now time.Time) (int, error) {
	n := 0
	for _, c := range cs {
		var id int64
		err := q.QueryRow(ctx, insertWarningSQL, c.district, nullable(c.street), c.level, c.code, c.rule, c.cause,
			snapshot, c.title, c.reason, c.figures, now).Scan(&id)
		if err == pgx.ErrNoRows {
			continue // raised before: once per cause
		}
		if err != nil {
			return n, err
		}
		n++
		to := []grid.Recipient{{Kind: grid.RecipientDistrict, Code: c.district}}
		if c.street != "" && c.level != LevelDistrict {
			to = append([]grid.Recipient{{Kind: grid.RecipientStreet, Code: c.street}}, to...)
		}
		m := grid.Message{
			Key: "risk_warning/" + strconv.FormatInt(id, 10), Kind: "risk_warning",
			Title: c.title, Body: c.reason, Street: c.street, District: c.district,
			Data: map[string]any{"warning_id": id, "rule": c.rule, "area_level": c.level, "area_code": c.code, "figures": c.figures},
		}
		if _, err := s.st.Notify(ctx, q, m, to...); err != nil {
			return n, err
		}
	}
	return n, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// rankSQL is the SQL rank of the colour column col (a constant of this file).
func rankSQL(col string) string {
	return fmt.Sprintf("(CASE %s WHEN 'red' THEN 3 WHEN 'orange' THEN 2 WHEN 'yellow' THEN 1 WHEN 'blue' THEN 0 ELSE -1 END)", col)
}

// colourRiseSQL: the streets and districts of snapshot $1 whose colour is above their
// colour in snapshot $2.
var colourRiseSQL = `SELECT c.district_code, c.code, c.level, coalesce(a.name, c.code), p.colour, c.colour, p.score, c.score, p.parts, c.parts
  FROM risk_areas c
  JOIN risk_areas p ON p.snapshot_id = $2 AND p.district_code = c.district_code AND p.code = c.code
  LEFT JOIN areas a ON a.code = c.code
 WHERE c.snapshot_id = $1 AND c.level IN ('street', 'district') AND ` + rankSQL("c.colour") + ` > ` + rankSQL("p.colour") + `
 ORDER BY c.district_code, c.code`

// colourRises: cause <level>/<code>@<snapshot>, the snapshot the area rose in. A colour
// that stays is no rise; a rise after a fall rises in another snapshot, a new cause.
func colourRises(ctx context.Context, q warningQuerier, cur, prev int64) ([]candidate, error) {
	rows, err := q.Query(ctx, colourRiseSQL, cur, prev)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []candidate
	for rows.Next() {
		var district, code, level, name string
		var from, to Colour
		var fromScore, toScore float64
		var fromParts, toParts map[string]any
		if err := rows.Scan(&district, &code, &level, &name, &from, &to, &fromScore, &toScore, &fromParts, &toParts); err != nil {
			return nil, err
		}
		grew := partsGrowth(fromParts, toParts)
		reason := fmt.Sprintf("%s（%s）风险由%s色（%s）升为%s色（%s），得分 %s → %s", name, levelName(level),
			from.Chinese(), colourTerm(from), to.Chinese(), colourTerm(to), num(fromScore), num(toScore))
		if len(grew) > 0 {
			parts := make([]string, len(grew))
			for i, g := range grew {
				parts[i] = fmt.Sprintf("%s +%s", partName(g.Part), num(g.Delta))
			}
			reason += "；增长最多：" + strings.Join(parts, "、")
		}
		out = append(out, candidate{
			district: district, street: areaStreet(level, code), level: level, code: code,
			rule: RuleColourRise, cause: fmt.Sprintf("%s/%s@%d", level, code, cur),
			title:  fmt.Sprintf("%s风险升级：%s色→%s色", name, from.Chinese(), to.Chinese()),
			reason: reason + "。",
			figures: map[string]any{"from_colour": from, "to_colour": to, "from_score": round2(fromScore), "to_score": round2(toScore),
				"grew": grew, "snapshot_id": cur, "previous_snapshot_id": prev},
		})
	}
	return out, rows.Err()
}

// partGrowth is how much one part of a score grew between two snapshots.
type partGrowth struct {
	Part  string  `json:"part"`
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	Delta float64 `json:"delta"`
}

// partsGrowth lists the numeric parts that grew, most first, at most three.
func partsGrowth(from, to map[string]any) []partGrowth {
	var out []partGrowth
	for k, v := range to {
		t, ok := v.(float64)
		if !ok {
			continue
		}
		f, _ := from[k].(float64)
		if t-f > 1e-9 {
			out = append(out, partGrowth{Part: k, From: round2(f), To: round2(t), Delta: round2(t - f)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Delta != out[j].Delta {
			return out[i].Delta > out[j].Delta
		}
		return out[i].Part < out[j].Part
	})
	return out[:min(len(out), 3)]
}

// turnedRedAreasSQL and turnedRedCellsSQL: red in snapshot $1, and not red (or absent)
// in snapshot $2.
const turnedRedAreasSQL = `SELECT c.district_code, c.code, c.level, coalesce(a.name, c.code), p.colour, c.score, p.score, c.top
  FROM risk_areas c
  LEFT JOIN risk_areas p ON p.snapshot_id = $2 AND p.district_code = c.district_code AND p.code = c.code
  LEFT JOIN areas a ON a.code = c.code
 WHERE c.snapshot_id = $1 AND c.colour = 'red' AND p.colour IS DISTINCT FROM 'red'
 ORDER BY c.district_code, c.code`

var turnedRedCellsSQL = `SELECT c.district_code, c.h3::text, coalesce(c.street_code, ''), ` + cellNameSQL("c.street_code", "c.h3") + `, p.colour, c.score, p.score, c.top
  FROM risk_cells c
  LEFT JOIN risk_cells p ON p.snapshot_id = $2 AND p.h3 = c.h3
 WHERE c.snapshot_id = $1 AND c.colour = 'red' AND p.colour IS DISTINCT FROM 'red'
 ORDER BY c.district_code, c.h3`

// cellNameSQL names a cell in a title: its street's name and its H3 index, 西街道 H3
// 89309958e6fffff (street and h3 are expressions of this file).
func cellNameSQL(street, h3 string) string {
	return fmt.Sprintf(`coalesce((SELECT sa.name FROM areas sa WHERE sa.code = %s) || ' ', '') || 'H3 ' || to_hex(%s)`, street, h3)
}

// turnedRed: cause <level>/<code>@<snapshot>, the snapshot the area turned red in. An area
// that stays red is not warned again; one that falls and turns red again is.
func turnedRed(ctx context.Context, q warningQuerier, cur, prev int64) ([]candidate, error) {
	var out []candidate
	for _, sql := range []string{turnedRedAreasSQL, turnedRedCellsSQL} {
		rows, err := q.Query(ctx, sql, cur, prev)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var district, code, third, name string
			var from *Colour
			var score float64
			var prevScore *float64
			var top []Contributor
			if err := rows.Scan(&district, &code, &third, &name, &from, &score, &prevScore, &top); err != nil {
				rows.Close()
				return nil, err
			}
			level, street := third, areaStreet(third, code)
			if sql == turnedRedCellsSQL {
				level, street = LevelCell, third
			}
			out = append(out, redCandidate(district, street, level, code, name, from, score, prevScore, top, cur, prev))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func redCandidate(district, street, level, code, name string, from *Colour, score float64, prevScore *float64, top []Contributor, cur, prev int64) candidate {
	was := "上次快照中没有该" + levelName(level)
	figures := map[string]any{"to_colour": Red, "score": round2(score), "snapshot_id": cur, "previous_snapshot_id": prev,
		"from_colour": nil, "previous_score": nil}
	if from != nil {
		was = fmt.Sprintf("上次为%s色（%s）", from.Chinese(), colourTerm(*from))
		figures["from_colour"] = *from
	}
	if prevScore != nil {
		was += "，得分 " + num(*prevScore)
		figures["previous_score"] = round2(*prevScore)
	}
	top = top[:min(len(top), 3)]
	figures["top"] = top
	reason := fmt.Sprintf("%s（%s）转为红色（重大风险），得分 %s；%s", name, levelName(level), num(score), was)
	if len(top) > 0 {
		reason += fmt.Sprintf("。主要来源：%s（占 %s%%）", contributorName(top[0]), num(100*top[0].Share))
	}
	return candidate{
		district: district, street: street, level: level, code: code,
		rule: RuleTurnedRed, cause: fmt.Sprintf("%s/%s@%d", level, code, cur),
		title: fmt.Sprintf("%s转为红色（重大风险）", name), reason: reason + "。", figures: figures,
	}
}

// majorOverdueSQL: open 重大 hazards whose deadline is before $1 (today's Shanghai date),
// tied to an enterprise that is a major hazard installation (feature_kind enterprises,
// feature_code its USCC, as the dossier ties them), not warned of yet.
const majorOverdueSQL = `SELECT DISTINCT ON (h.id) e.district_code, coalesce(e.street_code, ''), coalesce(e.community_code, e.street_code, e.district_code),
       coalesce(a.name, ''), h.id, h.code, h.category, h.description, h.deadline::text, ($1::date - h.deadline), e.uscc, e.name, e.risk_level
  FROM hazards h
  JOIN enterprises e ON e.uscc = h.feature_code AND e.major_hazard
  LEFT JOIN areas a ON a.code = coalesce(e.community_code, e.street_code, e.district_code)
 WHERE h.feature_kind = 'enterprises' AND h.level = '重大' AND h.deadline < $1::date
   AND h.deadline IS NOT NULL AND h.status NOT IN ('verified', 'closed')
   AND NOT EXISTS (SELECT 1 FROM risk_warnings w WHERE w.district_code = e.district_code
        AND w.rule = 'major_hazard_overdue' AND w.cause = 'hazard/' || h.id)
 ORDER BY h.id, e.district_code`

// majorHazardsOverdue: cause hazard/<id>, once per hazard.
func majorHazardsOverdue(ctx context.Context, q warningQuerier, now time.Time) ([]candidate, error) {
	today := now.In(grid.ShanghaiZone()).Format(time.DateOnly)
	rows, err := q.Query(ctx, majorOverdueSQL, today)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []candidate
	for rows.Next() {
		var district, street, area, areaName, code, category, desc, deadline, uscc, name, riskLevel string
		var id int64
		var days int
		if err := rows.Scan(&district, &street, &area, &areaName, &id, &code, &category, &desc, &deadline, &days, &uscc, &name, &riskLevel); err != nil {
			return nil, err
		}
		level := LevelCommunity
		switch len(area) {
		case 9:
			level = LevelStreet
		case 6:
			level = LevelDistrict
		}
		out = append(out, candidate{
			district: district, street: street, level: level, code: area,
			rule: RuleMajorHazardOverdue, cause: "hazard/" + strconv.FormatInt(id, 10),
			title: fmt.Sprintf("重大危险源企业%s的重大隐患%s逾期未整改", name, code),
			reason: fmt.Sprintf("重大危险源企业 %s（%s，%s风险）的重大隐患 %s（%s：%s）整改期限 %s，已逾期 %d 天。",
				name, uscc, riskLevel, code, category, shorten(desc, 60), deadline, days),
			figures: map[string]any{"hazard_id": id, "hazard_code": code, "deadline": deadline, "days_overdue": days,
				"uscc": uscc, "enterprise": name, "risk_level": riskLevel, "area_name": areaName},
		})
	}
	return out, rows.Err()
}

// burstCellSQL and burstStreetSQL: the cells and streets with at least $3 hazards
// reported after $1 and up to $2, that have no burst warning raised after $1.
var burstCellSQL = `SELECT h.district_code, h.h3::text, coalesce(mode() WITHIN GROUP (ORDER BY h.street_code), ''),
       ` + cellNameSQL("mode() WITHIN GROUP (ORDER BY h.street_code)", "h.h3") + `,
       count(*)::int, (count(*) FILTER (WHERE h.level = '重大'))::int, (array_agg(h.code ORDER BY h.reported_at DESC, h.id DESC))[1:20]
  FROM hazards h
 WHERE h.reported_at > $1 AND h.reported_at <= $2
 GROUP BY h.district_code, h.h3
HAVING count(*) >= $3 AND NOT EXISTS (SELECT 1 FROM risk_warnings w WHERE w.district_code = h.district_code
        AND w.rule = 'hazard_burst' AND w.area_level = 'cell' AND w.area_code = h.h3::text AND w.raised_at > $1)
 ORDER BY h.district_code, h.h3`

const burstStreetSQL = `SELECT h.district_code, h.street_code, h.street_code, coalesce(min(a.name), h.street_code),
       count(*)::int, (count(*) FILTER (WHERE h.level = '重大'))::int, (array_agg(h.code ORDER BY h.reported_at DESC, h.id DESC))[1:20]
  FROM hazards h
  LEFT JOIN areas a ON a.code = h.street_code
 WHERE h.reported_at > $1 AND h.reported_at <= $2 AND h.street_code IS NOT NULL
 GROUP BY h.district_code, h.street_code
HAVING count(*) >= $3 AND NOT EXISTS (SELECT 1 FROM risk_warnings w WHERE w.district_code = h.district_code
        AND w.rule = 'hazard_burst' AND w.area_level = 'street' AND w.area_code = h.street_code AND w.raised_at > $1)
 ORDER BY h.district_code, h.street_code`

// hazardBursts: cause <level>/<code>/<Shanghai date raised>; not raised again for an area
// while an earlier burst warning of it was raised within the rule's days.
func hazardBursts(ctx context.Context, q warningQuerier, b BurstRule, now time.Time) ([]candidate, error) {
	since := now.Add(-time.Duration(b.Days) * 24 * time.Hour)
	day := now.In(grid.ShanghaiZone()).Format(time.DateOnly)
	var out []candidate
	for _, part := range []struct {
		level, sql string
		count      int
	}{{LevelCell, burstCellSQL, b.CellCount}, {LevelStreet, burstStreetSQL, b.StreetCount}} {
		if part.count <= 0 {
			continue
		}
		rows, err := q.Query(ctx, part.sql, since, now, part.count)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var district, code, street, name string
			var n, major int
			var codes []string
			if err := rows.Scan(&district, &code, &street, &name, &n, &major, &codes); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, candidate{
				district: district, street: street, level: part.level, code: code,
				rule: RuleHazardBurst, cause: fmt.Sprintf("%s/%s/%s", part.level, code, day),
				title: fmt.Sprintf("%s %d 天内新增 %d 项隐患", name, b.Days, n),
				reason: fmt.Sprintf("%s（%s）在 %d 天内（%s 至 %s）上报隐患 %d 项，达到预警阈值 %d 项，其中重大隐患 %d 项。",
					name, levelName(part.level), b.Days, since.In(grid.ShanghaiZone()).Format(time.DateOnly), day, n, part.count, major),
				figures: map[string]any{"count": n, "major": major, "threshold": part.count, "days": b.Days,
					"since": grid.TimeOf(since), "until": grid.TimeOf(now), "hazard_codes": codes},
			})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// areaStreet is the street of an area: a street's own code, a community's street, none for
// a district.
func areaStreet(level, code string) string {
	switch {
	case level == LevelStreet:
		return code
	case level == LevelCommunity && len(code) >= 9:
		return code[:9]
	}
	return ""
}

func levelName(level string) string {
	switch level {
	case LevelDistrict:
		return "区"
	case LevelStreet:
		return "街道/镇"
	case LevelCommunity:
		return "居委/村"
	case LevelCell:
		return "网格单元"
	}
	return level
}

func colourTerm(c Colour) string {
	switch c {
	case Red:
		return "重大风险"
	case Orange:
		return "较大风险"
	case Yellow:
		return "一般风险"
	case Blue:
		return "低风险"
	}
	return ""
}

// partName is a score part's name in a reason.
func partName(p string) string {
	names := map[string]string{"enterprises": "企业", "hazards": "隐患", "pipelines": "油气管线", "gas_sites": "燃气管道占压",
		"underground": "地下空间", "spill": "周边溢出", "fire": "消防响应"}
	if n, ok := names[p]; ok {
		return n
	}
	return p
}

func contributorName(c Contributor) string {
	for _, s := range []string{c.Name, c.Code} {
		if s != "" {
			return s
		}
	}
	kinds := map[string]string{KindEnterprise: "企业", KindHazard: "隐患", KindPipeline: "管线", KindGasSite: "占压点",
		KindUnderground: "地下空间", KindSpill: "周边溢出"}
	return kinds[c.Kind]
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// num writes a figure in a reason: at most two decimals, no trailing zeros.
func num(v float64) string { return strconv.FormatFloat(round2(v), 'f', -1, 64) }

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
