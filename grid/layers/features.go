// Package layers serves the supervised things as OGC API Features items and as Mapbox
// vector tiles, each read within the caller's scope.
package layers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// Collection is one feature collection served read-only over OGC API Features and as a
// vector tile layer: a feature kind of kinds.go, or hazards. Its fields come from the kind,
// so property names, filters and tile attributes are the import's names and nothing else.
type Collection struct {
	ID      string
	TitleZH string
	TitleEN string
	Kind    *grid.Kind
	// Cells is true when the table has h3_cells (lines and areas): an officer sees a row
	// when it touches one of their cells; otherwise (points) when its h3 is one of them.
	Cells bool
	// Aggregate is true for the big point tables, which tiles show as counts per H3
	// parent at low zooms.
	Aggregate bool
}

// Title is the collection's bilingual title, e.g. "生产经营单位 Enterprises".
func (c *Collection) Title() string { return c.TitleZH + " " + c.TitleEN }

// collections lists the feature collections, in the order the landing page shows them.
var collections = func() []*Collection {
	spec := []struct {
		id, zh, en       string
		cells, aggregate bool
	}{
		{"enterprises", "生产经营单位", "Enterprises", false, true},
		{"pipelines", "油气输送管道/燃气管线", "Oil and gas pipelines", true, false},
		{"gas_occupancy_sites", "燃气管道占压", "Gas pipe occupancy sites", true, false},
		{"fire_stations", "消防站", "Fire stations", false, false},
		{"fishing_ports", "渔港", "Fishing ports", true, false},
		{"underground_spaces", "地下空间", "Underground spaces", true, false},
		{"hazards", "隐患", "Hazards", false, true},
	}
	out := make([]*Collection, 0, len(spec))
	for _, s := range spec {
		k, ok := grid.KindByName(s.id)
		if !ok {
			panic("grid: no kind " + s.id)
		}
		out = append(out, &Collection{ID: s.id, TitleZH: s.zh, TitleEN: s.en, Kind: k, Cells: s.cells, Aggregate: s.aggregate})
	}
	return out
}()

// CollectionByID returns the collection called id, or a NotFoundError.
func CollectionByID(id string) (*Collection, error) {
	for _, c := range collections {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, &grid.NotFoundError{What: "collection", Key: id}
}

// Field returns the collection's field called name.
func (c *Collection) Field(name string) (grid.Field, bool) {
	i := slices.IndexFunc(c.Kind.Fields, func(f grid.Field) bool { return f.Name == name })
	if i < 0 {
		return grid.Field{}, false
	}
	return c.Kind.Fields[i], true
}

// extraProperties are the columns every feature carries besides its kind's fields.
var extraProperties = []string{"district_code", "street_code", "community_code", "cell", "updated_at"}

func (c *Collection) table() string { return pg.Ident(c.Kind.Table) }

// scope is the SQL condition on alias t that keeps the rows p may see, with the value it
// binds as $n (nil when it binds none).
func (c *Collection) scope(p *grid.Principal, n int) (string, []any) {
	switch {
	case p == nil:
		return "false", nil
	case p.Role == grid.RoleAdmin || p.Role == grid.RolePlanner:
		return "true", nil
	case p.Role == grid.RoleOfficer && c.Cells:
		return grid.OverlapsOfficerCells("t.h3_cells", n), []any{p.UserID}
	case p.Role == grid.RoleOfficer:
		return grid.InOfficerCells("t.h3", n), []any{p.UserID}
	case p.Role == grid.RoleStreet:
		return fmt.Sprintf("t.street_code = $%d", n), []any{p.StreetCode}
	default:
		return "false", nil
	}
}

// featureJSON is a GeoJSON Feature (RFC 7946: lon/lat, 7 decimals, about 1 cm) built by
// PostgreSQL from the row t; the id is the row id.
func (c *Collection) featureJSON() string {
	var b strings.Builder
	b.WriteString("json_build_object('type', 'Feature', 'id', t.id, 'geometry', ST_AsGeoJSON(t.geom, 7)::json, 'properties', json_build_object(")
	for i, f := range c.Kind.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "'%s', t.%s", f.Name, pg.Ident(f.Name))
	}
	b.WriteString(", 'district_code', t.district_code, 'street_code', t.street_code, 'community_code', t.community_code, 'cell', h3_hex(t.h3), 'updated_at', t.updated_at))")
	return b.String()
}

// FeatureQuery asks for one page of a collection.
type FeatureQuery struct {
	Principal *grid.Principal
	BBox      *[4]float64 // lon/lat min x, min y, max x, max y (CRS84)
	// Filters are property = value conditions on the collection's own fields; values are
	// checked and converted by ParseFilter.
	Filters []Filter
	Limit   int
	Offset  int
}

// Filter is one property = value condition.
type Filter struct {
	Field string
	Value any
}

// ParseFilter checks a property filter: name must be a field of c, and raw a value of its
// type (an enumeration accepts its aliases). The error is an InvalidError naming the field.
func (c *Collection) ParseFilter(name, raw string) (Filter, error) {
	f, ok := c.Field(name)
	if !ok {
		return Filter{}, &grid.InvalidError{Field: name, Reason: "is not a property of " + c.ID}
	}
	bad := func(what string) (Filter, error) {
		return Filter{}, &grid.InvalidError{Field: name, Reason: "must be " + what}
	}
	switch f.Type {
	case grid.Int:
		n, err := strconv.ParseInt(raw, 10, 32)
		if err != nil {
			return bad("an integer")
		}
		return Filter{name, n}, nil
	case grid.Float:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return bad("a number")
		}
		return Filter{name, x}, nil
	case grid.Bool:
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return bad("true or false")
		}
		return Filter{name, v}, nil
	case grid.Enum:
		if a, ok := f.Aliases[raw]; ok {
			raw = a
		}
		if !slices.Contains(f.Values, raw) {
			return bad("one of " + strings.Join(f.Values, ", "))
		}
	case grid.Timestamp:
		return Filter{}, &grid.InvalidError{Field: name, Reason: "timestamps cannot be filtered by equality"}
	}
	return Filter{name, raw}, nil
}

// where builds the WHERE clause of q on c, numbering parameters from 1.
func (c *Collection) where(q FeatureQuery) (string, []any) {
	cond, args := c.scope(q.Principal, 1)
	conds := []string{cond}
	if q.BBox != nil {
		b := q.BBox
		args = append(args, b[0], b[1], b[2], b[3])
		n := len(args)
		conds = append(conds, fmt.Sprintf("t.geom && ST_MakeEnvelope($%d, $%d, $%d, $%d, 4326)", n-3, n-2, n-1, n))
	}
	for _, f := range q.Filters {
		fd, ok := c.Field(f.Field)
		if !ok { // ParseFilter made the filter; this is a programming error
			panic("grid: filter on unknown field " + f.Field)
		}
		args = append(args, f.Value)
		col := "t." + pg.Ident(fd.Name)
		if fd.Type == grid.Date {
			col += "::text"
		}
		conds = append(conds, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	return strings.Join(conds, " AND "), args
}

// FeaturePage is one page of GeoJSON features and the number matching in all.
type FeaturePage struct {
	Features []string // each a GeoJSON Feature
	Matched  int64
}

// Features returns one page of c's features in the caller's scope, ordered by id.
func (s *Service) Features(ctx context.Context, c *Collection, q FeatureQuery) (FeaturePage, error) {
	where, args := c.where(q)
	var page FeaturePage
	if err := s.db.QueryRow(ctx, "SELECT count(*) FROM "+c.table()+" t WHERE "+where, args...).Scan(&page.Matched); err != nil {
		return page, err
	}
	n := len(args)
	sql := fmt.Sprintf("SELECT %s::text FROM %s t WHERE %s ORDER BY t.id LIMIT $%d OFFSET $%d",
		c.featureJSON(), c.table(), where, n+1, n+2)
	rows, err := s.db.Query(ctx, sql, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return page, err
	}
	page.Features, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return page, err
}

// Feature returns the feature of c with id, as GeoJSON. A feature outside the caller's
// scope is not found: an officer cannot tell another unit's features from missing ones.
func (s *Service) Feature(ctx context.Context, c *Collection, p *grid.Principal, id int64) (string, error) {
	cond, args := c.scope(p, 1)
	args = append(args, id)
	sql := fmt.Sprintf("SELECT %s::text FROM %s t WHERE t.id = $%d AND %s", c.featureJSON(), c.table(), len(args), cond)
	var out string
	err := s.db.QueryRow(ctx, sql, args...).Scan(&out)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", &grid.NotFoundError{What: "feature", Key: c.ID + "/" + strconv.FormatInt(id, 10)}
	}
	return out, err
}

// Extent returns the lon/lat bounding box of the features of c in p's scope; ok is false
// when there are none.
func (s *Service) Extent(ctx context.Context, c *Collection, p *grid.Principal) (box [4]float64, ok bool, err error) {
	cond, args := c.scope(p, 1)
	var x0, y0, x1, y1 *float64
	err = s.db.QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(t.geom) AS e FROM `+c.table()+` t WHERE `+cond+`) x`, args...).Scan(&x0, &y0, &x1, &y1)
	if err != nil || x0 == nil {
		return box, false, err
	}
	return [4]float64{*x0, *y0, *x1, *y1}, true, nil
}

// Service runs this package's queries on a store's pool. It holds no state of its own,
// so one per store is enough and it is safe for concurrent use.
type Service struct{ db *pgxpool.Pool }

// New returns the service over st.
func New(st *grid.Store) *Service { return &Service{db: st.DB(pg.Key{})} }

// Collections lists the feature collections, in the order the landing page shows them.
// Callers get a copy: the table itself is fixed.
func Collections() []*Collection { return slices.Clone(collections) }
