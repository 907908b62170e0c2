// Package layers serves the supervised things as OGC API Features items and as Mapbox
// vector tiles, each read within the caller's scope.
package layers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
	"safegrid/internal/cql2"
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

// scope is the SQL condition on alias t that keeps the rows p may see (grid.Scope), with
// the value it binds as $n (nil when it binds none).
func (c *Collection) scope(p *grid.Principal, n int) (string, []any) {
	cols := grid.ScopeCols{District: "t.district_code", Street: "t.street_code", Cell: "t.h3"}
	if c.Cells {
		cols.Cells = "t.h3_cells"
	}
	return grid.Scope(p, cols, n)
}

// featureJSON is a GeoJSON Feature built by PostgreSQL from the row t; the id is the row
// id. In CRS84 it is RFC 7946 GeoJSON (lon/lat, 7 decimals, about 1 cm); in another CRS
// the coordinates are transformed by PostGIS, in that CRS's axis order, with 7 decimals
// for degrees and 3 (millimetres) for metres; the SRID is bound as $srid. Timestamps are
// written by grid.TimeSQL (RFC 3339 UTC milliseconds). props are the properties written,
// nil for all.
func (c *Collection) featureJSON(crs *CRS, srid int, props []string) string {
	var b strings.Builder
	b.WriteString("json_build_object('type', 'Feature', 'id', t.id, 'geometry', ")
	switch {
	case crs == nil || crs == CRS84:
		b.WriteString("ST_AsGeoJSON(t.geom, 7)::json")
	case crs.LatFirst:
		fmt.Fprintf(&b, "ST_AsGeoJSON(ST_FlipCoordinates(ST_Transform(t.geom, $%d::int)), %d, 0)::json", srid, crs.Decimals)
	default:
		fmt.Fprintf(&b, "ST_AsGeoJSON(ST_Transform(t.geom, $%d::int), %d, 0)::json", srid, crs.Decimals)
	}
	b.WriteString(", 'properties', json_build_object(")
	if props == nil {
		props = c.propertyNames()
	}
	for i, name := range props {
		if i > 0 {
			b.WriteString(", ")
		}
		col := "t." + pg.Ident(name)
		if f, ok := c.Field(name); name == "updated_at" || ok && f.Type == grid.Timestamp {
			col = grid.TimeSQL(col) // RFC 3339 UTC milliseconds, which QGIS and GDAL read as a DateTime
		} else if name == "cell" {
			col = "h3_hex(t.h3)"
		}
		fmt.Fprintf(&b, "'%s', %s", name, col)
	}
	b.WriteString("))")
	return b.String()
}

// FeatureQuery asks for one page of a collection.
type FeatureQuery struct {
	Principal *grid.Principal
	// BBox is min x, min y, max x, max y in BBoxCRS's axis order (nil: CRS84, lon/lat):
	// the features whose bounding box meets it.
	BBox    *[4]float64
	BBoxCRS *CRS
	// Filters are property = value conditions on the collection's own fields; values are
	// checked and converted by ParseFilter.
	Filters []Filter
	// Filter is a CQL2 filter (nil: none), its geometries in FilterCRS (nil: CRS84).
	Filter    cql2.Expr
	FilterCRS *CRS
	// CRS is the CRS of the geometries written (nil: CRS84).
	CRS *CRS
	// SortBy orders the features before paging; the id breaks ties, so pages are stable.
	SortBy []SortKey
	// Properties are the properties written (nil: all).
	Properties []string
	Limit      int
	Offset     int
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
		if f.Min != nil && float64(n) < *f.Min {
			return bad("an integer of at least " + strconv.FormatFloat(*f.Min, 'f', -1, 64))
		}
		return Filter{name, n}, nil
	case grid.Float:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return bad("a number")
		}
		// A value no row can hold is a mistake in the request, not an empty answer.
		if f.Min != nil && x < *f.Min {
			return bad("a number of at least " + strconv.FormatFloat(*f.Min, 'f', -1, 64))
		}
		return Filter{name, x}, nil
	case grid.Bool:
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return bad("true or false")
		}
		return Filter{name, v}, nil
	case grid.Date:
		if _, err := time.Parse(time.DateOnly, raw); err != nil {
			return bad("a date, YYYY-MM-DD")
		}
	case grid.Enum:
		if a, ok := f.Aliases[raw]; ok {
			raw = a
		}
		if !slices.Contains(f.Values, raw) {
			return bad("one of " + strings.Join(f.Values, ", "))
		}
	case grid.Timestamp:
		return Filter{}, &grid.InvalidError{Field: name, Reason: "timestamps cannot be filtered by equality (use filter=, CQL2)"}
	case grid.USCC, grid.AreaCode:
		// The importer's own check: a code no row can hold is refused, not matched.
		v, err := f.Convert(raw)
		if err != nil {
			return Filter{}, &grid.InvalidError{Field: name, Reason: err.Error()}
		}
		return Filter{name, v}, nil
	}
	return Filter{name, raw}, nil
}

// where builds the WHERE clause of q on c, numbering parameters from 1: the caller's
// scope first, then the bbox, the property filters and the CQL2 filter. Geometries in
// another CRS than CRS84 are transformed (and checked) by the database first.
func (s *Service) where(ctx context.Context, c *Collection, q FeatureQuery) (string, []any, error) {
	cond, args := c.scope(q.Principal, 1)
	conds := []string{cond}
	if q.BBox != nil {
		b := q.BBox
		if q.BBoxCRS == nil || q.BBoxCRS == CRS84 {
			args = append(args, b[0], b[1], b[2], b[3])
			n := len(args)
			conds = append(conds, fmt.Sprintf("t.geom && ST_MakeEnvelope($%d, $%d, $%d, $%d, 4326)", n-3, n-2, n-1, n))
		} else {
			env, err := s.toStorage(ctx, orb.Bound{Min: orb.Point{b[0], b[1]}, Max: orb.Point{b[2], b[3]}}.ToPolygon(), q.BBoxCRS, "bbox", nil)
			if err != nil {
				return "", nil, err
			}
			args = append(args, env)
			conds = append(conds, fmt.Sprintf("t.geom && ST_Envelope(ST_GeomFromWKB($%d, 4326))", len(args)))
		}
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
	if q.Filter != nil {
		var lits []*cql2.Geometry
		geometryLiterals(q.Filter, &lits)
		b := &compiler{c: c, args: args, geoms: map[cql2.Expr][]byte{}}
		for _, g := range lits {
			w, err := s.toStorage(ctx, g.Geom, q.FilterCRS, "filter", g)
			if err != nil {
				return "", nil, err
			}
			b.geoms[g] = w
		}
		sql, err := b.expr(q.Filter)
		if err != nil {
			return "", nil, err
		}
		conds, args = append(conds, sql), b.args
	}
	return strings.Join(conds, " AND "), args, nil
}

// orderBy is the ORDER BY of keys, binding after args: an enumeration sorts in the order
// of its values (重大 before 较大), anything else as PostgreSQL compares it; empty values
// last either way; the id breaks ties.
func (c *Collection) orderBy(keys []SortKey, args []any) (string, []any) {
	var parts []string
	for _, k := range keys {
		q, ok := c.Queryable(k.Property)
		if !ok || q.Geometry { // ParseSortBy made the keys
			panic("grid: sort on " + k.Property)
		}
		col := q.column
		if q.Type == grid.Enum {
			args = append(args, q.Values)
			col = fmt.Sprintf("array_position($%d::text[], %s)", len(args), col)
		}
		dir := " ASC"
		if k.Desc {
			dir = " DESC"
		}
		parts = append(parts, col+dir+" NULLS LAST")
	}
	return strings.Join(append(parts, "t.id"), ", "), args
}

// FeaturePage is one page of GeoJSON features and the number matching in all.
type FeaturePage struct {
	Features []string // each a GeoJSON Feature
	Matched  int64
}

// Features returns one page of c's features in the caller's scope, in q's order (by id
// when it has none). A filter, bbox or sort that cannot be used is an InvalidError.
// Matched is counted by a second query only when the page does not show it: a page
// shorter than the limit is the last, so offset plus its length is the count.
func (s *Service) Features(ctx context.Context, c *Collection, q FeatureQuery) (FeaturePage, error) {
	var page FeaturePage
	where, args, err := s.where(ctx, c, q)
	if err != nil {
		return page, err
	}
	order, pageArgs := c.orderBy(q.SortBy, slices.Clone(args))
	if q.CRS != nil && q.CRS != CRS84 {
		pageArgs = append(pageArgs, q.CRS.SRID)
	}
	n := len(pageArgs)
	sql := fmt.Sprintf("SELECT %s::text FROM %s t WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d",
		c.featureJSON(q.CRS, n, q.Properties), c.table(), where, order, n+1, n+2)
	// Planned for each request's values (an unnamed statement): a statement cached by the
	// pool gets a generic plan after five runs, and a generic plan cannot know whether a
	// filter's polygon covers a street or half the city (for Pudong it walked 471,000
	// rows through the GiST index instead of ANDing it with the risk-level index).
	rows, err := s.db.Query(ctx, sql, append([]any{pgx.QueryExecModeDescribeExec}, append(pageArgs, q.Limit, q.Offset)...)...)
	if err != nil {
		return page, err
	}
	if page.Features, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return page, err
	}
	if q.Limit > 0 && len(page.Features) < q.Limit && (len(page.Features) > 0 || q.Offset == 0) {
		page.Matched = int64(q.Offset + len(page.Features))
		return page, nil
	}
	err = s.db.QueryRow(ctx, "SELECT count(*) FROM "+c.table()+" t WHERE "+where, append([]any{pgx.QueryExecModeDescribeExec}, args...)...).Scan(&page.Matched)
	return page, err
}

// Feature returns the feature of c with id, as GeoJSON. A feature outside the caller's
// scope is not found: an officer cannot tell another unit's features from missing ones.
// crs is the CRS of the geometry written (nil: CRS84), props the properties (nil: all).
func (s *Service) Feature(ctx context.Context, c *Collection, p *grid.Principal, id int64, crs *CRS, props []string) (string, error) {
	cond, args := c.scope(p, 1)
	args = append(args, id)
	idArg := len(args)
	if crs != nil && crs != CRS84 {
		args = append(args, crs.SRID)
	}
	sql := fmt.Sprintf("SELECT %s::text FROM %s t WHERE t.id = $%d AND %s", c.featureJSON(crs, len(args), props), c.table(), idArg, cond)
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
