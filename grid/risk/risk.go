// Package risk is the regional risk assessment 区域风险评估 (docs/RISK.md): a risk index per
// resolution-9 H3 cell computed from what SafeGrid holds, aggregated to communities, streets
// and districts, coloured red/orange/yellow/blue (红橙黄蓝四色图), kept as dated snapshots;
// early warnings 预警 raised from the snapshots and the hazards; and joint-control zones
// 联动联控区 whose members share one picture across their borders.
//
// Files: risk.go (shared types), config.go (weights, thresholds, rules), compute.go (the
// recompute and its snapshot), read.go (the map, breakdowns, trend, exports, tiles),
// warnings.go (rules, the warnings list, notification), zone.go (zones and membership).
package risk

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// Service is the risk assessment over one store.
type Service struct {
	st *grid.Store
	db *pgxpool.Pool
}

// New returns the risk service of st.
func New(st *grid.Store) *Service {
	return &Service{st: st, db: st.DB(pg.Key{})}
}

// Colour is a risk colour of the four-colour map 四色图.
type Colour string

// The four colours, highest first.
const (
	Red    Colour = "red"    // 红 重大风险
	Orange Colour = "orange" // 橙 较大风险
	Yellow Colour = "yellow" // 黄 一般风险
	Blue   Colour = "blue"   // 蓝 低风险
)

// Colours lists the colours, highest first.
func Colours() []Colour { return []Colour{Red, Orange, Yellow, Blue} }

// Rank orders colours: red 3, orange 2, yellow 1, blue 0; -1 for anything else.
func (c Colour) Rank() int {
	switch c {
	case Red:
		return 3
	case Orange:
		return 2
	case Yellow:
		return 1
	case Blue:
		return 0
	}
	return -1
}

// Chinese is the colour's name on the map: 红 (重大风险), 橙, 黄, 蓝.
func (c Colour) Chinese() string {
	switch c {
	case Red:
		return "红"
	case Orange:
		return "橙"
	case Yellow:
		return "黄"
	case Blue:
		return "蓝"
	}
	return ""
}

// Higher is the higher of two colours (an empty colour is below blue).
func Higher(a, b Colour) Colour {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// LevelColour is the colour of an enterprise risk level: 重大 red, 较大 orange, 一般
// yellow, 低 blue; empty for anything else. An area is never coloured below the colour of
// the highest enterprise risk level inside it.
func LevelColour(riskLevel string) Colour {
	switch riskLevel {
	case "重大":
		return Red
	case "较大":
		return Orange
	case "一般":
		return Yellow
	case "低":
		return Blue
	}
	return ""
}

// The levels the index is reported at, finest first.
const (
	LevelCell      = "cell"
	LevelCommunity = "community"
	LevelStreet    = "street"
	LevelDistrict  = "district"
)

// Levels lists the levels, finest first.
func Levels() []string { return []string{LevelCell, LevelCommunity, LevelStreet, LevelDistrict} }

// AreaLevels lists the administrative levels (risk_areas.level), finest first.
func AreaLevels() []string { return []string{LevelCommunity, LevelStreet, LevelDistrict} }

// The kinds of contributor (top contributors' "kind").
const (
	KindEnterprise  = "enterprise"
	KindHazard      = "hazard"
	KindPipeline    = "pipeline"
	KindGasSite     = "gas_site"
	KindUnderground = "underground_space"
	KindSpill       = "spill" // a cell's spill-over from its neighbours
)

// Contributor is one thing that drives an area's or a cell's score, with its share.
type Contributor struct {
	Kind   string  `json:"kind"`
	ID     int64   `json:"id,omitempty"`
	Code   string  `json:"code,omitempty"` // USCC, hazard code, pipeline code, site or space code
	Name   string  `json:"name,omitempty"`
	Detail string  `json:"detail,omitempty"` // what earned the points: 重大 · 重大危险源 · 危化品生产, 高压 1.2 km, ...
	Points float64 `json:"points"`
	Share  float64 `json:"share"` // points ÷ the area's or cell's score, 0..1
}

// BadInputError is a refused configuration, zone or date: a 400 naming each field (the
// issue's contract for the risk routes), with nothing changed.
type BadInputError struct{ grid.InvalidFieldsError }

// Bad returns a BadInputError for one field.
func Bad(field, reason string) error {
	return &BadInputError{grid.InvalidFieldsError{Errors: []grid.InvalidError{{Field: field, Reason: reason}}}}
}

// badFields collects refused fields; err is nil when none were.
type badFields struct{ errs []grid.InvalidError }

func (b *badFields) add(field, reason string) {
	b.errs = append(b.errs, grid.InvalidError{Field: field, Reason: reason})
}

func (b *badFields) err() error {
	if len(b.errs) == 0 {
		return nil
	}
	return &BadInputError{grid.InvalidFieldsError{Errors: b.errs}}
}

// IsBadInput reports whether err is a BadInputError.
func IsBadInput(err error) bool {
	var b *BadInputError
	return errors.As(err, &b)
}

// trimmed reports whether s is usable text: valid, no NUL or control characters but
// newline and tab, at most max runes.
func trimmed(s string, max int) (string, bool) {
	s = strings.TrimSpace(s)
	if !validText(s) || len([]rune(s)) > max {
		return s, false
	}
	return s, true
}

func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && unicode.IsControl(r) }) < 0
}

// Snapshot is one computation of the index 风险快照 (risk_snapshots): append-only, dated
// by its Asia/Shanghai day, with a copy of the configuration it was computed with.
type Snapshot struct {
	ID          int64     `json:"id"`
	TakenOn     string    `json:"taken_on"` // YYYY-MM-DD, Asia/Shanghai
	ComputedAt  grid.Time `json:"computed_at"`
	ConfigID    *int64    `json:"config_id"` // nil: the built-in defaults
	Config      Config    `json:"config"`
	Trigger     string    `json:"trigger"` // schedule, manual, demo
	RequestedBy string    `json:"requested_by"`
	DurationMS  int       `json:"duration_ms"`
	Cells       int       `json:"cells"`
	// Summary holds the snapshot's totals: areas and cells by colour per level, and the
	// contributors counted.
	Summary map[string]any `json:"summary"`
}

// The triggers of a recompute (risk_snapshots.trigger, risk_runs.trigger).
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerDemo     = "demo"
)
