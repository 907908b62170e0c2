package supervise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// cellCountKinds are the supervised kinds a cell counts, in display order.
var cellCountKinds = []string{"enterprises", "pipelines", "gas_occupancy_sites", "fire_stations", "fishing_ports", "underground_spaces"}

// CellSummary is one of an officer's cells with what it holds.
type CellSummary struct {
	Cell     h3.Cell
	UnitCode string
	UnitName string
	Counts   map[string]int // per kind of cellCountKinds
	// OpenHazards counts hazards not closed, per level (every level listed).
	OpenHazards map[string]int
}

// Points count by their cell; lines and areas (and sites or ports stored as points, whose
// h3_cells is their one cell) by every cell they touch.
const officerCellsSQL = `SELECT gc.h3, u.code, u.name,
	(SELECT count(*) FROM enterprises e WHERE e.h3 = gc.h3)::int,
	(SELECT count(*) FROM pipelines p WHERE p.h3_cells && ARRAY[gc.h3])::int,
	(SELECT count(*) FROM gas_occupancy_sites s WHERE s.h3_cells && ARRAY[gc.h3])::int,
	(SELECT count(*) FROM fire_stations f WHERE f.h3 = gc.h3)::int,
	(SELECT count(*) FROM fishing_ports f WHERE f.h3_cells && ARRAY[gc.h3])::int,
	(SELECT count(*) FROM underground_spaces g WHERE g.h3_cells && ARRAY[gc.h3])::int,
	(SELECT count(*) FROM hazards h WHERE h.h3 = gc.h3 AND h.status <> 'closed' AND h.level = '一般')::int,
	(SELECT count(*) FROM hazards h WHERE h.h3 = gc.h3 AND h.status <> 'closed' AND h.level = '重大')::int
FROM grid_cells gc JOIN grid_units u ON u.code = gc.unit_code
WHERE u.officer_id = $1
ORDER BY u.code, gc.h3`

// OfficerCellSummaries returns the cells of the officer's grid units with their counts.
func (s *Service) OfficerCellSummaries(ctx context.Context, userID int64) ([]CellSummary, error) {
	rows, err := s.db.Query(ctx, officerCellsSQL, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (CellSummary, error) {
		var c CellSummary
		var cell int64
		n := make([]int, len(cellCountKinds))
		var general, major int
		dest := []any{&cell, &c.UnitCode, &c.UnitName}
		for i := range n {
			dest = append(dest, &n[i])
		}
		dest = append(dest, &general, &major)
		if err := row.Scan(dest...); err != nil {
			return c, err
		}
		c.Cell = h3.Cell(cell)
		c.Counts = map[string]int{}
		for i, k := range cellCountKinds {
			c.Counts[k] = n[i]
		}
		c.OpenHazards = map[string]int{"一般": general, "重大": major}
		return c, nil
	})
}

// CellFeature is one supervised thing in or touching a cell, with its stored attributes.
type CellFeature struct {
	Kind       string          `json:"kind"`
	Code       string          `json:"code" doc:"USCC for enterprises, the code otherwise"`
	Name       *string         `json:"name"`
	Attributes map[string]any  `json:"attributes" doc:"the stored attributes of the feature"`
	Geometry   json.RawMessage `json:"geometry" doc:"GeoJSON geometry (WGS84)"`
}

// CellContents is everything in one cell.
type CellContents struct {
	Cell     string        `json:"cell" doc:"H3 cell, resolution 9, hex"`
	UnitCode *string       `json:"unit_code" doc:"the grid unit holding the cell, if any"`
	UnitName *string       `json:"unit_name"`
	Features []CellFeature `json:"features"`
	Hazards  []HazardItem  `json:"hazards" doc:"the cell's open hazards (not closed)"`
}

// attrsOmit are the columns that are not attributes: keys, indexes and geometry.
const attrsOmit = `'{id,geom,geom_m,h3,h3_cells,updated_at}'::text[]`

const cellFeaturesSQL = `SELECT 'enterprises', f.uscc, f.name, to_jsonb(f) - ` + attrsOmit + `, ST_AsGeoJSON(f.geom)::text FROM enterprises f WHERE f.h3 = $1
UNION ALL SELECT 'pipelines', f.code, f.name, to_jsonb(f) - ` + attrsOmit + `, ST_AsGeoJSON(f.geom)::text FROM pipelines f WHERE f.h3_cells && ARRAY[$1::bigint]
UNION ALL SELECT 'gas_occupancy_sites', f.code, f.occupant, to_jsonb(f) - ` + attrsOmit + `, ST_AsGeoJSON(f.geom)::text FROM gas_occupancy_sites f WHERE f.h3_cells && ARRAY[$1::bigint]
UNION ALL SELECT 'fire_stations', f.code, f.name, to_jsonb(f) - ` + attrsOmit + `, ST_AsGeoJSON(f.geom)::text FROM fire_stations f WHERE f.h3 = $1
UNION ALL SELECT 'fishing_ports', f.code, f.name, to_jsonb(f) - ` + attrsOmit + `, ST_AsGeoJSON(f.geom)::text FROM fishing_ports f WHERE f.h3_cells && ARRAY[$1::bigint]
UNION ALL SELECT 'underground_spaces', f.code, f.name, to_jsonb(f) - ` + attrsOmit + `, ST_AsGeoJSON(f.geom)::text FROM underground_spaces f WHERE f.h3_cells && ARRAY[$1::bigint]
ORDER BY 1, 2`

// ParseSupervisionCell reads a resolution-9 H3 cell in hex; anything else is an
// InvalidError naming field.
func ParseSupervisionCell(field, s string) (int64, error) {
	c, err := grid.ParseCell(s)
	if err != nil {
		return 0, &grid.InvalidError{Field: field, Reason: err.Error()}
	}
	if r := h3.Cell(c).Resolution(); r != geo.SupervisionRes {
		return 0, &grid.InvalidError{Field: field, Reason: fmt.Sprintf("a supervision cell has resolution %d, not %d", geo.SupervisionRes, r)}
	}
	return c, nil
}

// CellInScope refuses an officer a cell that is not one of theirs: it is not found, the
// same answer whether the cell is another officer's or no one's. Other roles pass: the
// route decides which roles see any cell.
func (s *Service) CellInScope(ctx context.Context, p *grid.Principal, cell int64) error {
	if p.Role != grid.RoleOfficer {
		return nil
	}
	ok, err := s.st.OfficerHasCell(ctx, p.UserID, cell)
	if err != nil {
		return err
	}
	if !ok {
		return &grid.NotFoundError{What: "cell", Key: h3.Cell(cell).String()}
	}
	return nil
}

// Cell returns everything in one cell and its open hazards. The three queries go in one
// batch: one round trip, and the connection is held once, not three times.
func (s *Service) Cell(ctx context.Context, cell int64) (*CellContents, error) {
	out := &CellContents{Cell: h3.Cell(cell).String(), Features: []CellFeature{}}
	b := &pgx.Batch{}
	b.Queue(`SELECT u.code, u.name FROM grid_cells gc JOIN grid_units u ON u.code = gc.unit_code WHERE gc.h3 = $1`, cell).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&out.UnitCode, &out.UnitName)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
	b.Queue(cellFeaturesSQL, cell).Query(func(rows pgx.Rows) error {
		var f CellFeature
		var geom string
		_, err := pgx.ForEachRow(rows, []any{&f.Kind, &f.Code, &f.Name, &f.Attributes, &geom}, func() error {
			f.Geometry = json.RawMessage(geom)
			out.Features = append(out.Features, f)
			f = CellFeature{}
			return nil
		})
		return err
	})
	b.Queue(hazardItemSQL+` WHERE h.h3 = $1 AND h.status <> 'closed' ORDER BY h.reported_at, h.id`, cell).
		Query(func(rows pgx.Rows) error {
			var err error
			out.Hazards, err = pgx.CollectRows(rows, scanHazardItem)
			return err
		})
	if err := s.db.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// DueInspection is an enterprise due for inspection.
type DueInspection struct {
	EnterpriseID  int64       `json:"enterprise_id"`
	USCC          string      `json:"uscc"`
	Name          string      `json:"name"`
	Industry      string      `json:"industry"`
	RiskLevel     string      `json:"risk_level"`
	Address       *string     `json:"address"`
	Cell          string      `json:"cell"`
	Every         string      `json:"every" enum:"month,quarter" doc:"重大/较大 risk monthly, others quarterly"`
	LastInspected *grid.Time  `json:"last_inspected_at" doc:"null when never inspected"`
	DueAt         *grid.Time  `json:"due_at" doc:"last inspection plus the interval; null when never inspected (due since forever)"`
	Location      LonLatPoint `json:"location"`
	// The walking order's distances (route.go), with a from position only.
	LegM        *float64 `json:"leg_m" doc:"with lon/lat: straight-line metres from the previous stop (the first: from the officer); null otherwise"`
	CumulativeM *float64 `json:"cumulative_m" doc:"with lon/lat: straight-line metres walked from the officer to this stop along the order; null otherwise"`
}

// dueSQL lists the officer's ($1) enterprises whose last inspection is older than their
// interval, never-inspected first, then the longest overdue; riskier first on ties.
const dueSQL = `WITH d AS (
	SELECT e.id, e.uscc, e.name, e.industry, e.risk_level, e.address, e.h3, e.geom, li.last,
		CASE WHEN e.risk_level IN ('重大', '较大') THEN 'month' ELSE 'quarter' END AS every,
		li.last + CASE WHEN e.risk_level IN ('重大', '较大') THEN interval '1 month' ELSE interval '3 months' END AS due_at
	FROM enterprises e
	LEFT JOIN LATERAL (SELECT max(i.inspected_at) AS last FROM inspections i
		WHERE i.district_code = e.district_code AND i.enterprise_id = e.id) li ON true
	WHERE ` + "e.h3 IN (SELECT c FROM officer_cells($1) AS c)" + `
)
SELECT id, uscc, name, industry, risk_level, address, h3_hex(h3), every, last, due_at, ST_X(geom), ST_Y(geom), count(*) OVER ()::int
FROM d WHERE due_at IS NULL OR due_at <= now()
ORDER BY due_at NULLS FIRST, array_position(ARRAY['重大', '较大', '一般', '低'], risk_level), uscc
LIMIT $2 OFFSET $3`

// InspectionsDue returns one page of the officer's enterprises due for inspection, and how
// many are due in all.
func (s *Service) InspectionsDue(ctx context.Context, userID int64, limit, offset int) ([]DueInspection, int, error) {
	items, total, err := s.dueRows(ctx, userID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	if len(items) == 0 && offset > 0 {
		// A page past the end has no row to carry the count.
		err = s.db.QueryRow(ctx, `SELECT count(*)::int FROM (`+strings.Replace(dueSQL, "LIMIT $2 OFFSET $3", "", 1)+`) x`, userID).Scan(&total)
	}
	return items, total, err
}

func (s *Service) dueRows(ctx context.Context, userID int64, limit, offset int) ([]DueInspection, int, error) {
	rows, err := s.db.Query(ctx, dueSQL, userID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	total := 0
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DueInspection, error) {
		var d DueInspection
		err := row.Scan(&d.EnterpriseID, &d.USCC, &d.Name, &d.Industry, &d.RiskLevel, &d.Address, &d.Cell,
			&d.Every, &d.LastInspected, &d.DueAt, &d.Location.Lon, &d.Location.Lat, &total)
		return d, err
	})
	return items, total, err
}

// CheckWalkStart validates where a walking order starts (the officer's position, as the
// query parameters lon and lat name it): both or neither, in Shanghai (grid.Store.
// CheckLocation). Neither is (nil, nil).
func (s *Service) CheckWalkStart(ctx context.Context, lon, lat *float64) (*orb.Point, error) {
	if lon == nil && lat == nil {
		return nil, nil
	}
	p, err := s.st.CheckLocation(ctx, lon, lat)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// InspectionsDueFrom is InspectionsDue in walking order from start (route.go): the whole
// due set is ordered, then paged, so pages never overlap or skip. Each item carries its
// leg from the previous stop and the distance walked so far, in straight-line metres.
// More than MaxRouteStops due enterprises are refused (an InvalidError on lon).
func (s *Service) InspectionsDueFrom(ctx context.Context, userID int64, start orb.Point, limit, offset int) ([]DueInspection, int, error) {
	all, total, err := s.dueRows(ctx, userID, MaxRouteStops+1, 0)
	if err != nil {
		return nil, 0, err
	}
	if total > MaxRouteStops {
		return nil, 0, &grid.InvalidError{Field: "lon", Reason: fmt.Sprintf(
			"a walking order covers at most %d due enterprises and %d are due: ask without lon and lat for the list by due date", MaxRouteStops, total)}
	}
	stops := make([]orb.Point, len(all))
	for i, d := range all {
		stops[i] = orb.Point{d.Location.Lon, d.Location.Lat}
	}
	ordered := make([]DueInspection, 0, len(all))
	at, walked := start, 0.0
	for _, i := range walkingOrder(start, stops) {
		d := all[i]
		leg := straightM(at, stops[i])
		walked += leg
		d.LegM, d.CumulativeM = roundTo(&leg, 1), roundTo(&walked, 1)
		ordered = append(ordered, d)
		at = stops[i]
	}
	if offset >= len(ordered) {
		return []DueInspection{}, total, nil
	}
	return ordered[offset:min(len(ordered), offset+max(limit, 0))], total, nil
}

// locationInScope refuses an officer a location outside their cells.
func (s *Service) locationInScope(ctx context.Context, p *grid.Principal, pt orb.Point) (int64, error) {
	cell := int64(geo.PointCell(pt, geo.SupervisionRes))
	if p.Role != grid.RoleOfficer {
		return cell, nil
	}
	ok, err := s.st.OfficerHasCell(ctx, p.UserID, cell)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("the location (%s, %s) is in cell %s, which is not in your grid units: %w",
			strconv.FormatFloat(pt[0], 'f', -1, 64), strconv.FormatFloat(pt[1], 'f', -1, 64), h3.Cell(cell), grid.ErrForbidden)
	}
	return cell, nil
}

// InspectionInput is an inspection 检查记录 as an officer records it.
type InspectionInput struct {
	Enterprise   string    `json:"enterprise" required:"true" maxLength:"64" doc:"USCC or numeric id of the enterprise"`
	InspectedAt  string    `json:"inspected_at,omitempty" maxLength:"64" doc:"RFC 3339, or YYYY-MM-DD HH:MM[:SS] in Shanghai time; default now"`
	Result       string    `json:"result" required:"true" enum:"passed,hazards_found,closed_down,not_found" maxLength:"32"`
	HazardsFound int       `json:"hazards_found,omitempty" minimum:"0" maximum:"10000"`
	Notes        string    `json:"notes,omitempty" maxLength:"2000"`
	Lon          *float64  `json:"lon" required:"true" doc:"WGS84 longitude where the inspection took place"`
	Lat          *float64  `json:"lat" required:"true" doc:"WGS84 latitude"`
	Position     *Position `json:"position,omitempty" doc:"the officer's phone (browser geolocation) for the check-in; without it the inspection is recorded unlocated"`
	Photos       []int64   `json:"photos,omitempty" minimum:"1" doc:"ids of your staged uploads (POST /api/v1/photos) to attach as the inspection's evidence, at most 9"`
}

// Inspection is a recorded inspection.
type Inspection struct {
	ID           int64        `json:"id"`
	EnterpriseID int64        `json:"enterprise_id"`
	USCC         string       `json:"uscc"`
	Name         string       `json:"name" doc:"the enterprise's name"`
	Officer      string       `json:"officer"`
	InspectedAt  grid.Time    `json:"inspected_at"`
	Result       string       `json:"result"`
	HazardsFound int          `json:"hazards_found"`
	Notes        *string      `json:"notes"`
	Cell         string       `json:"cell"`
	Location     LonLatPoint  `json:"location"`
	Checkin      Checkin      `json:"checkin"`
	Photos       []grid.Photo `json:"photos" doc:"the photos attached to the inspection"`
}

// parseInspectedAt reads RFC 3339, or a Shanghai local time as the importer accepts it.
func parseInspectedAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, grid.ShanghaiZone()); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339, or YYYY-MM-DD HH:MM[:SS] in Shanghai time)", s)
}

// recordInspectionSQL writes an inspection of enterprise ($1, $2) with its check-in: the
// phone at ($11, $12) with accuracy $13 (all NULL: unlocated), its geodesic distance to the
// enterprise, and the verdict under the limits $14 (metres away) and $15 (accuracy).
var recordInspectionSQL = `WITH c AS (
	SELECT x.p, ST_Distance(x.p::geography, e.geom::geography) AS d
	FROM (SELECT ST_SetSRID(ST_MakePoint($11::float8, $12::float8), 4326) AS p) x
	JOIN enterprises e ON e.district_code = $1 AND e.id = $2
)
INSERT INTO inspections AS i (district_code, enterprise_id, officer_id, inspected_at, result, hazards_found, notes, h3, geom,
	checkin_geom, checkin_accuracy_m, checkin_distance_m, checkin)
SELECT $1, $2, $3, coalesce($4, now()), $5, $6, $7, $8, ST_SetSRID(ST_MakePoint($9, $10), 4326),
	c.p, CASE WHEN c.p IS NOT NULL THEN $13::float8 END, c.d, ` + checkinVerdictSQL("c.d", "$13::float8", "$14::float8", "$15::float8") + `
FROM c
RETURNING i.id, i.inspected_at, i.result, i.hazards_found, i.notes, ST_X(i.geom), ST_Y(i.geom), ` + checkinColumnsSQL

// inspectionResults are the allowed results of an inspection.
var inspectionResults = []string{"passed", "hazards_found", "closed_down", "not_found"}

// RecordInspection writes an inspection by p (an officer, or an admin). The location and
// the enterprise must both be in an officer's cells (ErrForbidden for the location; an
// enterprise outside them is answered as one that does not exist).
func (s *Service) RecordInspection(ctx context.Context, p *grid.Principal, in InspectionInput) (*Inspection, error) {
	in.Enterprise = strings.TrimSpace(in.Enterprise)
	if in.Enterprise == "" {
		return nil, &grid.InvalidError{Field: "enterprise", Reason: "required: the USCC or id of the enterprise"}
	}
	if !slices.Contains(inspectionResults, in.Result) {
		return nil, &grid.InvalidError{Field: "result", Reason: fmt.Sprintf("%q is not one of %s", in.Result, strings.Join(inspectionResults, ", "))}
	}
	if in.HazardsFound < 0 {
		return nil, &grid.InvalidError{Field: "hazards_found", Reason: "must be 0 or more"}
	}
	if err := grid.CheckPhotoIDs(in.Photos); err != nil {
		return nil, err
	}
	var at *time.Time
	if strings.TrimSpace(in.InspectedAt) != "" {
		t, err := parseInspectedAt(strings.TrimSpace(in.InspectedAt))
		if err != nil {
			return nil, &grid.InvalidError{Field: "inspected_at", Reason: err.Error()}
		}
		if t.After(time.Now().Add(time.Hour)) {
			return nil, &grid.InvalidError{Field: "inspected_at", Reason: "is in the future"}
		}
		at = &t
	}
	pt, err := s.st.CheckLocation(ctx, in.Lon, in.Lat)
	if err != nil {
		return nil, err
	}
	if err := s.checkPosition(ctx, in.Position); err != nil {
		return nil, err
	}
	cell, err := s.locationInScope(ctx, p, pt)
	if err != nil {
		return nil, err
	}
	var district string
	var eid, eh3 int64
	var uscc, name string
	var street *string
	q := `SELECT district_code, id, uscc, name, h3, street_code FROM enterprises WHERE uscc = $1`
	var key any = in.Enterprise
	if id, err := strconv.ParseInt(in.Enterprise, 10, 64); err == nil && len(in.Enterprise) != 18 {
		q, key = `SELECT district_code, id, uscc, name, h3, street_code FROM enterprises WHERE id = $1`, id
	}
	// An enterprise outside the officer's cells is answered as one that does not exist:
	// the answer names only what the caller sent, never the enterprise's USCC.
	noEnterprise := &grid.InvalidError{Field: "enterprise", Reason: fmt.Sprintf("no enterprise %q", in.Enterprise)}
	err = s.db.QueryRow(ctx, q, key).Scan(&district, &eid, &uscc, &name, &eh3, &street)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, noEnterprise
	}
	if err != nil {
		return nil, err
	}
	if p.Role == grid.RoleOfficer {
		ok, err := s.st.OfficerHasCell(ctx, p.UserID, eh3)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, noEnterprise
		}
	}
	var notes *string
	if n := strings.TrimSpace(in.Notes); n != "" {
		notes = &n
	}
	var plon, plat, pacc *float64
	if in.Position != nil {
		plon, plat, pacc = in.Position.Lon, in.Position.Lat, in.Position.AccuracyM
	}
	lim := s.Checkin.orDefault()
	out := &Inspection{EnterpriseID: eid, USCC: uscc, Name: name, Officer: p.Username, Cell: h3.Cell(cell).String()}
	err = s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		var c checkinScan
		if err := tx.QueryRow(ctx, recordInspectionSQL,
			district, eid, p.UserID, at, in.Result, in.HazardsFound, notes, cell, pt[0], pt[1], plon, plat, pacc, lim.MaxDistanceM, lim.MaxAccuracyM).
			Scan(append([]any{&out.ID, &out.InspectedAt, &out.Result, &out.HazardsFound, &out.Notes, &out.Location.Lon, &out.Location.Lat}, c.dest()...)...); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return noEnterprise // removed since it was looked up
			}
			return err
		}
		if err := s.st.AttachPhotos(ctx, tx, p, in.Photos, grid.PhotoTarget{District: district, InspectionID: out.ID}); err != nil {
			return err
		}
		out.Checkin = c.value()
		details := map[string]any{"inspection": out.ID, "result": out.Result, "hazards_found": out.HazardsFound, "cell": out.Cell,
			"checkin": out.Checkin.Status}
		if out.Checkin.DistanceM != nil {
			details["checkin_distance_m"] = *out.Checkin.DistanceM
		}
		if len(in.Photos) > 0 {
			details["photos"] = in.Photos
		}
		if err := s.st.Record(ctx, tx, grid.AuditEntry{Actor: p.Actor(), Action: "inspection", Kind: grid.AuditEnterprise,
			Object: uscc, Street: exportText(street), Details: details}); err != nil {
			return err
		}
		out.Photos, err = s.st.InspectionPhotos(ctx, tx, district, out.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HazardReport is a hazard 隐患 as an officer reports it in the field.
type HazardReport struct {
	Level       string   `json:"level" required:"true" enum:"一般,重大,general,major" maxLength:"32" doc:"一般 or 重大 (general and major are taken for them)"`
	Category    string   `json:"category" required:"true" maxLength:"100"`
	Description string   `json:"description" required:"true" maxLength:"2000"`
	Lon         *float64 `json:"lon" required:"true" doc:"WGS84 longitude"`
	Lat         *float64 `json:"lat" required:"true" doc:"WGS84 latitude"`
	FeatureKind string   `json:"feature_kind,omitempty" enum:"enterprises,pipelines,gas_occupancy_sites,fire_stations,fishing_ports,underground_spaces" maxLength:"32"`
	FeatureCode string   `json:"feature_code,omitempty" maxLength:"64" doc:"USCC or code of the feature; with feature_kind"`
	Deadline    string   `json:"deadline,omitempty" format:"date" maxLength:"32" doc:"rectification deadline, YYYY-MM-DD"`
	Photos      []int64  `json:"photos,omitempty" minimum:"1" doc:"ids of your staged uploads (POST /api/v1/photos) to attach to the report, at most 9"`
}

// reportFeatureSQL finds a feature by its external key, per kind (a closed list), and
// tells whether it lies in the cells of the officer bound to $2 (0 for other roles): an
// officer ties a hazard only to a feature of their own cells, as they inspect only theirs.
var reportFeatureSQL = map[string]string{
	"enterprises":         reportFeatureQuery("enterprises", "uscc", grid.InOfficerCells("t.h3", 2)),
	"pipelines":           reportFeatureQuery("pipelines", "code", grid.OverlapsOfficerCells("t.h3_cells", 2)),
	"gas_occupancy_sites": reportFeatureQuery("gas_occupancy_sites", "code", grid.OverlapsOfficerCells("t.h3_cells", 2)),
	"fire_stations":       reportFeatureQuery("fire_stations", "code", grid.InOfficerCells("t.h3", 2)),
	"fishing_ports":       reportFeatureQuery("fishing_ports", "code", grid.OverlapsOfficerCells("t.h3_cells", 2)),
	"underground_spaces":  reportFeatureQuery("underground_spaces", "code", grid.OverlapsOfficerCells("t.h3_cells", 2)),
}

func reportFeatureQuery(table, key, inCells string) string {
	return fmt.Sprintf(`SELECT count(*) > 0, coalesce(bool_or($2::bigint = 0 OR %s), false) FROM %s t WHERE t.%s = $1`, inCells, pg.Ident(table), pg.Ident(key))
}

// checkHazardReport validates a report with the hazards kind's field definitions (the importer's
// rules), returning the stored values by field name.
func checkHazardReport(r HazardReport) (map[string]any, error) {
	k, _ := grid.KindByName("hazards")
	raw := map[string]any{"level": r.Level, "category": r.Category, "description": r.Description,
		"feature_kind": r.FeatureKind, "feature_code": r.FeatureCode, "deadline": r.Deadline}
	vals := map[string]any{}
	for _, name := range []string{"level", "category", "description", "feature_kind", "feature_code", "deadline"} {
		f := &k.Fields[k.FieldIndex(name)]
		v := raw[name]
		if strings.TrimSpace(v.(string)) == "" {
			if f.Required {
				return nil, &grid.InvalidError{Field: name, Reason: "required"}
			}
			vals[name] = nil
			continue
		}
		val, err := f.Convert(v)
		if err != nil {
			return nil, &grid.InvalidError{Field: name, Reason: err.Error()}
		}
		vals[name] = val
	}
	if d, ok := vals["deadline"].(time.Time); ok {
		if err := checkNewDeadline(d); err != nil {
			return nil, err
		}
	}
	if (vals["feature_kind"] == nil) != (vals["feature_code"] == nil) {
		field := "feature_code"
		if vals["feature_kind"] == nil {
			field = "feature_kind"
		}
		return nil, &grid.InvalidError{Field: field, Reason: "feature_kind and feature_code go together"}
	}
	return vals, nil
}

// ReportHazard records a new hazard at a location in p's scope: tagged with its areas and
// cell, status reported, its first history row and an audit record in one transaction.
// It returns the hazard as HazardDetailOf does (version and history included), read in
// that transaction.
func (s *Service) ReportHazard(ctx context.Context, p *grid.Principal, r HazardReport) (*HazardDetail, error) {
	vals, err := checkHazardReport(r)
	if err != nil {
		return nil, err
	}
	if err := grid.CheckPhotoIDs(r.Photos); err != nil {
		return nil, err
	}
	pt, err := s.st.CheckLocation(ctx, r.Lon, r.Lat)
	if err != nil {
		return nil, err
	}
	cell, err := s.locationInScope(ctx, p, pt)
	if err != nil {
		return nil, err
	}
	if kind, ok := vals["feature_kind"].(string); ok {
		officer := int64(0)
		if p.Role == grid.RoleOfficer {
			officer = p.UserID
		}
		var exists, inScope bool
		if err := s.db.QueryRow(ctx, reportFeatureSQL[kind], vals["feature_code"], officer).Scan(&exists, &inScope); err != nil {
			return nil, err
		}
		// Outside the officer's cells is answered as not there at all.
		if !exists || !inScope {
			return nil, &grid.InvalidError{Field: "feature_code", Reason: fmt.Sprintf("no %s with code %q", kind, vals["feature_code"])}
		}
	}
	var out *HazardDetail
	err = s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		var district, code string
		var street *string
		var id int64
		// A point in no district (areas not loaded) takes its grid cell's district.
		err := tx.QueryRow(ctx, `INSERT INTO hazards (district_code, level, category, description, feature_kind, feature_code,
	reporter, deadline, street_code, community_code, h3, geom)
SELECT coalesce(t.district_code, (SELECT gc.district_code FROM grid_cells gc WHERE gc.h3 = $8)),
	$1, $2, $3, $4, $5, $6, $7, t.street_code, t.community_code, $8, g.p
FROM (SELECT ST_SetSRID(ST_MakePoint($9, $10), 4326) AS p) g, LATERAL area_tag(g.p) t
RETURNING district_code, id, code, street_code`,
			vals["level"], vals["category"], vals["description"], vals["feature_kind"], vals["feature_code"],
			p.Actor(), vals["deadline"], cell, pt[0], pt[1]).Scan(&district, &id, &code, &street)
		if err != nil {
			return err
		}
		var historyID int64
		if err := tx.QueryRow(ctx, `INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, note)
VALUES ($1, $2, NULL, 'reported', $3, 'reported in the field') RETURNING id`, district, id, p.Actor()).Scan(&historyID); err != nil {
			return err
		}
		if err := s.st.AttachPhotos(ctx, tx, p, r.Photos, grid.PhotoTarget{District: district, HazardID: id,
			HistoryID: historyID, Step: HazardReported}); err != nil {
			return err
		}
		details := map[string]any{"id": id, "level": vals["level"], "category": vals["category"], "cell": h3.Cell(cell).String()}
		if len(r.Photos) > 0 {
			details["photos"] = r.Photos
		}
		if err := s.st.Record(ctx, tx, grid.AuditEntry{Actor: p.Actor(), Action: "hazard_report", Kind: grid.AuditHazard,
			Object: code, Street: exportText(street), Details: details}); err != nil {
			return err
		}
		out, err = s.hazardDetail(ctx, tx, p, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
