package supervise

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// HazardItem is one hazard 隐患 as the street office's list, the officer's cell view and a
// new report show it.
type HazardItem struct {
	ID            int64       `json:"id"`
	Code          string      `json:"code"`
	Level         string      `json:"level" enum:"一般,重大"`
	Category      string      `json:"category"`
	Description   string      `json:"description"`
	Status        string      `json:"status" enum:"reported,registered,assigned,rectifying,verified,closed"`
	Deadline      *string     `json:"deadline" format:"date" doc:"rectification deadline, YYYY-MM-DD"`
	Overdue       bool        `json:"overdue" doc:"past the deadline and neither verified nor closed"`
	StreetCode    *string     `json:"street_code"`
	StreetName    *string     `json:"street_name"`
	CommunityCode *string     `json:"community_code"`
	CommunityName *string     `json:"community_name"`
	Feature       *FeatureRef `json:"feature" doc:"the supervised thing the hazard belongs to"`
	Location      LonLatPoint `json:"location"`
	ReportedAt    grid.Time   `json:"reported_at"`
}

// FeatureRef names the feature a hazard is tied to; Name is nil when no such feature is
// stored.
type FeatureRef struct {
	Kind string  `json:"kind"`
	Code string  `json:"code"`
	Name *string `json:"name"`
}

// LonLatPoint is a WGS84 location.
type LonLatPoint struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// hazardOverdueSQL is docs/DESIGN.md's overdue rule on a hazards row h, with today in Shanghai.
const hazardOverdueSQL = `(coalesce(h.deadline < (now() AT TIME ZONE 'Asia/Shanghai')::date, false) AND h.status NOT IN ('verified', 'closed'))`

// hazardItemSQL reads HazardItem columns from hazards h; the feature's name is looked up in
// the table its kind names, in the hazard's district (big tables join on district_code).
const hazardItemSQL = `SELECT h.id, h.code, h.level, h.category, h.description, h.status,
	to_char(h.deadline, 'YYYY-MM-DD'), ` + hazardOverdueSQL + `, h.street_code, sa.name, h.community_code, a.name,
	h.feature_kind, h.feature_code,
	CASE h.feature_kind
		WHEN 'enterprises' THEN (SELECT f.name FROM enterprises f WHERE f.district_code = h.district_code AND f.uscc = h.feature_code)
		WHEN 'pipelines' THEN (SELECT f.name FROM pipelines f WHERE f.district_code = h.district_code AND f.code = h.feature_code)
		WHEN 'gas_occupancy_sites' THEN (SELECT f.occupant FROM gas_occupancy_sites f WHERE f.district_code = h.district_code AND f.code = h.feature_code)
		WHEN 'fire_stations' THEN (SELECT f.name FROM fire_stations f WHERE f.code = h.feature_code)
		WHEN 'fishing_ports' THEN (SELECT f.name FROM fishing_ports f WHERE f.code = h.feature_code)
		WHEN 'underground_spaces' THEN (SELECT f.name FROM underground_spaces f WHERE f.district_code = h.district_code AND f.code = h.feature_code)
	END,
	ST_X(h.geom), ST_Y(h.geom), h.reported_at
FROM hazards h LEFT JOIN areas a ON a.code = h.community_code LEFT JOIN areas sa ON sa.code = h.street_code`

func scanHazardItem(row pgx.CollectableRow) (HazardItem, error) {
	var it HazardItem
	var kind, code, name *string
	err := row.Scan(&it.ID, &it.Code, &it.Level, &it.Category, &it.Description, &it.Status,
		&it.Deadline, &it.Overdue, &it.StreetCode, &it.StreetName, &it.CommunityCode, &it.CommunityName, &kind, &code, &name,
		&it.Location.Lon, &it.Location.Lat, &it.ReportedAt)
	if kind != nil && code != nil {
		it.Feature = &FeatureRef{Kind: *kind, Code: *code, Name: name}
	}
	return it, err
}

// StreetHazardFilter selects a street's hazards, or a district's (District set; Street
// then narrows it to one of its streets). Zero fields do not filter, but a filter names a
// street or a district.
type StreetHazardFilter struct {
	District  string
	Street    string
	Community string
	Level     string
	Status    string
	Category  string
	Overdue   *bool
	From, To  *time.Time // reported_at dates (Shanghai), both inclusive
	Sort      string     // a key of hazardSortKeys, "-" prefixed for descending; default -reported_at
	Limit     int
	Offset    int
}

// hazardSortKeys are the keys a hazard list sorts by, and their SQL: a closed list, so no
// client text reaches the ORDER BY.
var hazardSortKeys = map[string]string{
	"reported_at": "h.reported_at",
	"deadline":    "h.deadline",
	"level":       "(h.level = '重大')",
	"status":      "array_position(ARRAY['reported','registered','assigned','rectifying','verified','closed'], h.status)",
}

// hazardSortNullable are the sort keys whose value can be null; nulls sort last.
var hazardSortNullable = map[string]bool{"deadline": true}

var (
	streetCodeRe    = regexp.MustCompile(`^[0-9]{9}$`)
	communityCodeRe = regexp.MustCompile(`^[0-9]{12}$`)
)

// orderBy turns a sort key into ORDER BY text from the whitelist; ties break by id.
func hazardOrderBy(sort string) (string, error) {
	if sort == "" {
		sort = "-reported_at"
	}
	key, dir := strings.TrimPrefix(sort, "-"), "ASC"
	if strings.HasPrefix(sort, "-") {
		dir = "DESC"
	}
	col, ok := hazardSortKeys[key]
	if !ok {
		keys := make([]string, 0, len(hazardSortKeys))
		for k := range hazardSortKeys {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", &grid.InvalidError{Field: "sort", Reason: fmt.Sprintf("%q is not a sort key (known: %s, each optionally prefixed with - for descending)", sort, strings.Join(keys, ", "))}
	}
	// NULLS LAST only where a key can be null: on a NOT NULL key the clause changes nothing
	// but keeps the index on (street_code, reported_at DESC, id DESC) from serving the
	// ascending order (a backward scan yields NULLS FIRST, which PostgreSQL will not
	// match against NULLS LAST however the column is declared).
	nulls := ""
	if hazardSortNullable[key] {
		nulls = " NULLS LAST"
	}
	return fmt.Sprintf(" ORDER BY %s %s%s, h.id %s", col, dir, nulls, dir), nil
}

// where builds the filter's condition with every value bound.
func (f *StreetHazardFilter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.District != "" {
		add("h.district_code = $%d", f.District)
	}
	if f.Street != "" || f.District == "" {
		add("h.street_code = $%d", f.Street)
	}
	if f.Community != "" {
		add("h.community_code = $%d", f.Community)
	}
	if f.Level != "" {
		add("h.level = $%d", f.Level)
	}
	if f.Status != "" {
		add("h.status = $%d", f.Status)
	}
	if f.Category != "" {
		add("h.category = $%d", f.Category)
	}
	if f.Overdue != nil {
		add(hazardOverdueSQL+" = $%d", *f.Overdue)
	}
	if f.From != nil {
		add("h.reported_at >= ($%d::date)::timestamp AT TIME ZONE 'Asia/Shanghai'", *f.From)
	}
	if f.To != nil {
		add("h.reported_at < ($%d::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'", *f.To)
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// CheckStreet validates a street code and reports whether the street exists.
func (s *Service) CheckStreet(ctx context.Context, code string) error {
	if !streetCodeRe.MatchString(code) {
		return &grid.InvalidError{Field: "code", Reason: "a street code is 9 digits"}
	}
	ok, err := s.AreaExists(ctx, "street", code)
	if err != nil {
		return err
	}
	if !ok {
		return &grid.NotFoundError{What: "street", Key: code}
	}
	return nil
}

// AreaExists tells whether the area of level (district, street, community) with code is
// loaded; filters use it so that an unknown code is refused rather than matching nothing.
func (s *Service) AreaExists(ctx context.Context, level, code string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM areas WHERE code = $1 AND level = $2)`, code, level).Scan(&ok)
	return ok, err
}

// StreetHazards lists a street's hazards matching f, one page, and how many match in all.
func (s *Service) StreetHazards(ctx context.Context, f StreetHazardFilter) ([]HazardItem, int, error) {
	if f.Community != "" && !communityCodeRe.MatchString(f.Community) {
		return nil, 0, &grid.InvalidError{Field: "community", Reason: "a community code is 12 digits"}
	}
	order, err := hazardOrderBy(f.Sort)
	if err != nil {
		return nil, 0, err
	}
	where, args := f.where()
	n := len(args)
	// The count and the page go in one batch: one round trip.
	var total int
	var items []HazardItem
	b := &pgx.Batch{}
	b.Queue(`SELECT count(*) FROM hazards h`+where, args...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&total)
	})
	b.Queue(hazardItemSQL+where+order+fmt.Sprintf(" LIMIT $%d OFFSET $%d", n+1, n+2), append(args, f.Limit, f.Offset)...).
		Query(func(rows pgx.Rows) error {
			var err error
			items, err = pgx.CollectRows(rows, scanHazardItem)
			return err
		})
	if err := s.db.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, err
	}
	return items, total, nil
}

// CommunitySummary is one block's 居委/村 hazards and grid coverage.
type CommunitySummary struct {
	Code     string         `json:"code" doc:"12-digit community code; empty for hazards and enterprises tagged with no community"`
	Name     string         `json:"name"`
	Hazards  int            `json:"hazards"`
	ByStatus map[string]int `json:"by_status" doc:"hazards per status; every status is listed"`
	ByLevel  map[string]int `json:"by_level" doc:"hazards per level; every level is listed"`
	Overdue  int            `json:"overdue"`
	// RectificationRate is (verified + closed) ÷ all hazards; nil without hazards.
	RectificationRate *float64 `json:"rectification_rate" doc:"(verified + closed) ÷ all hazards; null without hazards"`
	Enterprises       int      `json:"enterprises"`
	Assigned          int      `json:"enterprises_assigned" doc:"enterprises whose cell is in a grid unit that has an officer"`
}

// StreetSummary is a street's summary per community, plus the street's total.
type StreetSummary struct {
	Street      string             `json:"street"`
	Name        string             `json:"name"`
	Communities []CommunitySummary `json:"communities"`
	Total       CommunitySummary   `json:"total"`
}

func newCommunitySummary(code, name string) *CommunitySummary {
	c := &CommunitySummary{Code: code, Name: name, ByStatus: map[string]int{}, ByLevel: map[string]int{}}
	for _, st := range grid.HazardStatuses() {
		c.ByStatus[st] = 0
	}
	for _, l := range grid.HazardLevels() {
		c.ByLevel[l] = 0
	}
	return c
}

const (
	summaryCommunitiesSQL = `SELECT code, name FROM areas WHERE parent_code = $1 AND level = 'community' ORDER BY code`
	summaryHazardsSQL     = `SELECT coalesce(h.community_code, ''), h.status, h.level, count(*)::int, (count(*) FILTER (WHERE ` + hazardOverdueSQL + `))::int
FROM hazards h WHERE h.street_code = $1 GROUP BY 1, 2, 3`
	// An enterprise is assigned when its cell is in a unit with an officer. grid_cells is
	// keyed by h3 alone (a cell belongs to one unit whatever district its enterprises are in).
	summaryEnterprisesSQL = `SELECT coalesce(e.community_code, ''), count(*)::int,
	(count(*) FILTER (WHERE EXISTS (SELECT 1 FROM grid_cells gc JOIN grid_units u ON u.code = gc.unit_code
		WHERE gc.h3 = e.h3 AND u.officer_id IS NOT NULL)))::int
FROM enterprises e WHERE e.street_code = $1 GROUP BY 1`
)

// StreetSummary summarises a street's hazards and grid coverage per community.
func (s *Service) StreetSummary(ctx context.Context, street string) (*StreetSummary, error) {
	name, parts, total, err := s.summarise(ctx, "street", street, summaryCommunitiesSQL, summaryHazardsSQL, summaryEnterprisesSQL, "未标注社区")
	if err != nil {
		return nil, err
	}
	return &StreetSummary{Street: street, Name: name, Communities: parts, Total: total}, nil
}

// summarise counts an area's hazards and enterprises per part (a street's communities, a
// district's streets): partsSQL lists the parts ($1 the area), hazardsSQL and
// enterprisesSQL count per part code, ” for rows tagged with none (named unnamed).
func (s *Service) summarise(ctx context.Context, what, area, partsSQL, hazardsSQL, enterprisesSQL, unnamed string) (string, []CommunitySummary, CommunitySummary, error) {
	var areaName string
	if err := s.db.QueryRow(ctx, `SELECT name FROM areas WHERE code = $1`, area).Scan(&areaName); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil, CommunitySummary{}, &grid.NotFoundError{What: what, Key: area}
		}
		return "", nil, CommunitySummary{}, err
	}
	byCode := map[string]*CommunitySummary{}
	var order []string
	get := func(code string) *CommunitySummary {
		if c, ok := byCode[code]; ok {
			return c
		}
		c := newCommunitySummary(code, "")
		if code == "" {
			c.Name = unnamed
		}
		byCode[code] = c
		order = append(order, code)
		return c
	}
	fail := func(err error) (string, []CommunitySummary, CommunitySummary, error) {
		return "", nil, CommunitySummary{}, err
	}
	rows, err := s.db.Query(ctx, partsSQL, area)
	if err != nil {
		return fail(err)
	}
	var code, name string
	if _, err := pgx.ForEachRow(rows, []any{&code, &name}, func() error {
		get(code).Name = name
		return nil
	}); err != nil {
		return fail(err)
	}
	var status, level string
	var n, overdue, assigned int
	rows, err = s.db.Query(ctx, hazardsSQL, area)
	if err != nil {
		return fail(err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&code, &status, &level, &n, &overdue}, func() error {
		c := get(code)
		c.Hazards += n
		c.ByStatus[status] += n
		c.ByLevel[level] += n
		c.Overdue += overdue
		return nil
	}); err != nil {
		return fail(err)
	}
	rows, err = s.db.Query(ctx, enterprisesSQL, area)
	if err != nil {
		return fail(err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&code, &n, &assigned}, func() error {
		c := get(code)
		c.Enterprises += n
		c.Assigned += assigned
		return nil
	}); err != nil {
		return fail(err)
	}
	total := newCommunitySummary(area, areaName)
	parts := []CommunitySummary{}
	for _, code := range order {
		c := byCode[code]
		c.RectificationRate = rectificationRate(c)
		parts = append(parts, *c)
		total.Hazards += c.Hazards
		total.Overdue += c.Overdue
		total.Enterprises += c.Enterprises
		total.Assigned += c.Assigned
		for k, v := range c.ByStatus {
			total.ByStatus[k] += v
		}
		for k, v := range c.ByLevel {
			total.ByLevel[k] += v
		}
	}
	total.RectificationRate = rectificationRate(total)
	return areaName, parts, *total, nil
}

func rectificationRate(c *CommunitySummary) *float64 {
	if c.Hazards == 0 {
		return nil
	}
	r := float64(c.ByStatus["verified"]+c.ByStatus["closed"]) / float64(c.Hazards)
	return &r
}

// HazardSortKeys are the keys a hazard list sorts by, and their SQL: a closed list, so no
// client text reaches the ORDER BY.
// Callers get a copy: the table itself is fixed.
func HazardSortKeys() map[string]string { return maps.Clone(hazardSortKeys) }
