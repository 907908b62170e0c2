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

// readGeometry reads a Point; any other geometry (or an odd Point) makes ok false.
func readGeometry(it *jsoniter.Iterator) (orb.Geometry, bool) {
	if it.WhatIsNext() != jsoniter.ObjectValue {
		return nil, false
	}
	var typ string
	var coords [2]float64
	nc := -1
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
			if it.WhatIsNext() != jsoniter.ArrayValue {
				ok = false
				return false
			}
			nc = 0
			for it.ReadArray() {
				if it.WhatIsNext() != jsoniter.NumberValue || nc == 2 {
					ok = false
					return false
				}
				x, err := strconv.ParseFloat(string(it.ReadNumber()), 64)
				if err != nil {
					ok = false
					return false
				}
				coords[nc] = x
				nc++
			}
		default:
			ok = false
			return false
		}
		return it.Error == nil
	})
	if !ok || it.Error != nil || typ != "Point" || nc != 2 {
		return nil, false
	}
	return orb.Point(coords), true
}
