package risk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
)

// Reading the four-colour map 四色图 from its snapshots: the areas of a level ranked by
// score with their change since the previous snapshot, one area's or one cell's breakdown,
// and the comparison of two dates. Everything is read from the snapshot tables (risk_areas,
// risk_cells), never recomputed.
//
// Who sees what: admins and planners every area and cell; a district bureau its district's;
// a street office its street and its communities (its street's row, not its district's);
// officers nothing (grid.ErrForbidden). With a zone, a member sees the zone's picture
// instead of its own scope. An area, cell or zone out of sight reads exactly like a
// missing one.

// SnapshotRef names a snapshot 风险快照: its id and its Asia/Shanghai date.
type SnapshotRef struct {
	ID      int64  `json:"id"`
	TakenOn string `json:"taken_on" format:"date"`
}

// Pick chooses a snapshot: by id, else the latest taken on or before Date (YYYY-MM-DD,
// Asia/Shanghai), else the latest.
type Pick struct {
	Date       string
	SnapshotID int64
}

// AreaQuery selects the areas of one level of a snapshot.
type AreaQuery struct {
	Level      string // district, street or community; "" is street
	District   string // only this district (6-digit code); "" for all
	Street     string // only this street and its communities (9-digit code); "" for all
	Zone       string // the zone's picture instead of the caller's scope; "" for none
	Date       string
	SnapshotID int64
}

func (q AreaQuery) pick() Pick { return Pick{Date: q.Date, SnapshotID: q.SnapshotID} }

// AreaRow is one area's risk 区域风险 in a snapshot, with its rank and its change since
// the previous snapshot.
type AreaRow struct {
	Code           string             `json:"code"`
	Name           string             `json:"name"`
	Level          string             `json:"level" enum:"district,street,community"`
	DistrictCode   string             `json:"district_code"`
	StreetCode     *string            `json:"street_code" doc:"null for a district"`
	Score          float64            `json:"score"`
	Colour         Colour             `json:"colour" enum:"red,orange,yellow,blue" doc:"the higher of score_colour and floor_colour"`
	ScoreColour    Colour             `json:"score_colour" enum:"red,orange,yellow,blue" doc:"the colour of the score under the level's thresholds"`
	FloorColour    *Colour            `json:"floor_colour" doc:"the colour of the highest enterprise risk level inside; null when none"`
	PreviousScore  *float64           `json:"previous_score" doc:"in the previous snapshot; null when the area was not in it"`
	PreviousColour *Colour            `json:"previous_colour"`
	Change         string             `json:"change" enum:"up,down,same,new" doc:"the colour against the previous snapshot's"`
	Rank           int                `json:"rank" doc:"1 for the highest score among the rows answered; equal scores share a rank"`
	Parts          map[string]float64 `json:"parts" doc:"points by component: enterprises, hazards, pipelines, gas_sites, underground, spill"`
	Counts         map[string]any     `json:"counts" doc:"what was counted inside, as the snapshot recorded it"`
	Top            []Contributor      `json:"top"`
}

// AreaList is the answer of Areas.
type AreaList struct {
	Snapshot SnapshotRef  `json:"snapshot"`
	Previous *SnapshotRef `json:"previous" doc:"the snapshot before, the one change is measured against; null for the first"`
	Level    string       `json:"level" enum:"district,street,community"`
	Areas    []AreaRow    `json:"areas"`
}

// AreaDetail is one area's breakdown: its row and its cells by colour.
type AreaDetail struct {
	Snapshot SnapshotRef  `json:"snapshot"`
	Previous *SnapshotRef `json:"previous"`
	AreaRow
	Cells map[Colour]int `json:"cells" doc:"the area's cells by colour (red, orange, yellow, blue)"`
}

// CellDetail is one resolution-9 cell's risk 网格风险 in a snapshot.
type CellDetail struct {
	Snapshot      SnapshotRef        `json:"snapshot"`
	H3            string             `json:"h3" doc:"the H3 index, hexadecimal"`
	DistrictCode  string             `json:"district_code"`
	StreetCode    *string            `json:"street_code"`
	CommunityCode *string            `json:"community_code"`
	Score         float64            `json:"score"`
	Own           float64            `json:"own" doc:"the cell's own points"`
	Spill         float64            `json:"spill" doc:"points spilt over from the neighbouring cells"`
	Colour        Colour             `json:"colour" enum:"red,orange,yellow,blue"`
	ScoreColour   Colour             `json:"score_colour" enum:"red,orange,yellow,blue"`
	FloorColour   *Colour            `json:"floor_colour"`
	FireMinutes   *float64           `json:"fire_minutes" doc:"the response time from the nearest fire station; null when the snapshot did not record it"`
	Parts         map[string]float64 `json:"parts" doc:"points by component (enterprises, hazards, pipelines, gas_sites, underground, spill) and fire_factor, the multiplier already applied to them"`
	Top           []Contributor      `json:"top"`
}

// CompareQuery selects two snapshots by date and the areas of one level.
type CompareQuery struct {
	From, To string // YYYY-MM-DD, Asia/Shanghai; From not after To
	Level    string // "" is street
	District string
	Street   string
	Zone     string
}

// AreaChange is one area's change 风险变化 between two snapshots.
type AreaChange struct {
	Code         string             `json:"code"`
	Name         string             `json:"name"`
	Level        string             `json:"level"`
	DistrictCode string             `json:"district_code"`
	FromColour   *Colour            `json:"from_colour" doc:"null when the area was not in the from snapshot"`
	ToColour     *Colour            `json:"to_colour" doc:"null when the area is not in the to snapshot"`
	FromScore    *float64           `json:"from_score"`
	ToScore      *float64           `json:"to_score"`
	Change       string             `json:"change" enum:"up,down,same,new,removed"`
	Reason       string             `json:"reason" doc:"zh-CN: the colour change, the parts that changed most and the top contributors that came or went"`
	PartsDelta   map[string]float64 `json:"parts_delta" doc:"to − from by component"`
}

// Comparison is the trend 风险趋势 between two snapshots: the answer of Compare.
type Comparison struct {
	From    SnapshotRef  `json:"from"`
	To      SnapshotRef  `json:"to"`
	Level   string       `json:"level"`
	Changes []AreaChange `json:"changes" doc:"colour rises first (the largest first), then by score change, down to falls"`
}

// The changes of an area between two snapshots.
const (
	ChangeUp      = "up"
	ChangeDown    = "down"
	ChangeSame    = "same"
	ChangeNew     = "new"
	ChangeRemoved = "removed"
)

// PartLabels are the Chinese names of the parts (the components of a score).
var partLabels = map[string]string{
	"enterprises": "企业风险分",
	"hazchem":     "危化品企业风险分",
	"hazards":     "隐患风险分",
	"pipelines":   "油气管线风险分",
	"gas_sites":   "燃气占压风险分",
	"underground": "地下空间风险分",
	"spill":       "周边溢出风险分",
	"fire":        "消防响应风险分",
}

// kindParts is the part each kind of contributor scores in.
var kindParts = map[string]string{
	KindEnterprise: "enterprises", KindHazard: "hazards", KindPipeline: "pipelines",
	KindGasSite: "gas_sites", KindUnderground: "underground", KindSpill: "spill",
}

// PartLabel is the Chinese name of a part ("enterprises" → 企业风险分); the key itself
// when it has none.
func PartLabel(part string) string {
	if l, ok := partLabels[part]; ok {
		return l
	}
	return part
}

var (
	dateRe     = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	zoneCodeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
)

// readable refuses the roles that may not read the map.
func readable(p *grid.Principal) error {
	if p == nil {
		return grid.ErrForbidden
	}
	switch p.Role {
	case grid.RoleAdmin, grid.RolePlanner, grid.RoleDistrict, grid.RoleStreet:
		return nil
	}
	return grid.ErrForbidden
}

const snapshotOrder = ` ORDER BY taken_on DESC, id DESC LIMIT 1`

func (s *Service) oneSnapshot(ctx context.Context, where string, args ...any) (SnapshotRef, bool, error) {
	var r SnapshotRef
	err := s.db.QueryRow(ctx, `SELECT id, taken_on::text FROM risk_snapshots WHERE `+where+snapshotOrder, args...).Scan(&r.ID, &r.TakenOn)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// PickSnapshot returns the snapshot q picks and the one before it (nil for the first).
// field names the date in errors ("date", "from", "to"): a malformed date, one after
// today in Shanghai or before the first snapshot is a BadInputError on it; an unknown id a
// NotFoundError, and so is asking for the latest when there is none.
func (s *Service) PickSnapshot(ctx context.Context, q Pick, field string) (SnapshotRef, *SnapshotRef, error) {
	cur, err := s.pickOne(ctx, q, field)
	if err != nil {
		return cur, nil, err
	}
	prev, ok, err := s.oneSnapshot(ctx, `(taken_on, id) < ($1::date, $2::bigint)`, cur.TakenOn, cur.ID)
	if err != nil || !ok {
		return cur, nil, err
	}
	return cur, &prev, nil
}

// pickOne is PickSnapshot without the previous snapshot.
func (s *Service) pickOne(ctx context.Context, q Pick, field string) (SnapshotRef, error) {
	var (
		cur SnapshotRef
		ok  bool
		err error
	)
	switch {
	case q.SnapshotID != 0:
		cur, ok, err = s.oneSnapshot(ctx, `id = $1`, q.SnapshotID)
		if err == nil && !ok {
			err = &grid.NotFoundError{What: "snapshot", Key: strconv.FormatInt(q.SnapshotID, 10)}
		}
	case q.Date != "":
		var d time.Time
		if d, err = ParseDate(q.Date, field); err != nil {
			return cur, err
		}
		cur, ok, err = s.oneSnapshot(ctx, `taken_on <= $1`, d.Format(time.DateOnly))
		if err == nil && !ok {
			first, taken, ferr := s.firstSnapshot(ctx)
			switch {
			case ferr != nil:
				err = ferr
			case !taken:
				err = Bad(field, "no snapshot has been taken yet")
			default:
				err = Bad(field, fmt.Sprintf("is before the first snapshot, taken on %s", first))
			}
		}
	default:
		cur, ok, err = s.oneSnapshot(ctx, `true`)
		if err == nil && !ok {
			err = &grid.NotFoundError{What: "snapshot", Key: "latest"}
		}
	}
	return cur, err
}

func (s *Service) firstSnapshot(ctx context.Context) (string, bool, error) {
	var d string
	err := s.db.QueryRow(ctx, `SELECT taken_on::text FROM risk_snapshots ORDER BY taken_on, id LIMIT 1`).Scan(&d)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return d, err == nil, err
}

// ParseDate reads a Shanghai date YYYY-MM-DD not after today; anything else is a
// BadInputError on field.
func ParseDate(raw, field string) (time.Time, error) {
	if !dateRe.MatchString(raw) {
		return time.Time{}, Bad(field, "must be a date, YYYY-MM-DD")
	}
	d, err := time.ParseInLocation(time.DateOnly, raw, grid.ShanghaiZone())
	if err != nil {
		return time.Time{}, Bad(field, fmt.Sprintf("%s is not a calendar date", raw))
	}
	today := time.Now().In(grid.ShanghaiZone()).Format(time.DateOnly)
	if raw > today {
		return time.Time{}, Bad(field, fmt.Sprintf("must not be after today, %s", today))
	}
	return d, nil
}

// streetOf is a risk_areas row's street: the code of a street, the first nine digits of a
// community's, NULL for a district.
const streetOf = `(CASE WHEN a.level = 'district' THEN NULL ELSE left(a.code, 9) END)`

// view is what a read may see: the caller's scope, or a zone's picture.
type view struct {
	p    *grid.Principal
	zone string
}

// newView checks that p may read the map and, with a zone, that p is one of its members
// (a zone p may not see is a NotFoundError, like a missing one).
func (s *Service) newView(ctx context.Context, p *grid.Principal, zone string) (view, error) {
	if err := readable(p); err != nil {
		return view{}, err
	}
	if zone != "" {
		if !zoneCodeRe.MatchString(zone) {
			return view{}, Bad("zone", "must be a zone code: lower-case letters, digits, - and _, at most 40")
		}
		if _, err := s.Zone(ctx, p, zone); err != nil {
			return view{}, err
		}
	}
	return view{p: p, zone: zone}, nil
}

// cond is the SQL condition of the view on a row whose district, street and geometry are
// the given columns, binding its value (if any) as $n.
func (v view) cond(district, street, geom string, n int) (string, []any) {
	if v.zone != "" {
		return ZoneCond(ZoneCols{District: district, Street: street, Geom: geom}, n), []any{v.zone}
	}
	return grid.Scope(v.p, grid.ScopeCols{District: district, Street: street}, n)
}

// areaCond is the view on risk_areas a joined to areas g.
func (v view) areaCond(n int) (string, []any) {
	return v.cond("a.district_code", streetOf, "g.geom", n)
}

// cellCond is the view on risk_cells c.
func (v view) cellCond(n int) (string, []any) {
	return v.cond("c.district_code", "c.street_code", "c.geom", n)
}

// levelView is newView and then filters: the view of a read of one level.
func (s *Service) levelView(ctx context.Context, p *grid.Principal, zone, level, district, street string) (view, string, error) {
	v, err := s.newView(ctx, p, zone)
	if err != nil {
		return v, "", err
	}
	level, err = s.filters(ctx, v, level, district, street)
	return v, level, err
}

// filters checks a query's level, district and street: a malformed code, one that names
// no loaded area and, outside a zone, one outside the caller's scope are the same
// BadInputError naming the parameter, so a filter cannot tell another street from a
// missing one.
func (s *Service) filters(ctx context.Context, v view, level, district, street string) (string, error) {
	if level == "" {
		level = LevelStreet
	}
	if !slices.Contains(AreaLevels(), level) {
		return "", Bad("level", "must be district, street or community")
	}
	check := func(field, code string, digits int) error {
		if code == "" {
			return nil
		}
		if len(code) != digits || strings.Trim(code, "0123456789") != "" {
			return Bad(field, fmt.Sprintf("must be a %d-digit %s code", digits, field))
		}
		missing := Bad(field, fmt.Sprintf("no %s has the code %s", field, code))
		if v.zone == "" {
			switch v.p.Role {
			case grid.RoleDistrict:
				if code[:6] != v.p.DistrictCode {
					return missing
				}
			case grid.RoleStreet:
				if code != v.p.StreetCode && !(field == LevelDistrict && strings.HasPrefix(v.p.StreetCode, code)) {
					return missing
				}
			}
		}
		var ok bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM areas WHERE code = $1 AND level = $2)`, code, field).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return missing
		}
		return nil
	}
	if err := check(LevelDistrict, district, 6); err != nil {
		return "", err
	}
	if err := check(LevelStreet, street, 9); err != nil {
		return "", err
	}
	if district != "" && street != "" && street[:6] != district {
		return "", Bad("street", fmt.Sprintf("street %s is not in district %s", street, district))
	}
	return level, nil
}

// areaCols are the columns scanned by scanArea: the area a, its name from areas g, the
// previous snapshot's row pa.
const areaCols = `a.code, coalesce(g.name, a.code), a.level, a.district_code, ` + streetOf + `, a.score,
    a.colour, a.score_colour, a.floor_colour, a.parts, a.counts, a.top, pa.score, pa.colour`

const areaFrom = ` FROM risk_areas a
LEFT JOIN areas g ON g.code = a.code
LEFT JOIN risk_areas pa ON pa.snapshot_id = $2::bigint AND pa.district_code = a.district_code AND pa.code = a.code
WHERE a.snapshot_id = $1 `

func scanArea(row pgx.Row) (AreaRow, error) {
	var (
		r                 AreaRow
		floor, prevColour *string
		parts, counts     []byte
		top               []byte
	)
	if err := row.Scan(&r.Code, &r.Name, &r.Level, &r.DistrictCode, &r.StreetCode, &r.Score, &r.Colour, &r.ScoreColour,
		&floor, &parts, &counts, &top, &r.PreviousScore, &prevColour); err != nil {
		return r, err
	}
	r.FloorColour, r.PreviousColour = colourPtr(floor), colourPtr(prevColour)
	r.Change = colourChange(r.PreviousColour, &r.Colour)
	var err error
	if r.Parts, err = decodeParts(parts); err != nil {
		return r, err
	}
	if r.Top, err = decodeTop(top); err != nil {
		return r, err
	}
	r.Counts = map[string]any{}
	if err := json.Unmarshal(counts, &r.Counts); err != nil {
		return r, fmt.Errorf("risk_areas %s counts: %w", r.Code, err)
	}
	return r, nil
}

func colourPtr(s *string) *Colour {
	if s == nil {
		return nil
	}
	c := Colour(*s)
	return &c
}

// colourChange is an area's change from one colour to the next (nil: not there).
func colourChange(from, to *Colour) string {
	switch {
	case from == nil:
		return ChangeNew
	case to == nil:
		return ChangeRemoved
	case to.Rank() > from.Rank():
		return ChangeUp
	case to.Rank() < from.Rank():
		return ChangeDown
	}
	return ChangeSame
}

// decodeParts reads a parts object, keeping its numbers (fire_minutes and the like are
// read apart).
func decodeParts(b []byte) (map[string]float64, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("risk parts: %w", err)
	}
	out := make(map[string]float64, len(raw))
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out, nil
}

func decodeTop(b []byte) ([]Contributor, error) {
	out := []Contributor{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("risk top contributors: %w", err)
	}
	if out == nil {
		out = []Contributor{}
	}
	return out, nil
}

// Areas lists the areas of q's level in the picked snapshot that the caller may see,
// ranked by score (highest first; ties by code), with the previous snapshot's score and
// colour.
func (s *Service) Areas(ctx context.Context, p *grid.Principal, q AreaQuery) (*AreaList, error) {
	v, level, err := s.levelView(ctx, p, q.Zone, q.Level, q.District, q.Street)
	if err != nil {
		return nil, err
	}
	cur, prev, err := s.PickSnapshot(ctx, q.pick(), "date")
	if err != nil {
		return nil, err
	}
	cond, cargs := v.areaCond(6)
	out := &AreaList{Snapshot: cur, Previous: prev, Level: level, Areas: []AreaRow{}}
	rows, err := s.db.Query(ctx, `SELECT `+areaCols+areaFrom+`AND a.level = $3
  AND ($4 = '' OR a.district_code = $4) AND ($5 = '' OR `+streetOf+` = $5) AND `+cond+`
ORDER BY a.score DESC, a.code`, append([]any{cur.ID, prevID(prev), level, q.District, q.Street}, cargs...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanArea(rows)
		if err != nil {
			return nil, err
		}
		out.Areas = append(out.Areas, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rank(out.Areas)
	return out, nil
}

// rank numbers rows sorted by score: equal scores share the rank of the first (1, 2, 2, 4).
func rank(rows []AreaRow) {
	for i := range rows {
		if i > 0 && rows[i].Score == rows[i-1].Score {
			rows[i].Rank = rows[i-1].Rank
		} else {
			rows[i].Rank = i + 1
		}
	}
}

func prevID(prev *SnapshotRef) *int64 {
	if prev == nil {
		return nil
	}
	return &prev.ID
}

// Area is one area's breakdown in the picked snapshot (q's level and filters are not
// used): its row, with rank among the areas of its level the caller may see, and its cells
// by colour. An area out of sight is a NotFoundError like a missing one.
func (s *Service) Area(ctx context.Context, p *grid.Principal, code string, q AreaQuery) (*AreaDetail, error) {
	v, err := s.newView(ctx, p, q.Zone)
	if err != nil {
		return nil, err
	}
	missing := &grid.NotFoundError{What: "area", Key: code}
	if n := len(code); (n != 6 && n != 9 && n != 12) || strings.Trim(code, "0123456789") != "" {
		return nil, missing
	}
	cur, prev, err := s.PickSnapshot(ctx, q.pick(), "date")
	if err != nil {
		return nil, err
	}
	cond, cargs := v.areaCond(4)
	r, err := scanArea(s.db.QueryRow(ctx, `SELECT `+areaCols+areaFrom+`AND a.district_code = left($3, 6) AND a.code = $3 AND `+cond,
		append([]any{cur.ID, prevID(prev), code}, cargs...)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, missing
	}
	if err != nil {
		return nil, err
	}
	// Its rank among the areas of its level in the same view: 1 + those scoring higher.
	if err := s.db.QueryRow(ctx, `SELECT 1 + count(*) FROM risk_areas a LEFT JOIN areas g ON g.code = a.code
WHERE a.snapshot_id = $1 AND a.level = $2 AND a.score > $3 AND `+cond, append([]any{cur.ID, r.Level, r.Score}, cargs...)...).Scan(&r.Rank); err != nil {
		return nil, err
	}
	out := &AreaDetail{Snapshot: cur, Previous: prev, AreaRow: r, Cells: map[Colour]int{}}
	for _, c := range Colours() {
		out.Cells[c] = 0
	}
	// The area's cells, in the view too: a street office asking for its street sees only
	// its street's cells, a zone member only the zone's.
	ccond, ccargs := v.cellCond(4)
	within := map[string]string{LevelDistrict: "$3::text IS NOT NULL", LevelStreet: "c.street_code = $3", LevelCommunity: "c.community_code = $3"}[r.Level]
	rows, err := s.db.Query(ctx, `SELECT c.colour, count(*) FROM risk_cells c
WHERE c.snapshot_id = $1 AND c.district_code = $2 AND `+within+` AND `+ccond+` GROUP BY 1`,
		append([]any{cur.ID, r.DistrictCode, code}, ccargs...)...)
	if err != nil {
		return nil, err
	}
	var (
		colour string
		n      int
	)
	if _, err := pgx.ForEachRow(rows, []any{&colour, &n}, func() error { out.Cells[Colour(colour)] = n; return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseCell reads an H3 cell of resolution 9, hexadecimal (as the map shows it) or
// decimal; anything else is a BadInputError on "h3".
func ParseCell(raw string) (int64, error) {
	bad := Bad("h3", fmt.Sprintf("must be a resolution-%d H3 cell, hexadecimal", geo.SupervisionRes))
	if raw == "" || len(raw) > 20 {
		return 0, bad
	}
	var c h3.Cell
	if strings.Trim(raw, "0123456789") == "" && len(raw) > 15 {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return 0, bad
		}
		c = h3.Cell(n)
	} else {
		n, err := strconv.ParseUint(raw, 16, 64)
		if err != nil {
			return 0, bad
		}
		c = h3.Cell(n)
	}
	if !c.IsValid() || c.Resolution() != geo.SupervisionRes {
		return 0, bad
	}
	return int64(c), nil
}

// Cell is one cell of the picked snapshot. A cell out of sight, or with no row in the
// snapshot, is a NotFoundError.
func (s *Service) Cell(ctx context.Context, p *grid.Principal, cell int64, q AreaQuery) (*CellDetail, error) {
	v, err := s.newView(ctx, p, q.Zone)
	if err != nil {
		return nil, err
	}
	cur, err := s.pickOne(ctx, q.pick(), "date")
	if err != nil {
		return nil, err
	}
	cond, cargs := v.cellCond(3)
	out := &CellDetail{Snapshot: cur, H3: h3.Cell(cell).String()}
	var (
		floor      *string
		parts, top []byte
	)
	err = s.db.QueryRow(ctx, `SELECT c.district_code, c.street_code, c.community_code, c.score, c.own, c.spill, c.colour,
    c.score_colour, c.floor_colour, c.parts, c.top
FROM risk_cells c WHERE c.snapshot_id = $1 AND c.h3 = $2 AND `+cond, append([]any{cur.ID, cell}, cargs...)...).
		Scan(&out.DistrictCode, &out.StreetCode, &out.CommunityCode, &out.Score, &out.Own, &out.Spill, &out.Colour,
			&out.ScoreColour, &floor, &parts, &top)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &grid.NotFoundError{What: "cell", Key: out.H3}
	}
	if err != nil {
		return nil, err
	}
	out.FloorColour = colourPtr(floor)
	if out.Parts, err = decodeParts(parts); err != nil {
		return nil, err
	}
	if m, ok := out.Parts["fire_minutes"]; ok {
		out.FireMinutes = &m
		delete(out.Parts, "fire_minutes")
	}
	if out.Top, err = decodeTop(top); err != nil {
		return nil, err
	}
	return out, nil
}

// Compare sets every area of q's level in either snapshot (the latest on or before From,
// and on or before To) beside each other, with the colour change and its reason.
func (s *Service) Compare(ctx context.Context, p *grid.Principal, q CompareQuery) (*Comparison, error) {
	v, level, err := s.levelView(ctx, p, q.Zone, q.Level, q.District, q.Street)
	if err != nil {
		return nil, err
	}
	if q.From == "" {
		return nil, Bad("from", "is required: a date, YYYY-MM-DD")
	}
	if q.To == "" {
		q.To = time.Now().In(grid.ShanghaiZone()).Format(time.DateOnly)
	}
	from, err := s.pickOne(ctx, Pick{Date: q.From}, "from")
	if err != nil {
		return nil, err
	}
	to, err := s.pickOne(ctx, Pick{Date: q.To}, "to")
	if err != nil {
		return nil, err
	}
	if q.From > q.To {
		return nil, Bad("from", fmt.Sprintf("must not be after to (%s)", q.To))
	}
	cond, cargs := v.areaCond(6)
	rows, err := s.db.Query(ctx, fmt.Sprintf(compareSQL, cond), append([]any{from.ID, to.ID, level, q.District, q.Street}, cargs...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &Comparison{From: from, To: to, Level: level, Changes: []AreaChange{}}
	for rows.Next() {
		c, err := scanChange(rows, level)
		if err != nil {
			return nil, err
		}
		out.Changes = append(out.Changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortChanges(out.Changes)
	return out, nil
}

// compareSQL is the union of both snapshots' rows of a level, each side read in the view:
// $1 from, $2 to, $3 the level, $4 and $5 the district and street filters, the view's
// condition (%s) from $6.
var compareSQL = `WITH pick AS (
    SELECT a.snapshot_id, a.code, a.district_code, a.score, a.colour, a.parts, a.top
    FROM risk_areas a LEFT JOIN areas g ON g.code = a.code
    WHERE a.snapshot_id IN ($1, $2) AND a.level = $3
      AND ($4 = '' OR a.district_code = $4) AND ($5 = '' OR ` + streetOf + ` = $5) AND %s
)
SELECT coalesce(t.code, f.code), coalesce(g.name, t.code, f.code), coalesce(t.district_code, f.district_code),
       f.score, f.colour, f.parts, f.top, t.score, t.colour, t.parts, t.top
FROM (SELECT * FROM pick WHERE snapshot_id = $1) f
FULL JOIN (SELECT * FROM pick WHERE snapshot_id = $2) t ON t.code = f.code
LEFT JOIN areas g ON g.code = coalesce(t.code, f.code)`

// scanChange reads one row of compareSQL: the change, its parts' deltas and its reason.
func scanChange(rows pgx.Rows, level string) (AreaChange, error) {
	var (
		c                          = AreaChange{Level: level}
		fc, tc                     *string
		fParts, fTop, tParts, tTop []byte
	)
	if err := rows.Scan(&c.Code, &c.Name, &c.DistrictCode, &c.FromScore, &fc, &fParts, &fTop, &c.ToScore, &tc, &tParts, &tTop); err != nil {
		return c, err
	}
	c.FromColour, c.ToColour = colourPtr(fc), colourPtr(tc)
	c.Change = colourChange(c.FromColour, c.ToColour)
	side := func(parts, top []byte) (map[string]float64, []Contributor, error) {
		if parts == nil { // not in this snapshot
			return map[string]float64{}, nil, nil
		}
		pm, err := decodeParts(parts)
		if err != nil {
			return nil, nil, err
		}
		tl, err := decodeTop(top)
		return pm, tl, err
	}
	fp, ft, err := side(fParts, fTop)
	if err != nil {
		return c, err
	}
	tp, tt, err := side(tParts, tTop)
	if err != nil {
		return c, err
	}
	c.PartsDelta = partsDelta(fp, tp)
	c.Reason = reason(c, ft, tt)
	return c, nil
}

// sortChanges puts colour rises first, the largest first, then by score change, then code.
func sortChanges(changes []AreaChange) {
	sort.SliceStable(changes, func(i, j int) bool {
		a, b := changes[i], changes[j]
		if da, db := colourDelta(a), colourDelta(b); da != db {
			return da > db
		}
		if sa, sb := scoreDelta(a), scoreDelta(b); sa != sb {
			return sa > sb
		}
		return a.Code < b.Code
	})
}

// colourDelta is the rise in colour rank (a new area counts from below blue, a removed
// one falls to it).
func colourDelta(c AreaChange) int {
	r := func(c *Colour) int {
		if c == nil {
			return -1
		}
		return c.Rank()
	}
	return r(c.ToColour) - r(c.FromColour)
}

func scoreDelta(c AreaChange) float64 {
	v := func(f *float64) float64 {
		if f == nil {
			return 0
		}
		return *f
	}
	return v(c.ToScore) - v(c.FromScore)
}

// partsDelta is to − from for every part in either, rounded to hundredths.
func partsDelta(from, to map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range to {
		out[k] = v
	}
	for k, v := range from {
		out[k] -= v
	}
	for k, v := range out {
		out[k] = math.Round(v*100) / 100
	}
	return out
}

// reasonParts is how many of the parts that changed most a reason names.
const reasonParts = 2

// reason explains a change in zh-CN: the colour change, then the parts that changed most
// (by at least 0.1 point), each with the top contributors of its kind that came or went:
// "由黄升为橙：危化品企业风险分 +42.0（新增 甲化工 重大 · 重大危险源）；隐患风险分 +5.0".
func reason(c AreaChange, fromTop, toTop []Contributor) string {
	var head string
	switch c.Change {
	case ChangeNew:
		head = fmt.Sprintf("新纳入评估，为%s", c.ToColour.Chinese())
	case ChangeRemoved:
		return fmt.Sprintf("本期未纳入评估（原为%s）", c.FromColour.Chinese())
	case ChangeUp:
		head = fmt.Sprintf("由%s升为%s", c.FromColour.Chinese(), c.ToColour.Chinese())
	case ChangeDown:
		head = fmt.Sprintf("由%s降为%s", c.FromColour.Chinese(), c.ToColour.Chinese())
	default:
		head = fmt.Sprintf("保持%s", c.ToColour.Chinese())
	}
	keys := make([]string, 0, len(c.PartsDelta))
	for k, d := range c.PartsDelta {
		if math.Abs(d) >= 0.1 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		di, dj := math.Abs(c.PartsDelta[keys[i]]), math.Abs(c.PartsDelta[keys[j]])
		if di != dj {
			return di > dj
		}
		return keys[i] < keys[j]
	})
	if len(keys) > reasonParts {
		keys = keys[:reasonParts]
	}
	key := func(t Contributor) string { return t.Kind + "\x00" + strconv.FormatInt(t.ID, 10) + "\x00" + t.Code }
	in := func(list []Contributor, t Contributor) bool {
		return slices.ContainsFunc(list, func(o Contributor) bool { return key(o) == key(t) })
	}
	var parts []string
	for _, k := range keys {
		var notes []string
		for _, t := range toTop {
			if kindParts[t.Kind] == k && !in(fromTop, t) {
				notes = append(notes, "新增 "+contributorText(t))
			}
		}
		for _, t := range fromTop {
			if kindParts[t.Kind] == k && !in(toTop, t) {
				notes = append(notes, "移除 "+contributorText(t))
			}
		}
		part := fmt.Sprintf("%s %+.1f", PartLabel(k), c.PartsDelta[k])
		if len(notes) > 0 {
			part += "（" + strings.Join(notes, "；") + "）"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		if c.Change == ChangeSame {
			return head + "，各项风险分无明显变化"
		}
		return head
	}
	return head + "：" + strings.Join(parts, "；")
}

// contributorText names a contributor: its name (or code) and what earned the points.
func contributorText(t Contributor) string {
	name := t.Name
	if name == "" {
		name = t.Code
	}
	if t.Detail != "" {
		return name + " " + t.Detail
	}
	return name
}
