package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/paulmach/orb"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"

	"safegrid/geo"
	"safegrid/grid"
)

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

// checkRow validates one raw row for kind k. It returns every problem it finds, not only the
// first, so that a reject report tells the whole story of a row.
func checkRow(k *grid.Kind, raw RawRow, o *checkOptions) (record, []Rejection) {
	rec := record{n: raw.N, vals: make([]any, len(k.Fields))}
	problems := raw.Problems
	bad := func(field, format string, args ...any) {
		problems = append(problems, Rejection{Row: raw.N, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if !o.ignoreUnknown {
		unknown := func(name string) {
			bad(name, "unknown field for %s (known: %s)", k.Name, strings.Join(k.FieldNames(), ", "))
		}
		if raw.fields != nil {
			for _, name := range raw.unknown {
				unknown(name)
			}
		} else {
			for name := range raw.Props {
				if k.FieldIndex(name) < 0 {
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
		val, err := f.Convert(v)
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
	if err := checkGeometry(k, &rec, raw.Geom, o); err != nil {
		bad("geometry", "%v", err)
	}
	return rec, problems
}

func checkGeometry(k *grid.Kind, rec *record, g orb.Geometry, o *checkOptions) error {
	if !slices.Contains(k.Geoms, grid.GeomType(g.GeoJSONType())) {
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
func promote(g orb.Geometry, allowed []grid.GeomType) orb.Geometry {
	switch v := g.(type) {
	case orb.Polygon:
		if slices.Contains(allowed, grid.GeomMultiPolygon) {
			return orb.MultiPolygon{v}
		}
	case orb.LineString:
		if slices.Contains(allowed, grid.GeomMultiLineString) {
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
