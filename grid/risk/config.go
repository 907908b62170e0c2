package risk

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
