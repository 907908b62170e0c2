package risk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/geo"
	"safegrid/grid"
)

// The limits of a zone's definition.
const (
	MaxZoneAreas        = 200     // districts and streets listed
	MaxZoneGeometry     = 1 << 20 // bytes of the GeoJSON polygon
	MaxZoneVertices     = 20000   // vertices of the polygon
	MaxZoneName         = 100     // characters of the name
	zoneCodePatternText = `^[a-z0-9][a-z0-9_-]{0,39}$`
)

var zoneCodePattern = regexp.MustCompile(zoneCodePatternText)

// ZoneInput defines a joint-control zone: a name and either its areas (loaded district
// and street codes) or a GeoJSON Polygon or MultiPolygon inside Shanghai, whose areas are
// then the districts and streets it overlaps.
type ZoneInput struct {
	Name     string          `json:"name"`
	Areas    []string        `json:"areas,omitempty"`
	Geometry json.RawMessage `json:"geometry,omitempty"`
}

// PutZone creates or replaces the zone code (admins only). A refused definition is a
// BadInputError naming each field (code, name, areas, areas[i], geometry) and changes
// nothing. It reports whether the zone is new; the write is audited (risk_zone_put).
func (s *Service) PutZone(ctx context.Context, p *grid.Principal, code string, in ZoneInput) (Zone, bool, error) {
	if !p.HasRole(grid.RoleAdmin) {
		return Zone{}, false, fmt.Errorf("%w: only admins define joint-control zones", grid.ErrForbidden)
	}
	name, poly, err := s.checkZone(ctx, code, in)
	if err != nil {
		return Zone{}, false, err
	}
	var out Zone
	var created bool
	err = s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		var g any
		if poly != nil {
			t, err := geo.ToGeom(poly, 4326)
			if err != nil {
				return err
			}
			g = t
		}
		if err := tx.QueryRow(ctx, `INSERT INTO risk_zones AS z (code, name, geom, created_by) VALUES ($1, $2, ST_Multi($3::geometry), $4)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, geom = EXCLUDED.geom, updated_at = now()
RETURNING (xmax = 0)`, code, name, g, p.Actor()).Scan(&created); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM risk_zone_areas WHERE zone_code = $1`, code); err != nil {
			return err
		}
		areas := in.Areas
		if poly != nil {
			var err error
			if areas, err = overlapped(ctx, tx, code); err != nil {
				return err
			}
			if len(areas) == 0 {
				return Bad("geometry", "overlaps no loaded district or street")
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO risk_zone_areas (zone_code, area_code) SELECT $1, unnest($2::text[])`, code, areas); err != nil {
			return err
		}
		if err := s.st.Record(ctx, tx, grid.AuditEntry{Actor: p.Actor(), Action: "risk_zone_put", Kind: grid.AuditRiskZone, Object: code,
			Details: map[string]any{"name": name, "areas": areas, "polygon": poly != nil, "created": created}}); err != nil {
			return err
		}
		out, err = scanZone(tx.QueryRow(ctx, `SELECT `+zoneCols+` FROM risk_zones z WHERE z.code = $1`, code))
		return err
	})
	return out, created, err
}

// overlapped lists the districts and streets whose interior meets the polygon of zone code.
func overlapped(ctx context.Context, tx pgx.Tx, code string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT a.code FROM areas a, risk_zones z
 WHERE z.code = $1 AND a.level IN ('district', 'street') AND ST_Intersects(a.geom, z.geom)
   AND ST_Relate(a.geom, z.geom, 'T********') ORDER BY a.code`, code)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// checkZone validates a zone's definition, returning its trimmed name and its polygon
// (nil for a zone of areas).
func (s *Service) checkZone(ctx context.Context, code string, in ZoneInput) (string, orb.Geometry, error) {
	var bad badFields
	if !zoneCodePattern.MatchString(code) {
		bad.add("code", "must be 1 to 40 lower-case letters, digits, '-' or '_', starting with a letter or digit")
	}
	name, ok := trimmed(in.Name, MaxZoneName)
	switch {
	case !ok:
		bad.add("name", fmt.Sprintf("must be text of at most %d characters, without control characters", MaxZoneName))
	case name == "":
		bad.add("name", "is required")
	}
	hasGeom := len(bytes.TrimSpace(in.Geometry)) > 0 && !bytes.Equal(bytes.TrimSpace(in.Geometry), []byte("null"))
	var poly orb.Geometry
	switch {
	case hasGeom && in.Areas != nil:
		bad.add("geometry", "give either areas or a geometry, not both")
	case hasGeom:
		var reason string
		poly, reason = s.checkZoneGeometry(ctx, in.Geometry)
		if reason != "" {
			bad.add("geometry", reason)
		}
	default:
		if err := s.checkZoneAreas(ctx, in.Areas, &bad); err != nil {
			return "", nil, err
		}
	}
	return name, poly, bad.err()
}

func (s *Service) checkZoneAreas(ctx context.Context, areas []string, bad *badFields) error {
	switch {
	case len(areas) == 0:
		bad.add("areas", "list the zone's districts and streets, or give a geometry")
		return nil
	case len(areas) > MaxZoneAreas:
		bad.add("areas", fmt.Sprintf("must list at most %d districts and streets", MaxZoneAreas))
		return nil
	}
	seen := map[string]bool{}
	var wellFormed []string
	for i, a := range areas {
		field := fmt.Sprintf("areas[%d]", i)
		switch {
		case (len(a) != 6 && len(a) != 9) || strings.Trim(a, "0123456789") != "":
			bad.add(field, "must be a 6-digit district or 9-digit street code")
		case seen[a]:
			bad.add(field, fmt.Sprintf("%s is given twice", a))
		default:
			wellFormed = append(wellFormed, a)
		}
		seen[a] = true
	}
	rows, err := s.db.Query(ctx, `SELECT code FROM areas WHERE code = ANY($1::text[])`, wellFormed)
	if err != nil {
		return err
	}
	loaded, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, c := range loaded {
		have[c] = true
	}
	for i, a := range areas {
		if !have[a] && slices.Contains(wellFormed, a) {
			level := "district"
			if len(a) == 9 {
				level = "street"
			}
			bad.add(fmt.Sprintf("areas[%d]", i), fmt.Sprintf("no %s has the code %s", level, a))
		}
	}
	return nil
}

// checkZoneGeometry parses and checks a zone's polygon; the reason is "" when it is good.
func (s *Service) checkZoneGeometry(ctx context.Context, raw json.RawMessage) (orb.Geometry, string) {
	if len(raw) > MaxZoneGeometry {
		return nil, fmt.Sprintf("must be at most %d bytes of GeoJSON", MaxZoneGeometry)
	}
	g, err := geojson.UnmarshalGeometry(raw)
	if err != nil || g == nil || g.Geometry() == nil {
		return nil, "must be a GeoJSON Polygon or MultiPolygon geometry"
	}
	poly := g.Geometry()
	switch poly.(type) {
	case orb.Polygon, orb.MultiPolygon:
	default:
		return nil, fmt.Sprintf("must be a Polygon or MultiPolygon, not a %s", g.Type)
	}
	if n := vertices(poly); n > MaxZoneVertices {
		return nil, fmt.Sprintf("has %d vertices; at most %d", n, MaxZoneVertices)
	}
	if err := geo.ValidateGeometry(poly); err != nil {
		return nil, err.Error()
	}
	region, err := s.st.Region(ctx, grid.DefaultShoreToleranceM)
	if err != nil {
		return nil, "the districts could not be read to check it; try again"
	}
	if err := region.Check(poly); err != nil {
		return nil, "must lie inside Shanghai: " + err.Error()
	}
	return poly, ""
}

func vertices(g orb.Geometry) int {
	n := 0
	switch g := g.(type) {
	case orb.Polygon:
		for _, r := range g {
			n += len(r)
		}
	case orb.MultiPolygon:
		for _, p := range g {
			n += vertices(p)
		}
	}
	return n
}

// DeleteZone removes the zone code (admins only) with its areas; audited (risk_zone_delete).
func (s *Service) DeleteZone(ctx context.Context, p *grid.Principal, code string) error {
	if !p.HasRole(grid.RoleAdmin) {
		return fmt.Errorf("%w: only admins remove joint-control zones", grid.ErrForbidden)
	}
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `DELETE FROM risk_zones WHERE code = $1 RETURNING name`, code).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return &grid.NotFoundError{What: "zone", Key: code}
		}
		if err != nil {
			return err
		}
		return s.st.Record(ctx, tx, grid.AuditEntry{Actor: p.Actor(), Action: "risk_zone_delete", Kind: grid.AuditRiskZone, Object: code,
			Details: map[string]any{"name": name}})
	})
}

// MajorHazard is a major hazard installation 重大危险源 in a zone, with its open and
// overdue hazards and its risk: the enterprise's level and its cell's colour in the
// latest snapshot.
type MajorHazard struct {
	ID            int64   `json:"id"`
	USCC          string  `json:"uscc"`
	Name          string  `json:"name"`
	Industry      string  `json:"industry"`
	RiskLevel     string  `json:"risk_level" doc:"重大, 较大, 一般 or 低"`
	RiskColour    Colour  `json:"risk_colour" doc:"the colour of the risk level"`
	CellColour    *Colour `json:"cell_colour" doc:"its cell's colour in the latest snapshot; null before the first or for a cell without points"`
	DistrictCode  string  `json:"district_code"`
	StreetCode    *string `json:"street_code"`
	Lon           float64 `json:"lon"`
	Lat           float64 `json:"lat"`
	OpenHazards   int     `json:"open_hazards" doc:"tied to it (feature_kind enterprises) and neither verified nor closed"`
	OverdueOpen   int     `json:"overdue_hazards" doc:"of the open ones, those whose deadline is before today's Shanghai date"`
	MajorOverdue  int     `json:"major_overdue_hazards" doc:"of the overdue ones, the 重大 ones (the major_hazard_overdue rule's)"`
	OpenWarnings  int     `json:"open_warnings" doc:"its major_hazard_overdue warnings not closed"`
	CommunityCode *string `json:"community_code"`
}

const zoneMajorHazardsSQL = `WITH latest AS (SELECT max(id) AS id FROM risk_snapshots)
SELECT e.id, e.uscc, e.name, e.industry, e.risk_level, c.colour, e.district_code, e.street_code, ST_X(e.geom), ST_Y(e.geom),
       coalesce(h.open, 0), coalesce(h.overdue, 0), coalesce(h.major_overdue, 0),
       (SELECT count(*)::int FROM risk_warnings w WHERE w.district_code = e.district_code AND w.rule = 'major_hazard_overdue'
           AND w.status <> 'closed' AND w.figures->>'uscc' = e.uscc), e.community_code
  FROM enterprises e
  LEFT JOIN LATERAL (SELECT count(*)::int AS open, (count(*) FILTER (WHERE hz.deadline < $2::date))::int AS overdue,
        (count(*) FILTER (WHERE hz.deadline < $2::date AND hz.level = '重大'))::int AS major_overdue
        FROM hazards hz WHERE hz.feature_kind = 'enterprises' AND hz.feature_code = e.uscc
         AND hz.status NOT IN ('verified', 'closed')) h ON true
  LEFT JOIN risk_cells c ON c.snapshot_id = (SELECT id FROM latest) AND c.h3 = e.h3
 WHERE e.major_hazard AND `

// ZoneMajorHazards lists the major hazard installations in zone code for one of its
// members (a zone p is not a member of is a grid.NotFoundError), most overdue first.
func (s *Service) ZoneMajorHazards(ctx context.Context, p *grid.Principal, code string) ([]MajorHazard, error) {
	if err := warningReader(p); err != nil {
		return nil, err
	}
	if _, err := s.Zone(ctx, p, code); err != nil {
		return nil, err
	}
	today := time.Now().In(grid.ShanghaiZone()).Format(time.DateOnly)
	rows, err := s.db.Query(ctx, zoneMajorHazardsSQL+ZoneCond(ZoneCols{District: "e.district_code", Street: "e.street_code", Geom: "e.geom"}, 1)+
		` ORDER BY 13 DESC, 12 DESC, 11 DESC, e.name, e.id`, code, today)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []MajorHazard{}
	for rows.Next() {
		var m MajorHazard
		if err := rows.Scan(&m.ID, &m.USCC, &m.Name, &m.Industry, &m.RiskLevel, &m.CellColour, &m.DistrictCode, &m.StreetCode,
			&m.Lon, &m.Lat, &m.OpenHazards, &m.OverdueOpen, &m.MajorOverdue, &m.OpenWarnings, &m.CommunityCode); err != nil {
			return nil, err
		}
		m.RiskColour = LevelColour(m.RiskLevel)
		out = append(out, m)
	}
	return out, rows.Err()
}
