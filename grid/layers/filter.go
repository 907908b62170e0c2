package layers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
	"safegrid/internal/cql2"
)

// OGC API Features Part 3 filters: a CQL2 syntax tree (internal/cql2) compiled to a SQL
// condition on the row t. Every property is looked up in the collection's queryables and
// becomes the column the code names for it; every literal is a bound parameter of the
// queryable's type; a geometry literal is validated and transformed to EPSG:4326 by
// PostGIS first, so the test on t.geom can use its GiST index.

// GeometryQueryable is the name of the geometry in queryables and filters.
const GeometryQueryable = "geom"

// Queryable is a property that items can be filtered and sorted by: a field of the
// collection's kind, or a column every row has (id, the area codes, updated_at), or the
// geometry.
type Queryable struct {
	Name     string
	Type     grid.FieldType
	Values   []string          // of an enumeration, in their order (sorting follows it)
	Aliases  map[string]string // other spellings of Values an equality accepts
	Min      *float64
	Doc      string
	Geometry bool
	Geoms    []grid.GeomType // of the geometry
	column   string          // the SQL expression on t
}

// Queryables lists the properties of c that filter and sort, geometry first.
func (c *Collection) Queryables() []Queryable {
	out := []Queryable{
		{Name: GeometryQueryable, Geometry: true, Geoms: c.Kind.Geoms, Doc: "the feature's geometry", column: "t.geom"},
		{Name: "id", Type: grid.Int, Doc: "the feature's id (the row id)", column: "t.id"},
	}
	for _, f := range c.Kind.Fields {
		out = append(out, Queryable{Name: f.Name, Type: f.Type, Values: f.Values, Aliases: f.Aliases, Min: f.Min, Doc: f.Doc,
			column: "t." + pg.Ident(f.Name)})
	}
	return append(out,
		Queryable{Name: "district_code", Type: grid.AreaCode, Doc: "区 district code (6 digits)", column: "t.district_code"},
		Queryable{Name: "street_code", Type: grid.AreaCode, Doc: "街道/镇 street code (9 digits)", column: "t.street_code"},
		Queryable{Name: "community_code", Type: grid.AreaCode, Doc: "居委/村 community code (12 digits)", column: "t.community_code"},
		Queryable{Name: "updated_at", Type: grid.Timestamp, Doc: "when the row was last written", column: "t.updated_at"},
	)
}

// Queryable returns c's queryable called name.
func (c *Collection) Queryable(name string) (Queryable, bool) {
	qs := c.Queryables()
	i := slices.IndexFunc(qs, func(q Queryable) bool { return q.Name == name })
	if i < 0 {
		return Queryable{}, false
	}
	return qs[i], true
}

// SortKey is one key of sortby: a queryable, ascending unless Desc.
type SortKey struct {
	Property string
	Desc     bool
}

// ParseSortBy reads sortby: comma-separated queryables, each with an optional + or -
// (descending). The geometry cannot sort. The error is an InvalidError on sortby.
func (c *Collection) ParseSortBy(raw string) ([]SortKey, error) {
	var out []SortKey
	for _, part := range strings.Split(raw, ",") {
		k := SortKey{Property: strings.TrimSpace(part)}
		switch {
		case strings.HasPrefix(k.Property, "-"):
			k.Desc, k.Property = true, k.Property[1:]
		case strings.HasPrefix(k.Property, "+"):
			k.Property = k.Property[1:]
		}
		q, ok := c.Queryable(k.Property)
		switch {
		case k.Property == "":
			return nil, &grid.InvalidError{Field: "sortby", Reason: "has an empty key"}
		case !ok:
			return nil, &grid.InvalidError{Field: "sortby", Reason: fmt.Sprintf("%q is not a queryable of %s", k.Property, c.ID)}
		case q.Geometry:
			return nil, &grid.InvalidError{Field: "sortby", Reason: "the geometry cannot sort"}
		case slices.ContainsFunc(out, func(o SortKey) bool { return o.Property == k.Property }):
			return nil, &grid.InvalidError{Field: "sortby", Reason: fmt.Sprintf("%q is given twice", k.Property)}
		}
		out = append(out, k)
	}
	return out, nil
}

// ParseProperties reads properties: the comma-separated properties items should carry
// (any of the collection's fields and the columns every feature carries). The id and the
// geometry are always there.
func (c *Collection) ParseProperties(raw string) ([]string, error) {
	all := c.propertyNames()
	var out []string
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(all, p) {
			return nil, &grid.InvalidError{Field: "properties", Reason: fmt.Sprintf("%q is not a property of %s", p, c.ID)}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// propertyNames are the properties of c's features, in the order they are written.
func (c *Collection) propertyNames() []string {
	return append(c.Kind.FieldNames(), extraProperties...)
}

// compiler turns one filter into SQL, binding its values after those bound before.
type compiler struct {
	c     *Collection
	args  []any
	geoms map[cql2.Expr][]byte // geometry literals as WKB in EPSG:4326
}

func (b *compiler) bind(v any, cast string) string {
	b.args = append(b.args, v)
	return fmt.Sprintf("$%d%s", len(b.args), cast)
}

// filterError is the InvalidError on filter for node e: "at position 12: ...".
func filterError(e cql2.Expr, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if e != nil && e.Pos() >= 0 {
		msg = fmt.Sprintf("at position %d: %s", e.Pos(), msg)
	}
	return &grid.InvalidError{Field: "filter", Reason: msg}
}

func (b *compiler) expr(e cql2.Expr) (string, error) {
	switch n := e.(type) {
	case *cql2.And:
		return b.join(n.Args, " AND ")
	case *cql2.Or:
		return b.join(n.Args, " OR ")
	case *cql2.Not:
		s, err := b.expr(n.Arg)
		return "NOT (" + s + ")", err
	case *cql2.Compare:
		return b.compare(n)
	case *cql2.Like:
		q, err := b.property(n.Value, "LIKE")
		if err != nil {
			return "", err
		}
		if !isText(q.Type) {
			return "", filterError(n, "LIKE needs a text property; %s is %s", q.Name, typeName(q))
		}
		pat, ok := n.Pattern.(*cql2.String)
		if !ok {
			return "", filterError(n.Pattern, "the pattern of LIKE must be a string")
		}
		if escapeAtEnd(pat.Value) {
			return "", filterError(n.Pattern, `the pattern of LIKE ends with the escape character \; write \\ for a backslash`)
		}
		return q.column + not(n.Not) + " LIKE " + b.bind(pat.Value, "::text"), nil
	case *cql2.Between:
		q, err := b.property(n.Value, "BETWEEN")
		if err != nil {
			return "", err
		}
		if q.Type != grid.Int && q.Type != grid.Float && q.Type != grid.Date && q.Type != grid.Timestamp {
			return "", filterError(n, "BETWEEN needs a number, date or timestamp property; %s is %s", q.Name, typeName(q))
		}
		lo, err := b.literal(q, n.Low)
		if err != nil {
			return "", err
		}
		hi, err := b.literal(q, n.High)
		if err != nil {
			return "", err
		}
		return q.column + not(n.Not) + " BETWEEN " + lo + " AND " + hi, nil
	case *cql2.In:
		q, err := b.property(n.Value, "IN")
		if err != nil {
			return "", err
		}
		if q.Geometry {
			return "", filterError(n, "IN needs a property that is not the geometry")
		}
		items := make([]string, len(n.List))
		for i, v := range n.List {
			if items[i], err = b.literal(q, v); err != nil {
				return "", err
			}
		}
		return q.column + not(n.Not) + " IN (" + strings.Join(items, ", ") + ")", nil
	case *cql2.IsNull:
		q, err := b.property(n.Value, "IS NULL")
		if err != nil {
			return "", err
		}
		if n.Not {
			return q.column + " IS NOT NULL", nil
		}
		return q.column + " IS NULL", nil
	case *cql2.Spatial:
		return b.spatial(n)
	}
	return "", filterError(e, "%s is not a condition", cql2.Format(e))
}

// escapeAtEnd reports whether a LIKE pattern ends with an unpaired escape character (\),
// which PostgreSQL refuses only once a row's text reaches it.
func escapeAtEnd(pat string) bool {
	n := len(pat) - len(strings.TrimRight(pat, `\`))
	return n%2 == 1
}

func not(n bool) string {
	if n {
		return " NOT"
	}
	return ""
}

func (b *compiler) join(args []cql2.Expr, op string) (string, error) {
	parts := make([]string, len(args))
	for i, a := range args {
		s, err := b.expr(a)
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	return "(" + strings.Join(parts, op) + ")", nil
}

// property is the queryable e names; what says which operator wants it.
func (b *compiler) property(e cql2.Expr, what string) (Queryable, error) {
	p, ok := e.(*cql2.Property)
	if !ok {
		return Queryable{}, filterError(e, "%s needs a property on its left, not %s", what, cql2.Format(e))
	}
	q, ok := b.c.Queryable(p.Name)
	if !ok {
		return Queryable{}, filterError(e, "%q is not a queryable of %s (see /collections/%s/queryables)", p.Name, b.c.ID, b.c.ID)
	}
	return q, nil
}

var flipped = map[string]string{"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

func (b *compiler) compare(n *cql2.Compare) (string, error) {
	left, right, op := n.Left, n.Right, n.Op
	if _, ok := left.(*cql2.Property); !ok {
		if _, ok := right.(*cql2.Property); ok { // 10 < employees: employees > 10
			left, right, op = right, left, flipped[op]
		}
	}
	q, err := b.property(left, "a comparison")
	if err != nil {
		return "", err
	}
	if q.Geometry {
		return "", filterError(n, "the geometry is compared with S_INTERSECTS and the other spatial functions")
	}
	if q.Type == grid.Enum && op != "=" && op != "<>" {
		return "", filterError(n, "%s is an enumeration (%s): compare it with =, <> or IN", q.Name, strings.Join(q.Values, ", "))
	}
	if q.Type == grid.Bool && op != "=" && op != "<>" {
		return "", filterError(n, "%s is a boolean: compare it with = or <>", q.Name)
	}
	if p, ok := right.(*cql2.Property); ok { // property-property
		r, err := b.property(p, "a comparison")
		if err != nil {
			return "", err
		}
		if typeClass(q) != typeClass(r) {
			return "", filterError(n, "%s (%s) and %s (%s) cannot be compared", q.Name, typeName(q), r.Name, typeName(r))
		}
		return q.column + " " + op + " " + r.column, nil
	}
	v, err := b.literal(q, right)
	if err != nil {
		return "", err
	}
	return q.column + " " + op + " " + v, nil
}

// literal binds e as a value of q's type and returns its placeholder, cast to that type.
func (b *compiler) literal(q Queryable, e cql2.Expr) (string, error) {
	bad := func(want string) (string, error) {
		return "", filterError(e, "%s is %s: %s is not %s", q.Name, typeName(q), cql2.Format(e), want)
	}
	switch q.Type {
	case grid.Int, grid.Float:
		n, ok := e.(*cql2.Number)
		if !ok {
			return bad("a number")
		}
		if q.Type == grid.Int && n.Value == math.Trunc(n.Value) && math.Abs(n.Value) < 1<<53 {
			return b.bind(int64(n.Value), "::bigint"), nil
		}
		return b.bind(n.Value, "::float8"), nil
	case grid.Bool:
		v, ok := e.(*cql2.Bool)
		if !ok {
			return bad("TRUE or FALSE")
		}
		return b.bind(v.Value, "::boolean"), nil
	case grid.Date:
		switch v := e.(type) {
		// Bound as a time.Time, not as text: PostgreSQL reads no year 0000 in text (1 BC is
		// "0001-01-01 BC"), while time.Parse takes it.
		case *cql2.Date:
			if d, err := time.Parse(time.DateOnly, v.Value); err == nil {
				return b.bind(d, "::date"), nil
			}
		case *cql2.String: // GDAL writes dates as strings
			if d, err := time.Parse(time.DateOnly, v.Value); err == nil {
				return b.bind(d, "::date"), nil
			}
		}
		return bad("a date, e.g. DATE('2026-11-01')")
	case grid.Timestamp:
		switch v := e.(type) {
		case *cql2.Timestamp:
			return b.bind(v.Value, "::timestamptz"), nil
		case *cql2.Date: // the start of that day in Shanghai
			d, _ := time.ParseInLocation(time.DateOnly, v.Value, grid.ShanghaiZone())
			return b.bind(d, "::timestamptz"), nil
		case *cql2.String: // GDAL writes timestamps as strings
			if t, err := time.Parse(time.RFC3339Nano, v.Value); err == nil {
				return b.bind(t, "::timestamptz"), nil
			}
			if d, err := time.ParseInLocation(time.DateOnly, v.Value, grid.ShanghaiZone()); err == nil {
				return b.bind(d, "::timestamptz"), nil
			}
		}
		return bad("a timestamp, e.g. TIMESTAMP('2026-11-01T00:00:00Z')")
	case grid.Enum:
		s, ok := e.(*cql2.String)
		if !ok {
			return bad("a string")
		}
		v := s.Value
		if a, ok := q.Aliases[v]; ok {
			v = a
		}
		if !slices.Contains(q.Values, v) {
			return "", filterError(e, "%s is one of %s, not %s", q.Name, strings.Join(q.Values, ", "), cql2.Format(e))
		}
		return b.bind(v, "::text"), nil
	default:
		s, ok := e.(*cql2.String)
		if !ok {
			return bad("a string")
		}
		return b.bind(s.Value, "::text"), nil
	}
}

var spatialFunctions = map[string]string{
	"s_intersects": "ST_Intersects", "s_equals": "ST_Equals", "s_disjoint": "ST_Disjoint", "s_touches": "ST_Touches",
	"s_within": "ST_Within", "s_overlaps": "ST_Overlaps", "s_crosses": "ST_Crosses", "s_contains": "ST_Contains",
}

func (b *compiler) spatial(n *cql2.Spatial) (string, error) {
	fn, ok := spatialFunctions[n.Op]
	if !ok {
		return "", filterError(n, "%s is not supported", strings.ToUpper(n.Op))
	}
	var sides [2]string
	props := 0
	for i, a := range []cql2.Expr{n.Left, n.Right} {
		switch v := a.(type) {
		case *cql2.Property:
			q, err := b.property(v, strings.ToUpper(n.Op))
			if err != nil {
				return "", err
			}
			if !q.Geometry {
				return "", filterError(v, "%s needs the geometry %q, not %s", strings.ToUpper(n.Op), GeometryQueryable, q.Name)
			}
			sides[i], props = q.column, props+1
		case *cql2.Geometry:
			sides[i] = "ST_GeomFromWKB(" + b.bind(b.geoms[v], "") + ", 4326)"
		default:
			return "", filterError(a, "%s takes the geometry and a geometry literal, not %s", strings.ToUpper(n.Op), cql2.Format(a))
		}
	}
	if props != 1 {
		return "", filterError(n, "%s takes the geometry %q and one geometry literal", strings.ToUpper(n.Op), GeometryQueryable)
	}
	return fn + "(" + sides[0] + ", " + sides[1] + ")", nil
}

func isText(t grid.FieldType) bool {
	return t == grid.Text || t == grid.USCC || t == grid.AreaCode || t == grid.Enum
}

// typeClass groups the types that compare with each other.
func typeClass(q Queryable) string {
	switch {
	case q.Geometry:
		return "geometry"
	case q.Type == grid.Int || q.Type == grid.Float:
		return "number"
	case isText(q.Type):
		return "text"
	case q.Type == grid.Bool:
		return "boolean"
	case q.Type == grid.Date:
		return "date"
	default:
		return "timestamp"
	}
}

func typeName(q Queryable) string {
	switch c := typeClass(q); c {
	case "number", "text", "boolean", "date", "timestamp":
		return "a " + c
	default:
		return "the geometry"
	}
}

// geometryLiterals collects the geometry literals of e.
func geometryLiterals(e cql2.Expr, out *[]*cql2.Geometry) {
	switch n := e.(type) {
	case *cql2.And:
		for _, a := range n.Args {
			geometryLiterals(a, out)
		}
	case *cql2.Or:
		for _, a := range n.Args {
			geometryLiterals(a, out)
		}
	case *cql2.Not:
		geometryLiterals(n.Arg, out)
	case *cql2.Spatial:
		geometryLiterals(n.Left, out)
		geometryLiterals(n.Right, out)
	case *cql2.Geometry:
		*out = append(*out, n)
	}
}

// toStorage checks a geometry given in crs (in its axis order) and returns it in
// EPSG:4326, longitude first, as WKB. An invalid geometry, or one PostGIS cannot transform
// or that falls outside longitude and latitude, is an InvalidError on field.
func (s *Service) toStorage(ctx context.Context, g orb.Geometry, crs *CRS, field string, node cql2.Expr) ([]byte, error) {
	if crs == nil {
		crs = CRS84
	}
	bad := func(format string, args ...any) error {
		if field == "filter" {
			return filterError(node, format, args...)
		}
		return &grid.InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	raw, err := wkb.Marshal(g)
	if err != nil {
		return nil, bad("the geometry cannot be encoded: %v", err)
	}
	var valid bool
	var reason string
	var out []byte
	var x0, y0, x1, y1 *float64
	err = s.db.QueryRow(ctx, `SELECT ST_IsValid(g), ST_IsValidReason(g), ST_AsBinary(w), ST_XMin(w), ST_YMin(w), ST_XMax(w), ST_YMax(w)
FROM (SELECT g, ST_Transform(g, 4326) AS w
      FROM (SELECT CASE WHEN $3 THEN ST_FlipCoordinates(ST_GeomFromWKB($1, $2)) ELSE ST_GeomFromWKB($1, $2) END AS g) a) b`,
		raw, crs.SRID, crs.LatFirst).Scan(&valid, &reason, &out, &x0, &y0, &x1, &y1)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "XX")) {
		return nil, bad("the geometry cannot be read in %s: %s", crs.URI, pe.Message)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case !valid:
		return nil, bad("the geometry is not valid: %s", reason)
	case x0 == nil:
		return nil, bad("the geometry is empty")
	case *x0 < -180 || *x1 > 180 || *y0 < -90 || *y1 > 90 || math.IsNaN(*x0+*x1+*y0+*y1):
		axes := "longitude, latitude"
		if crs.LatFirst {
			axes = "latitude, longitude"
		}
		if crs.Projected() {
			axes = "metres"
		}
		return nil, bad("the geometry lies outside the world in %s (%s)", crs.URI, axes)
	}
	return out, nil
}
