package risk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// Config is the risk index's configuration 风险评估参数: every weight, the colour
// thresholds of each level, the spill-over, the fire-response term and the warning rules
// (docs/RISK.md gives the formulas). An admin changes it (validated, audited, kept in
// risk_configs, append-only); each snapshot keeps a copy of the one it was computed with.
type Config struct {
	// Enterprise points by risk level (重大, 较大, 一般, 低).
	Enterprise map[string]float64 `json:"enterprise"`
	// MajorHazard is the extra points of a major hazard installation 重大危险源.
	MajorHazard float64 `json:"major_hazard"`
	// Hazchem is the extra points of a hazardous-chemical enterprise (industry 危化品*).
	Hazchem float64 `json:"hazchem"`
	// Hazard points of an open hazard (not closed) by level (一般, 重大). The 重大 ones are
	// the ones listed for supervision 挂牌督办 (hazards.supervised).
	Hazard map[string]float64 `json:"hazard"`
	// HazardOverdue multiplies an open hazard's points when its deadline has passed
	// (before today's Asia/Shanghai date), ≥ 1.
	HazardOverdue float64 `json:"hazard_overdue"`
	// Pipeline points per km of oil/gas pipeline in the cell, by pressure class (高压,
	// 次高压, 中压, 低压).
	Pipeline map[string]float64 `json:"pipeline"`
	// GasSite points of a gas-pipe occupancy site by remediation status (待整治, 整治中,
	// 已整治).
	GasSite map[string]float64 `json:"gas_site"`
	// Underground points of an underground space by use (民防工程, 地下商业, 地下车库,
	// 轨交站, 综合管廊): people underground.
	Underground map[string]float64 `json:"underground"`
	// Fire is the fire-response term: a cell beyond the reach of every existing fire
	// station scores higher.
	Fire FireTerm `json:"fire"`
	// Spill is the spill-over over neighbouring cells (k-ring).
	Spill SpillTerm `json:"spill"`
	// Thresholds are the colour thresholds per level (cell, community, street, district).
	Thresholds map[string]Thresholds `json:"thresholds"`
	// Rules are the early-warning rules.
	Rules WarningRules `json:"rules"`
}

// FireTerm: a cell whose response time t (minutes, from the nearest existing station by
// the coverage model: straight-line metres × Detour at SpeedKmh) exceeds ReachMinutes has
// its contributors' points multiplied by 1 + Factor × min(1, (t − ReachMinutes) ÷ ReachMinutes).
type FireTerm struct {
	ReachMinutes float64 `json:"reach_minutes"`
	SpeedKmh     float64 `json:"speed_kmh"`
	Detour       float64 `json:"detour"`
	Factor       float64 `json:"factor"`
}

// SpillTerm: a cell's score is its own points plus Share × the own points of every other
// cell within K rings (1..3).
type SpillTerm struct {
	K     int     `json:"k"`
	Share float64 `json:"share"`
}

// Thresholds are a level's lower bounds: score ≥ Red is red, else ≥ Orange orange, else ≥
// Yellow yellow, else blue. Red > Orange > Yellow > 0.
type Thresholds struct {
	Red    float64 `json:"red"`
	Orange float64 `json:"orange"`
	Yellow float64 `json:"yellow"`
}

// Colour is the colour of score under t.
func (t Thresholds) Colour(score float64) Colour {
	switch {
	case score >= t.Red:
		return Red
	case score >= t.Orange:
		return Orange
	case score >= t.Yellow:
		return Yellow
	}
	return Blue
}

// WarningRules configure the early warnings 预警 (each can be turned off).
type WarningRules struct {
	// ColourRise: an area (street or district; communities with Communities) rises at
	// least one colour since the previous snapshot.
	ColourRise Rule `json:"colour_rise"`
	// TurnedRed: an area or a cell turns red.
	TurnedRed Rule `json:"turned_red"`
	// MajorHazardOverdue: a major hazard installation 重大危险源 has an overdue 重大 hazard.
	MajorHazardOverdue Rule `json:"major_hazard_overdue"`
	// HazardBurst: at least CellCount new hazards in one cell, or StreetCount in one
	// street, reported within Days days.
	HazardBurst BurstRule `json:"hazard_burst"`
}

// Rule is a rule that is on or off.
type Rule struct {
	Enabled bool `json:"enabled"`
}

// BurstRule is the "N new hazards within M days" rule, for cells and for streets.
type BurstRule struct {
	Enabled     bool `json:"enabled"`
	CellCount   int  `json:"cell_count"`
	StreetCount int  `json:"street_count"`
	Days        int  `json:"days"`
}

// DefaultConfig is the published configuration (docs/RISK.md "The risk index"), in force
// until an admin stores another. Its thresholds were calibrated on the demo city (safegrid
// demo, reference date 2026-11-01) so that few areas are red (the chemical belt of 金山 and
// 奉贤), some orange, most yellow or blue.
func DefaultConfig() Config {
	return Config{
		Enterprise:    map[string]float64{"重大": 30, "较大": 8, "一般": 1, "低": 0.2},
		MajorHazard:   200,
		Hazchem:       4,
		Hazard:        map[string]float64{"一般": 2, "重大": 15},
		HazardOverdue: 2,
		Pipeline:      map[string]float64{"高压": 20, "次高压": 10, "中压": 4, "低压": 1},
		GasSite:       map[string]float64{"待整治": 10, "整治中": 5, "已整治": 1},
		Underground:   map[string]float64{"民防工程": 4, "地下商业": 8, "地下车库": 3, "轨交站": 10, "综合管廊": 4},
		Fire:          FireTerm{ReachMinutes: 5, SpeedKmh: 30, Detour: 1.4, Factor: 0.5},
		Spill:         SpillTerm{K: 1, Share: 0.25},
		Thresholds: map[string]Thresholds{
			LevelCell:      {Red: 250, Orange: 80, Yellow: 20},
			LevelCommunity: {Red: 1000, Orange: 300, Yellow: 60},
			LevelStreet:    {Red: 8000, Orange: 3000, Yellow: 800},
			LevelDistrict:  {Red: 65000, Orange: 25000, Yellow: 10000},
		},
		Rules: WarningRules{
			ColourRise:         Rule{Enabled: true},
			TurnedRed:          Rule{Enabled: true},
			MajorHazardOverdue: Rule{Enabled: true},
			HazardBurst:        BurstRule{Enabled: true, CellCount: 5, StreetCount: 30, Days: 7},
		},
	}
}

// enumValues are the values of kind's enumerated field (the fixed lists of grid's kinds).
func enumValues(kind, field string) []string {
	k, ok := grid.KindByName(kind)
	if !ok {
		return nil
	}
	i := k.FieldIndex(field)
	if i < 0 {
		return nil
	}
	return slices.Clone(k.Fields[i].Values)
}

// The keys of the configuration's maps: fixed lists, every key present.
func pipelinePressures() []string { return enumValues("pipelines", "pressure") }
func gasSiteStatuses() []string   { return enumValues("gas_occupancy_sites", "status") }

// Validate checks every weight, threshold and rule; a refusal is a BadInputError naming
// each bad field by its JSON path under config (config.enterprise.重大,
// config.thresholds.street.orange, config.spill.k).
func (c Config) Validate() error {
	var b badFields
	weight := func(field string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			b.add(field, "must be a finite number ≥ 0")
		}
	}
	weights := func(name string, m map[string]float64, keys []string) {
		for _, k := range keys {
			v, ok := m[k]
			if !ok {
				b.add("config."+name+"."+k, "is missing (the keys are "+strings.Join(keys, ", ")+")")
				continue
			}
			weight("config."+name+"."+k, v)
		}
		extra := []string{}
		for k := range m {
			if !slices.Contains(keys, k) {
				extra = append(extra, k)
			}
		}
		slices.Sort(extra)
		for _, k := range extra {
			b.add("config."+name+"."+k, "is not a key of "+name+" (the keys are "+strings.Join(keys, ", ")+")")
		}
	}
	weights("enterprise", c.Enterprise, grid.RiskLevels())
	weight("config.major_hazard", c.MajorHazard)
	weight("config.hazchem", c.Hazchem)
	weights("hazard", c.Hazard, grid.HazardLevels())
	if math.IsNaN(c.HazardOverdue) || math.IsInf(c.HazardOverdue, 0) || c.HazardOverdue < 1 {
		b.add("config.hazard_overdue", "must be a finite number ≥ 1")
	}
	weights("pipeline", c.Pipeline, pipelinePressures())
	weights("gas_site", c.GasSite, gasSiteStatuses())
	weights("underground", c.Underground, grid.UndergroundUses())
	inRange := func(field string, v, lo, hi float64) {
		if math.IsNaN(v) || v < lo || v > hi {
			b.add(field, fmt.Sprintf("must be from %g to %g", lo, hi))
		}
	}
	inRange("config.fire.reach_minutes", c.Fire.ReachMinutes, 1, 60)
	inRange("config.fire.speed_kmh", c.Fire.SpeedKmh, 1, 200)
	inRange("config.fire.detour", c.Fire.Detour, 1, 5)
	inRange("config.fire.factor", c.Fire.Factor, 0, 10)
	if c.Spill.K < 0 || c.Spill.K > 3 {
		b.add("config.spill.k", "must be an integer from 0 to 3")
	}
	inRange("config.spill.share", c.Spill.Share, 0, 1)
	for _, lv := range Levels() {
		t, ok := c.Thresholds[lv]
		f := "config.thresholds." + lv
		if !ok {
			b.add(f, "is missing (the levels are "+strings.Join(Levels(), ", ")+")")
			continue
		}
		bad := false
		for _, x := range []struct {
			name string
			v    float64
		}{{"red", t.Red}, {"orange", t.Orange}, {"yellow", t.Yellow}} {
			if math.IsNaN(x.v) || math.IsInf(x.v, 0) || x.v <= 0 {
				b.add(f+"."+x.name, "must be a finite number > 0")
				bad = true
			}
		}
		if bad {
			continue
		}
		if !(t.Orange > t.Yellow) {
			b.add(f+".orange", fmt.Sprintf("must be above yellow (%g): red > orange > yellow > 0", t.Yellow))
		}
		if !(t.Red > t.Orange) {
			b.add(f+".red", fmt.Sprintf("must be above orange (%g): red > orange > yellow > 0", t.Orange))
		}
	}
	extra := []string{}
	for lv := range c.Thresholds {
		if !slices.Contains(Levels(), lv) {
			extra = append(extra, lv)
		}
	}
	slices.Sort(extra)
	for _, lv := range extra {
		b.add("config.thresholds."+lv, "is not a level (the levels are "+strings.Join(Levels(), ", ")+")")
	}
	hb := c.Rules.HazardBurst
	if hb.CellCount < 1 || hb.CellCount > 1_000_000 {
		b.add("config.rules.hazard_burst.cell_count", "must be an integer from 1 to 1000000")
	}
	if hb.StreetCount < 1 || hb.StreetCount > 1_000_000 {
		b.add("config.rules.hazard_burst.street_count", "must be an integer from 1 to 1000000")
	}
	if hb.Days < 1 || hb.Days > 365 {
		b.add("config.rules.hazard_burst.days", "must be an integer from 1 to 365")
	}
	return b.err()
}

// ConfigRecord is a stored configuration (risk_configs); ID 0 is the built-in defaults.
type ConfigRecord struct {
	ID        int64     `json:"id"`
	Config    Config    `json:"config"`
	Note      string    `json:"note"`
	CreatedBy string    `json:"created_by"`
	CreatedAt grid.Time `json:"created_at"`
}

// MaxNoteLength is the most characters of a configuration's note.
const MaxNoteLength = 500

// configActor is the created_by of the built-in defaults.
const configActor = "default"

// CurrentConfig is the configuration in force: the latest risk_configs row, else the
// defaults (ID 0, created now by "default").
func (s *Service) CurrentConfig(ctx context.Context) (ConfigRecord, error) {
	return currentConfig(ctx, s.db)
}

func currentConfig(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (ConfigRecord, error) {
	var r ConfigRecord
	var raw []byte
	err := q.QueryRow(ctx, `SELECT id, config, note, created_by, created_at FROM risk_configs ORDER BY id DESC LIMIT 1`).
		Scan(&r.ID, &raw, &r.Note, &r.CreatedBy, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ConfigRecord{Config: DefaultConfig(), CreatedBy: configActor, CreatedAt: grid.TimeOf(time.Now())}, nil
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(raw, &r.Config); err != nil {
		return r, fmt.Errorf("risk config %d: %w", r.ID, err)
	}
	return r, nil
}

// SetConfig stores cfg as the configuration in force (admins only, else grid.ErrForbidden),
// after Validate; note is at most MaxNoteLength characters of text. The row and its audit
// record (action risk_config) are written in one transaction. A refused configuration
// changes nothing.
func (s *Service) SetConfig(ctx context.Context, p *grid.Principal, cfg Config, note string) (ConfigRecord, error) {
	if !p.HasRole(grid.RoleAdmin) {
		return ConfigRecord{}, grid.ErrForbidden
	}
	var b badFields
	note, ok := trimmed(note, MaxNoteLength)
	if !ok {
		b.add("note", fmt.Sprintf("must be text (no NUL or control characters) of at most %d characters", MaxNoteLength))
	}
	if err := cfg.Validate(); err != nil {
		var be *BadInputError
		if !errors.As(err, &be) {
			return ConfigRecord{}, err
		}
		b.errs = append(be.Errors, b.errs...)
	}
	if err := b.err(); err != nil {
		return ConfigRecord{}, err
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return ConfigRecord{}, err
	}
	r := ConfigRecord{Config: cfg, Note: note, CreatedBy: p.Actor()}
	err = s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO risk_configs (config, note, created_by) VALUES ($1, $2, $3) RETURNING id, created_at`,
			js, note, r.CreatedBy).Scan(&r.ID, &r.CreatedAt); err != nil {
			return err
		}
		return s.st.Record(ctx, tx, grid.AuditEntry{Actor: r.CreatedBy, Action: "risk_config", Object: strconv.FormatInt(r.ID, 10),
			Details: map[string]any{"note": note, "config": cfg}})
	})
	if err != nil {
		return ConfigRecord{}, err
	}
	return r, nil
}
