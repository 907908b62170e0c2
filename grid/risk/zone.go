package risk

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// Zone is a joint-control zone 联动联控区: a named set of districts and streets, or a
// polygon an admin loaded (then its areas are the districts and streets it overlaps).
// The users of its areas are its members: each sees the zone's shared picture (its risk
// map, red areas, major hazard installations and warnings) across the borders of their own
// scope; everything else stays scoped as before.
type Zone struct {
	Code       string    `json:"code"`
	Name       string    `json:"name"`
	Areas      []string  `json:"areas"` // district (6-digit) and street (9-digit) codes
	HasPolygon bool      `json:"has_polygon"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  grid.Time `json:"created_at"`
	UpdatedAt  grid.Time `json:"updated_at"`
}

// memberSQL is the condition that the caller is a member of zone z (alias of risk_zones):
// $1 the role, $2 the district code, $3 the street code. Admins and planners see every
// zone; a district bureau is a member when its district or one of its streets is in the
// zone; a street office when its street or its district is.
const memberSQL = `($1 IN ('admin', 'planner') OR EXISTS (
    SELECT 1 FROM risk_zone_areas za WHERE za.zone_code = z.code AND (
        ($1 = 'district' AND left(za.area_code, 6) = $2) OR
        ($1 = 'street' AND za.area_code IN ($3, left($3, 6))))))`

func memberArgs(p *grid.Principal) []any {
	if p == nil {
		return []any{"", "", ""}
	}
	return []any{p.Role, p.DistrictCode, p.StreetCode}
}

const zoneCols = `z.code, z.name, coalesce((SELECT array_agg(za.area_code ORDER BY za.area_code) FROM risk_zone_areas za WHERE za.zone_code = z.code), '{}'),
    z.geom IS NOT NULL, z.created_by, z.created_at, z.updated_at`

func scanZone(row pgx.Row) (Zone, error) {
	var z Zone
	err := row.Scan(&z.Code, &z.Name, &z.Areas, &z.HasPolygon, &z.CreatedBy, &z.CreatedAt, &z.UpdatedAt)
	return z, err
}

// Zones lists the zones p is a member of (every zone for admins and planners), by code.
func (s *Service) Zones(ctx context.Context, p *grid.Principal) ([]Zone, error) {
	rows, err := s.db.Query(ctx, `SELECT `+zoneCols+` FROM risk_zones z WHERE `+memberSQL+` ORDER BY z.code`, memberArgs(p)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Zone{}
	for rows.Next() {
		z, err := scanZone(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, z)
	}
	return out, rows.Err()
}

// Zone returns the zone code if p is one of its members; a zone p may not see answers
// exactly like one that does not exist (grid.NotFoundError).
func (s *Service) Zone(ctx context.Context, p *grid.Principal, code string) (Zone, error) {
	z, err := scanZone(s.db.QueryRow(ctx, `SELECT `+zoneCols+` FROM risk_zones z WHERE z.code = $4 AND `+memberSQL,
		append(memberArgs(p), code)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Zone{}, &grid.NotFoundError{What: "zone", Key: code}
	}
	return z, err
}

// ZoneCols names the columns (with their alias) of a row that ZoneCond reads. Geom is the
// row's geometry (EPSG:4326); when set and the zone has a polygon, the row is in the
// picture when it intersects the polygon, else when its district or street is one of the
// zone's areas.
type ZoneCols struct {
	District string // district_code
	Street   string // street_code (may be empty: then districts only)
	Geom     string // geometry, for polygon zones (may be empty: then by areas)
}

// ZoneCond is the SQL condition that a row is in the picture of the zone whose code is
// bound as $n. Check membership with Zone first: the condition does not.
func ZoneCond(c ZoneCols, n int) string {
	byArea := fmt.Sprintf("za.area_code = %s", c.District)
	if c.Street != "" {
		byArea = fmt.Sprintf("za.area_code IN (%s, %s)", c.District, c.Street)
	}
	cond := fmt.Sprintf("EXISTS (SELECT 1 FROM risk_zone_areas za WHERE za.zone_code = $%d AND %s)", n, byArea)
	if c.Geom == "" {
		return cond
	}
	return fmt.Sprintf(`(CASE WHEN (SELECT zg.geom IS NULL FROM risk_zones zg WHERE zg.code = $%[1]d) THEN %[2]s
    ELSE EXISTS (SELECT 1 FROM risk_zones zg WHERE zg.code = $%[1]d AND ST_Intersects(zg.geom, %[3]s)) END)`, n, cond, c.Geom)
}
