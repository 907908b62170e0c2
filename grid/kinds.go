package grid

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"safegrid/geo"
)

// FieldType is the type of one attribute of an imported row.
type FieldType int

const (
	Text FieldType = iota
	Int
	Float
	Bool
	Date      // YYYY-MM-DD
	Timestamp // RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] in Asia/Shanghai
	Enum
	USCC // 统一社会信用代码, 18 characters with the GB 32100-2015 check digit
	AreaCode
)

// GeomType is a geometry type a kind accepts.
type GeomType string

const (
	GeomPoint           GeomType = "Point"
	GeomLineString      GeomType = "LineString"
	GeomMultiLineString GeomType = "MultiLineString"
	GeomPolygon         GeomType = "Polygon"
	GeomMultiPolygon    GeomType = "MultiPolygon"
)

// Field describes one attribute: its name in import files (GeoJSON property or CSV column)
// and in the table, its type and what it allows.
type Field struct {
	Name     string
	Type     FieldType
	Required bool
	// Values are the allowed values of an Enum, as stored. Aliases maps other spellings
	// users bring (English, or the long Chinese name) to one of them.
	Values  []string
	Aliases map[string]string
	Min     *float64 // for Int and Float
	// Max is the largest value of a Float whose column is narrower than a float8 (funds,
	// numeric(14,2)): a larger one is refused as the row's mistake, not failed in the
	// database.
	Max *float64
	// MaxLen is the most characters a Text holds; 0 is DefaultTextMaxLen.
	MaxLen int
	Doc    string
}

// KeyMaxLen is the most characters of a code: a kind's key and a hazard's feature_code.
// Codes are indexed, and a btree entry holds at most 2,704 bytes; 64 characters are at
// most 256 bytes in UTF-8 (the API states the same in its maxLength tags).
const KeyMaxLen = 64

// DefaultTextMaxLen is the most characters of a Text field without a MaxLen of its own.
// Every text limit is far below an Excel cell's 32,767, so an export never cuts one.
const DefaultTextMaxLen = 1000

// Text limits of the hazard fields people write (the report form and the lifecycle's
// plan); the API's request types state the same in their maxLength tags.
const (
	HazardCategoryMaxLen    = 100
	HazardDescriptionMaxLen = 2000
	HazardMeasuresMaxLen    = 2000
)

// Kind describes one importable kind of thing: its table, its external code (the key a
// re-import updates by), its fields and the geometries it accepts.
type Kind struct {
	Name  string // as in --kind
	Table string
	Doc   string
	// Key is the field that identifies a row across imports.
	Key    string
	Fields []Field
	Geoms  []GeomType
	// Big kinds are distributed by district_code and tagged with areas on write.
	Big bool
}

func minZero() *float64 { z := 0.0; return &z }

func upTo(x float64) *float64 { return &x }

// MaxFunds is the most yuan a hazard's funds hold: hazards.funds is numeric(14,2). A value
// at most this rounds to at most this at two decimals, so it always fits.
const MaxFunds = 999999999999.99

// Enumerations, stored as the terms the standards use. They are fixed: the functions below
// hand out copies.
var (
	industries       = []string{"危化品生产", "危化品经营", "危化品储存", "危化品使用", "建筑施工", "工贸", "交通运输", "其他"}
	riskLevels       = []string{"重大", "较大", "一般", "低"}
	pipelineMedia    = []string{"oil", "gas"}
	pipelineClasses  = []string{"transmission", "distribution"}
	pressures        = []string{"高压", "次高压", "中压", "低压"}
	remediationState = []string{"待整治", "整治中", "已整治"}
	stationTypes     = []string{"特勤", "一级普通", "二级普通", "小型", "战勤保障"}
	stationStatuses  = []string{"existing", "planned"}
	portLevels       = []string{"中心", "一级", "二级", "三级", "等级以下"}
	undergroundUses  = []string{"民防工程", "地下商业", "地下车库", "轨交站", "综合管廊"}
	hazardLevels     = []string{"一般", "重大"}
	hazardStatuses   = []string{"reported", "registered", "assigned", "rectifying", "verified", "closed"}
)

// RiskLevels are an enterprise's risk levels 重大/较大/一般/低 (red, orange, yellow, blue).
func RiskLevels() []string { return slices.Clone(riskLevels) }

// StationTypes are the fire-station types of 建标152-2017.
func StationTypes() []string { return slices.Clone(stationTypes) }

// UndergroundUses are the uses of an underground space.
func UndergroundUses() []string { return slices.Clone(undergroundUses) }

// HazardLevels are a hazard's levels: 一般 (general) and 重大 (major).
func HazardLevels() []string { return slices.Clone(hazardLevels) }

// HazardStatuses are the lifecycle's statuses, in order (上报 立案 派遣 整改 验收 销号).
func HazardStatuses() []string { return slices.Clone(hazardStatuses) }

// IsHazardStatus reports whether s is one of HazardStatuses.
func IsHazardStatus(s string) bool { return slices.Contains(hazardStatuses, s) }

// IsStationType reports whether s is one of StationTypes.
func IsStationType(s string) bool { return slices.Contains(stationTypes, s) }

// kinds lists every importable kind, in the order a full data set is loaded.
var kinds = []Kind{
	{
		Name: "areas", Table: "areas", Key: "code",
		Doc:   "administrative areas: district 区 (6-digit code), street/town 街道/镇 (9), community 居委/村 (12)",
		Geoms: []GeomType{GeomPolygon, GeomMultiPolygon},
		Fields: []Field{
			{Name: "code", Type: AreaCode, Required: true, Doc: "6, 9 or 12 digits; the level follows from the length"},
			{Name: "name", Type: Text, Required: true},
			{Name: "synthetic", Type: Bool, Doc: "true when the boundary is synthesised, not surveyed"},
		},
	},
	{
		Name: "enterprises", Table: "enterprises", Key: "uscc", Big: true,
		Doc:   "生产经营单位: production and business units",
		Geoms: []GeomType{GeomPoint},
		Fields: []Field{
			{Name: "uscc", Type: USCC, Required: true, Doc: "统一社会信用代码"},
			{Name: "name", Type: Text, Required: true},
			{Name: "industry", Type: Enum, Required: true, Values: industries, Aliases: map[string]string{
				"hazchem_production": "危化品生产", "hazchem_trade": "危化品经营", "hazchem_storage": "危化品储存",
				"hazchem_use": "危化品使用", "construction": "建筑施工", "industry_trade": "工贸",
				"transport": "交通运输", "other": "其他"}},
			{Name: "risk_level", Type: Enum, Required: true, Values: riskLevels, Aliases: map[string]string{
				"major": "重大", "high": "较大", "general": "一般", "low": "低",
				"red": "重大", "orange": "较大", "yellow": "一般", "blue": "低"}},
			{Name: "major_hazard", Type: Bool, Doc: "重大危险源"},
			{Name: "employees", Type: Int, Min: minZero()},
			{Name: "address", Type: Text},
		},
	},
	{
		Name: "pipelines", Table: "pipelines", Key: "code", Big: true,
		Doc:   "油气输送管道/燃气管线: oil and gas pipelines",
		Geoms: []GeomType{GeomLineString, GeomMultiLineString},
		Fields: []Field{
			{Name: "code", Type: Text, Required: true, MaxLen: KeyMaxLen},
			{Name: "name", Type: Text},
			{Name: "medium", Type: Enum, Required: true, Values: pipelineMedia, Aliases: map[string]string{"油": "oil", "石油": "oil", "气": "gas", "燃气": "gas", "天然气": "gas"}},
			{Name: "class", Type: Enum, Required: true, Values: pipelineClasses, Aliases: map[string]string{"输送": "transmission", "长输": "transmission", "配送": "distribution", "城镇": "distribution"}},
			{Name: "pressure", Type: Enum, Required: true, Values: pressures, Aliases: map[string]string{"high": "高压", "sub_high": "次高压", "medium": "中压", "low": "低压"}},
			{Name: "diameter_mm", Type: Int, Min: minZero()},
			{Name: "operator", Type: Text},
		},
	},
	{
		Name: "gas_occupancy_sites", Table: "gas_occupancy_sites", Key: "code", Big: true,
		Doc:   "燃气管道占压: buildings or structures sitting on a gas pipe",
		Geoms: []GeomType{GeomPoint, GeomPolygon, GeomMultiPolygon},
		Fields: []Field{
			{Name: "code", Type: Text, Required: true, MaxLen: KeyMaxLen},
			{Name: "pipeline_code", Type: Text},
			{Name: "occupant", Type: Text, Required: true, Doc: "what occupies the pipe"},
			{Name: "status", Type: Enum, Required: true, Values: remediationState, Aliases: map[string]string{"pending": "待整治", "in_progress": "整治中", "done": "已整治"}},
			{Name: "deadline", Type: Date},
		},
	},
	{
		Name: "fire_stations", Table: "fire_stations", Key: "code",
		Doc:   "消防站: fire and rescue stations",
		Geoms: []GeomType{GeomPoint},
		Fields: []Field{
			{Name: "code", Type: Text, Required: true, MaxLen: KeyMaxLen},
			{Name: "name", Type: Text, Required: true},
			{Name: "type", Type: Enum, Required: true, Values: stationTypes, Aliases: map[string]string{"special": "特勤", "class1": "一级普通", "class2": "二级普通", "small": "小型", "logistics": "战勤保障", "一级": "一级普通", "二级": "二级普通"}},
			{Name: "status", Type: Enum, Required: true, Values: stationStatuses, Aliases: map[string]string{"现有": "existing", "已建": "existing", "规划": "planned"}},
			{Name: "vehicles", Type: Int, Min: minZero()},
			{Name: "staff", Type: Int, Min: minZero()},
		},
	},
	{
		Name: "fishing_ports", Table: "fishing_ports", Key: "code",
		Doc:   "渔港: fishing ports",
		Geoms: []GeomType{GeomPoint, GeomPolygon, GeomMultiPolygon},
		Fields: []Field{
			{Name: "code", Type: Text, Required: true, MaxLen: KeyMaxLen},
			{Name: "name", Type: Text, Required: true},
			{Name: "level", Type: Enum, Required: true, Values: portLevels, Aliases: map[string]string{"central": "中心", "class1": "一级", "class2": "二级", "class3": "三级", "below": "等级以下"}},
			{Name: "vessels", Type: Int, Min: minZero(), Doc: "fishing vessels based there"},
		},
	},
	{
		Name: "underground_spaces", Table: "underground_spaces", Key: "code", Big: true,
		Doc:   "地下空间: underground spaces",
		Geoms: []GeomType{GeomPolygon, GeomMultiPolygon},
		Fields: []Field{
			{Name: "code", Type: Text, Required: true, MaxLen: KeyMaxLen},
			{Name: "name", Type: Text},
			{Name: "use", Type: Enum, Required: true, Values: undergroundUses, Aliases: map[string]string{"civil_defence": "民防工程", "commercial": "地下商业", "parking": "地下车库", "metro_station": "轨交站", "utility_tunnel": "综合管廊"}},
			{Name: "levels", Type: Int, Min: minZero()},
			{Name: "floor_area_m2", Type: Float, Min: minZero()},
			{Name: "depth_m", Type: Float, Min: minZero()},
		},
	},
	{
		Name: "hazards", Table: "hazards", Key: "code", Big: true,
		Doc:   "隐患: safety hazards found in inspections or reported",
		Geoms: []GeomType{GeomPoint},
		Fields: []Field{
			{Name: "code", Type: Text, Required: true, MaxLen: KeyMaxLen},
			{Name: "level", Type: Enum, Required: true, Values: hazardLevels, Aliases: map[string]string{"general": "一般", "major": "重大"}},
			{Name: "category", Type: Text, Required: true, MaxLen: HazardCategoryMaxLen},
			{Name: "description", Type: Text, Required: true, MaxLen: HazardDescriptionMaxLen},
			{Name: "status", Type: Enum, Values: hazardStatuses, Aliases: map[string]string{"上报": "reported", "立案": "registered", "派遣": "assigned", "整改": "rectifying", "验收": "verified", "核查": "verified", "销号": "closed", "结案": "closed"}},
			{Name: "feature_kind", Type: Enum, Values: []string{"enterprises", "pipelines", "gas_occupancy_sites", "fire_stations", "fishing_ports", "underground_spaces"}},
			{Name: "feature_code", Type: Text, MaxLen: KeyMaxLen, Doc: "USCC or code of the feature the hazard belongs to"},
			{Name: "reporter", Type: Text},
			{Name: "responsible", Type: Text},
			{Name: "deadline", Type: Date},
			{Name: "funds", Type: Float, Min: minZero(), Max: upTo(MaxFunds), Doc: "rectification funds, yuan"},
			{Name: "measures", Type: Text, MaxLen: HazardMeasuresMaxLen, Doc: "rectification plan measures (required before a 重大 hazard is assigned)"},
			{Name: "reported_at", Type: Timestamp},
			{Name: "closed_at", Type: Timestamp},
		},
	},
}

// KindByName returns the kind called name.
func KindByName(name string) (*Kind, bool) {
	for i := range kinds {
		if kinds[i].Name == name {
			k := kinds[i].clone()
			return &k, true
		}
	}
	return nil, false
}

// clone is a deep copy of k: what KindByName hands out can be changed without changing
// the table.
func (k Kind) clone() Kind {
	k.Geoms = slices.Clone(k.Geoms)
	k.Fields = slices.Clone(k.Fields)
	for i := range k.Fields {
		f := &k.Fields[i]
		f.Values = slices.Clone(f.Values)
		f.Aliases = maps.Clone(f.Aliases)
		if f.Min != nil {
			m := *f.Min
			f.Min = &m
		}
		if f.Max != nil {
			m := *f.Max
			f.Max = &m
		}
	}
	return k
}

// KindNames are the names of the importable kinds, in the order a full data set is loaded.
func KindNames() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	return names
}

// FieldIndex is the index of the field called name in k.Fields, or -1.
func (k *Kind) FieldIndex(name string) int {
	for i := range k.Fields {
		if k.Fields[i].Name == name {
			return i
		}
	}
	return -1
}

// FieldNames are the names of k's fields, in order.
func (k *Kind) FieldNames() []string {
	names := make([]string, len(k.Fields))
	for i, f := range k.Fields {
		names[i] = f.Name
	}
	return names
}

// checkText refuses a text PostgreSQL cannot store (a NUL character, bytes that are not
// UTF-8) or longer than the field's limit.
func (f *Field) checkText(s string) (any, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("is not valid UTF-8 text")
	}
	if strings.ContainsRune(s, 0) {
		return nil, fmt.Errorf("contains a NUL character")
	}
	limit := f.MaxLen
	if limit <= 0 {
		limit = DefaultTextMaxLen
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return nil, fmt.Errorf("is %d characters long; at most %d", n, limit)
	}
	return s, nil
}

// Convert turns one property value into the Go value stored for the field. GeoJSON gives
// numbers and booleans as such; CSV gives strings; numbers as strings are accepted in both.
func (f *Field) Convert(v any) (any, error) {
	switch f.Type {
	case Text:
		s, err := asString(v)
		if err != nil {
			return nil, err
		}
		return f.checkText(strings.TrimSpace(s))
	case Enum:
		s, err := asString(v)
		if err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		if slices.Contains(f.Values, s) {
			return s, nil
		}
		if canon, ok := f.Aliases[s]; ok {
			return canon, nil
		}
		if canon, ok := f.Aliases[strings.ToLower(s)]; ok {
			return canon, nil
		}
		return nil, fmt.Errorf("%q is not one of %s", s, strings.Join(f.Values, ", "))
	case USCC:
		s, err := asString(v)
		if err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		if err := geo.CheckUSCC(s); err != nil {
			return nil, err
		}
		return s, nil
	case AreaCode:
		s, err := asString(v)
		if err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		if !isAreaCode(s) {
			return nil, fmt.Errorf("%q is not an area code of 6, 9 or 12 digits", s)
		}
		return s, nil
	case Int:
		x, err := asNumber(v)
		if err != nil {
			return nil, err
		}
		if x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
			return nil, fmt.Errorf("%v is not a whole number", v)
		}
		if f.Min != nil && x < *f.Min {
			return nil, fmt.Errorf("%v is below %v", v, *f.Min)
		}
		return int32(x), nil
	case Float:
		x, err := asNumber(v)
		if err != nil {
			return nil, err
		}
		if f.Min != nil && x < *f.Min {
			return nil, fmt.Errorf("%v is below %v", v, *f.Min)
		}
		if f.Max != nil && x > *f.Max {
			return nil, fmt.Errorf("%v is above %v", v, strconv.FormatFloat(*f.Max, 'f', -1, 64))
		}
		return x, nil
	case Bool:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(b)) {
			case "true", "t", "yes", "y", "1", "是":
				return true, nil
			case "false", "f", "no", "n", "0", "否":
				return false, nil
			}
		case float64:
			if b == 0 || b == 1 {
				return b == 1, nil
			}
		}
		return nil, fmt.Errorf("%v is not true or false", v)
	case Date:
		s, err := asString(v)
		if err != nil {
			return nil, err
		}
		t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(s), time.UTC)
		if err != nil {
			return nil, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
		}
		return t, nil
	case Timestamp:
		s, err := asString(v)
		if err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, s, shanghaiZone); err == nil {
				return t, nil
			}
		}
		return nil, fmt.Errorf("%q is not a time (RFC 3339 or YYYY-MM-DD HH:MM:SS)", s)
	}
	return nil, fmt.Errorf("unsupported field type")
}

func asString(v any) (string, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("wrong type: want text, got %s", jsonType(v))
}

func asNumber(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("wrong type: %q is not a number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("wrong type: want a number, got %s", jsonType(v))
}

func isAreaCode(s string) bool {
	if len(s) != 6 && len(s) != 9 && len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func jsonType(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "text"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
