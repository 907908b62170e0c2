package ingest

import (
	"strconv"
	"strings"

	jsoniter "github.com/json-iterator/go"
	"github.com/paulmach/orb"

	"safegrid/grid"
)

// decodeFeature reads a GeoJSON Feature straight into the fields of kind k with
// json-iterator's Iterator: no map of properties, no reflection. It handles the common
// shape (a Feature whose properties are scalars and whose geometry is a Point, or another
// geometry left to orb); anything else, including every malformed input, makes ok false,
// and the caller decodes with orb as before, so the messages for bad rows stay the same.
func decodeFeature(raw []byte, n int, k *grid.Kind) (row RawRow, ok bool) {
	it := jsonAPI.BorrowIterator(raw)
	defer jsonAPI.ReturnIterator(it)
	if it.WhatIsNext() != jsoniter.ObjectValue {
		return row, false
	}
	row = RawRow{N: n, fields: make([]any, len(k.Fields))}
	ok = true
	var typed, hasGeom bool
	it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
		switch key {
		case "type":
			if it.WhatIsNext() != jsoniter.StringValue || it.ReadString() != "Feature" {
				ok = false
			}
			typed = true
		case "properties":
			ok = readProps(it, k, &row)
		case "geometry":
			row.Geom, ok = readGeometry(it)
			hasGeom = true
		case "id", "bbox":
			it.Skip()
		default:
			// encoding/json matches member names without regard to case.
			for _, known := range []string{"type", "properties", "geometry", "id", "bbox"} {
				if strings.EqualFold(key, known) {
					ok = false
					return false
				}
			}
			it.Skip()
		}
		return ok && it.Error == nil
	})
	if !ok || !typed || !hasGeom || it.Error != nil {
		return RawRow{}, false
	}
	return row, true
}

func readProps(it *jsoniter.Iterator, k *grid.Kind, row *RawRow) bool {
	switch it.WhatIsNext() {
	case jsoniter.NilValue: // a later "properties": null wins over an earlier object
		it.ReadNil()
		clear(row.fields)
		row.unknown = nil
		return true
	case jsoniter.ObjectValue:
	default:
		return false
	}
	ok := true
	it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
		var v any
		switch it.WhatIsNext() {
		case jsoniter.StringValue:
			v = it.ReadString()
		case jsoniter.NumberValue:
			x, err := strconv.ParseFloat(string(it.ReadNumber()), 64)
			if err != nil {
				ok = false
				return false
			}
			v = x
		case jsoniter.BoolValue:
			v = it.ReadBool()
		case jsoniter.NilValue:
			it.ReadNil()
		default: // arrays and objects: rare, left to the generic decoder
			ok = false
			return false
		}
		if i := k.FieldIndex(key); i >= 0 {
			row.fields[i] = v
		} else if !containsString(row.unknown, key) {
			row.unknown = append(row.unknown, key)
		}
		return it.Error == nil
	})
	return ok && it.Error == nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readGeometry reads a Point, LineString, Polygon, MultiLineString or MultiPolygon whose
// positions are all [lon, lat]; any other geometry (or an odd one: a third coordinate, an
// empty array, members other than type and coordinates) makes ok false.
func readGeometry(it *jsoniter.Iterator) (orb.Geometry, bool) {
	if it.WhatIsNext() != jsoniter.ObjectValue {
		return nil, false
	}
	var typ string
	var c coords
	ok := true
	it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
		switch key {
		case "type":
			if it.WhatIsNext() != jsoniter.StringValue {
				ok = false
				return false
			}
			typ = it.ReadString()
		case "coordinates":
			c, ok = readCoords(it, 0)
			if !ok {
				return false
			}
		default:
			ok = false
			return false
		}
		return it.Error == nil
	})
	if !ok || it.Error != nil {
		return nil, false
	}
	switch {
	case typ == "Point" && c.depth == 1:
		return c.pt, true
	case typ == "LineString" && c.depth == 2:
		return orb.LineString(c.pts), true
	case typ == "Polygon" && c.depth == 3:
		return polygonOf(c.kids), true
	case typ == "MultiLineString" && c.depth == 3:
		out := make(orb.MultiLineString, len(c.kids))
		for i, k := range c.kids {
			out[i] = orb.LineString(k.pts)
		}
		return out, true
	case typ == "MultiPolygon" && c.depth == 4:
		out := make(orb.MultiPolygon, len(c.kids))
		for i, k := range c.kids {
			out[i] = polygonOf(k.kids)
		}
		return out, true
	}
	return nil, false
}

// coords is a GeoJSON coordinates array: a position (depth 1), a list of positions (2),
// or lists of those (3, 4), every member of the same depth.
type coords struct {
	depth int
	pt    orb.Point
	pts   []orb.Point // depth 2
	kids  []coords    // depth 3 and 4
}

func polygonOf(rings []coords) orb.Polygon {
	p := make(orb.Polygon, len(rings))
	for i, r := range rings {
		p[i] = orb.Ring(r.pts)
	}
	return p
}

// readCoords reads one coordinates array; level counts the arrays around it.
func readCoords(it *jsoniter.Iterator, level int) (coords, bool) {
	if it.WhatIsNext() != jsoniter.ArrayValue || level > 3 {
		return coords{}, false
	}
	var out coords
	nc := 0
	ok := true
	for it.ReadArray() {
		switch it.WhatIsNext() {
		case jsoniter.NumberValue:
			if out.depth > 1 || nc == 2 {
				return coords{}, false
			}
			x, err := strconv.ParseFloat(string(it.ReadNumber()), 64)
			if err != nil {
				return coords{}, false
			}
			out.pt[nc] = x
			nc++
			out.depth = 1
		case jsoniter.ArrayValue:
			if out.depth == 1 {
				return coords{}, false
			}
			var kid coords
			if kid, ok = readCoords(it, level+1); !ok || (out.depth != 0 && kid.depth+1 != out.depth) {
				return coords{}, false
			}
			out.depth = kid.depth + 1
			if kid.depth == 1 {
				out.pts = append(out.pts, kid.pt)
			} else {
				out.kids = append(out.kids, kid)
			}
		default:
			return coords{}, false
		}
		if it.Error != nil {
			return coords{}, false
		}
	}
	if it.Error != nil || out.depth == 0 || (out.depth == 1 && nc != 2) {
		return coords{}, false
	}
	return out, true
}
