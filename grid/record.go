package grid

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paulmach/orb"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"

	"safegrid/geo"
)

// shanghai is the zone for dates and times written without one.
var shanghai = time.FixedZone("CST", 8*3600)

// checkOptions say how rows are checked.
type checkOptions struct {
	crs           geo.CRS
	region        *geo.Region
	repair        bool // repair invalid polygons (ST_MakeValid) instead of refusing them
	ignoreUnknown bool
	areas         *areaIndex // nil for the areas kind itself
}

// record is a row that passed every check, with its values in the order of the kind's
// fields and its geometry converted to WGS84 and indexed on H3.
type record struct {
	n      int
	key    string
	vals   []any
	ewkb   []byte // the geometry as EWKB with SRID 4326, for the table's COPY and staging alike
	rep    orb.Point
	h3     int64
	cells  []int64
	repair bool
	tags   [3]string // district, street, community, when tagged in memory
	tagSQL bool      // near a border or in no area: area_tag decides
}

// check validates one raw row for kind k. It returns every problem it finds, not only the
// first, so that a reject report tells the whole story of a row.
func (k *Kind) check(raw RawRow, o *checkOptions) (record, []Rejection) {
	rec := record{n: raw.N, vals: make([]any, len(k.Fields))}
	problems := raw.Problems
	bad := func(field, format string, args ...any) {
		problems = append(problems, Rejection{Row: raw.N, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if !o.ignoreUnknown {
		unknown := func(name string) {
			bad(name, "unknown field for %s (known: %s)", k.Name, strings.Join(k.fieldNames(), ", "))
		}
		if raw.fields != nil {
			for _, name := range raw.unknown {
				unknown(name)
			}
		} else {
			for name := range raw.Props {
				if k.field(name) < 0 {
					unknown(name)
				}
			}
		}
	}
	for i := range k.Fields {
		f := &k.Fields[i]
		var v any
		var present bool
		if raw.fields != nil {
			v = raw.fields[i]
			present = v != nil
		} else {
			v, present = raw.Props[f.Name]
		}
		if v == nil || v == "" {
			present = false
		}
		if !present {
			if f.Required {
				bad(f.Name, "required")
			}
			continue
		}
		val, err := f.convert(v)
		if err != nil {
			bad(f.Name, "%v", err)
			continue
		}
		rec.vals[i] = val
		if f.Name == k.Key {
			rec.key = val.(string)
		}
	}
	if raw.Geom == nil {
		if len(raw.Problems) == 0 {
			bad("geometry", "missing")
		}
		return rec, problems
	}
	if err := k.checkGeometry(&rec, raw.Geom, o); err != nil {
		bad("geometry", "%v", err)
	}
	return rec, problems
}

func (k *Kind) field(name string) int {
	for i := range k.Fields {
		if k.Fields[i].Name == name {
			return i
		}
	}
	return -1
}

func (k *Kind) fieldNames() []string {
	names := make([]string, len(k.Fields))
	for i, f := range k.Fields {
		names[i] = f.Name
	}
	return names
}

func (k *Kind) checkGeometry(rec *record, g orb.Geometry, o *checkOptions) error {
	if !slices.Contains(k.Geoms, GeomType(g.GeoJSONType())) {
		want := make([]string, len(k.Geoms))
		for i, t := range k.Geoms {
			want[i] = string(t)
		}
		return fmt.Errorf("a %s is not allowed for %s (want %s)", g.GeoJSONType(), k.Name, strings.Join(want, " or "))
	}
	if err := geo.CheckRange(g); err != nil {
		return err
	}
	g = geo.GeometryToWGS84(o.crs, g)
	if err := geo.ValidateGeometry(g); err != nil {
		if !o.repair || !errors.Is(err, geo.ErrInvalid) {
			return err
		}
		rec.repair = true
	}
	if err := o.region.Check(g); err != nil {
		return err
	}
	g = promote(g, k.Geoms)
	data, err := encodeEWKB(g)
	if err != nil {
		return err
	}
	rec.ewkb = data
	rec.rep = geo.RepresentativePoint(g)
	rec.h3 = int64(geo.PointCell(rec.rep, geo.SupervisionRes))
	if o.areas != nil {
		var ok bool
		rec.tags, ok = o.areas.tag(rec.rep)
		rec.tagSQL = !ok
	}
	if _, isPoint := g.(orb.Point); !isPoint {
		cells := geo.Cells(g, geo.SupervisionRes)
		rec.cells = make([]int64, len(cells))
		for i, c := range cells {
			rec.cells[i] = int64(c)
		}
	}
	return nil
}

// promote turns a single polygon or line into its multi form where the table stores that.
func promote(g orb.Geometry, allowed []GeomType) orb.Geometry {
	switch v := g.(type) {
	case orb.Polygon:
		if slices.Contains(allowed, GeomMultiPolygon) {
			return orb.MultiPolygon{v}
		}
	case orb.LineString:
		if slices.Contains(allowed, GeomMultiLineString) {
			return orb.MultiLineString{v}
		}
	}
	return g
}

// encodeEWKB is g as little-endian EWKB with SRID 4326, what a geometry column takes in
// binary COPY and ST_GeomFromEWKB reads.
func encodeEWKB(g orb.Geometry) ([]byte, error) {
	e := ewkbEncoders.Get().(*ewkbEncoder)
	defer ewkbEncoders.Put(e)
	var t geom.T
	if p, ok := g.(orb.Point); ok {
		e.xy = p // e.point's coordinates
		t = e.point
	} else {
		var err error
		if t, err = geo.ToGeom(g, 4326); err != nil {
			return nil, err
		}
	}
	e.buf.Reset()
	if err := ewkb.Write(&e.buf, ewkb.NDR, t); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// ewkbEncoder is encodeEWKB's scratch space, kept between records (ewkbEncoders): go-geom
// writes EWKB through an io.Writer, into buf, and only the result is copied out; a point,
// most of what an import carries, takes point (SRID 4326, coordinates xy) instead of a
// new geom.Point. Without them the encoding made twice the allocations of the former
// orb WKB and cost twice the time (BenchmarkCopyRowGeometry).
type ewkbEncoder struct {
	buf   bytes.Buffer
	xy    [2]float64
	point *geom.Point
}

var ewkbEncoders = sync.Pool{New: func() any {
	e := &ewkbEncoder{}
	e.point = geom.NewPointFlat(geom.XY, e.xy[:]).SetSRID(4326)
	return e
}}

// convert turns one property value into the Go value stored for the field. GeoJSON gives
// numbers and booleans as such; CSV gives strings; numbers as strings are accepted in both.
func (f *Field) convert(v any) (any, error) {
	switch f.Type {
	case Text:
		s, err := asString(v)
		return strings.TrimSpace(s), err
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
			if t, err := time.ParseInLocation(layout, s, shanghai); err == nil {
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
