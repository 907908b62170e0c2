package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	jsoniter "github.com/json-iterator/go"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/paulmach/orb/geojson"

	"safegrid/grid"
)

// Format is the format of an import file.
type Format string

const (
	FormatGeoJSON Format = "geojson"
	FormatCSV     Format = "csv"
)

// DetectFormat tells GeoJSON from CSV by the file name, else by the first non-blank byte.
func DetectFormat(name string, head []byte) Format {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".geojson"), strings.HasSuffix(lower, ".json"):
		return FormatGeoJSON
	case strings.HasSuffix(lower, ".csv"):
		return FormatCSV
	}
	head = bytes.TrimPrefix(head, utf8BOM)
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return FormatGeoJSON
	}
	return FormatCSV
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// RawRow is one row of an import file before validation: the N-th feature of a GeoJSON
// FeatureCollection or the N-th data row of a CSV file (both counted from 1).
type RawRow struct {
	N     int
	Props map[string]any // GeoJSON: decoded JSON values; CSV: non-empty strings
	Geom  orb.Geometry
	// Problems found while parsing the row; the row is rejected when there are any.
	Problems []Rejection
	// fields, when not nil, replace Props: the value of each field of the kind the row
	// was decoded for (nil when absent or null), and unknown the other property names.
	fields  []any
	unknown []string
}

// Rejection says why one row (or one field of it) was refused.
type Rejection struct {
	Row    int    `json:"row"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (r Rejection) String() string {
	if r.Field == "" {
		return fmt.Sprintf("row %d: %s", r.Row, r.Reason)
	}
	return fmt.Sprintf("row %d, field %q: %s", r.Row, r.Field, r.Reason)
}

// FileError is a problem that stops reading the whole file (bad JSON, a CSV without a
// header): there is no way to tell which rows would have followed.
type FileError struct {
	Row    int // the row being read when it happened, 0 before the first
	Reason string
}

func (e *FileError) Error() string {
	if e.Row > 0 {
		return fmt.Sprintf("row %d: %s", e.Row, e.Reason)
	}
	return e.Reason
}

// chunk is the raw text of one row, to be decoded by a worker.
type chunk struct {
	n   int
	raw []byte   // a GeoJSON feature
	rec []string // a CSV record
}

// scanner yields the rows of a file, undecoded, so that decoding can run in parallel.
type scanner interface {
	next() (chunk, error) // io.EOF at the end
	decode(c chunk) RawRow
}

func newScanner(r io.Reader, f Format) (scanner, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	if head, _ := br.Peek(3); bytes.Equal(head, utf8BOM) {
		_, _ = br.Discard(3)
	}
	if f == FormatCSV {
		return newCSVScanner(br)
	}
	return newGeoJSONScanner(br)
}

// ---- GeoJSON

// json-iterator reads GeoJSON exactly as encoding/json does (numbers as float64, the same
// errors for bad input) at several times its speed; bulk imports are bound by decoding.
var jsonAPI = jsoniter.ConfigCompatibleWithStandardLibrary

func init() {
	// orb decodes features with encoding/json unless told otherwise.
	geojson.CustomJSONUnmarshaler = jsonAPI
}

// geojsonScanner walks a FeatureCollection as a stream, handing out each feature's raw
// bytes, so a file of a million features never sits in memory whole.
type geojsonScanner struct {
	it   *jsoniter.Iterator
	kind *grid.Kind // when set, features are decoded straight into its fields
	n    int
	in   bool // inside the features array
	seen bool // a features member was read
	end  bool
}

func newGeoJSONScanner(r io.Reader) (*geojsonScanner, error) {
	s := &geojsonScanner{it: jsoniter.Parse(jsonAPI, r, 1<<16)}
	if s.it.WhatIsNext() != jsoniter.ObjectValue {
		if s.it.Error != nil && !errors.Is(s.it.Error, io.EOF) {
			return nil, s.syntax()
		}
		return nil, &FileError{Reason: "not a GeoJSON FeatureCollection: the file does not start with an object"}
	}
	return s, nil
}

func (s *geojsonScanner) syntax() error {
	err := s.it.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FileError{Row: s.n + 1, Reason: "malformed JSON: the file ends too early"}
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return &FileError{Row: s.n + 1, Reason: "malformed JSON: " + msg}
}

func (s *geojsonScanner) next() (chunk, error) {
	it := s.it
	for !s.end {
		if s.in {
			if it.ReadArray() {
				raw := it.SkipAndReturnBytes()
				if it.Error != nil {
					return chunk{}, s.syntax()
				}
				s.n++
				return chunk{n: s.n, raw: raw}, nil
			}
			if it.Error != nil {
				return chunk{}, s.syntax()
			}
			s.in = false
			continue
		}
		key := it.ReadObject()
		if it.Error != nil {
			return chunk{}, s.syntax()
		}
		switch key {
		case "":
			s.end = true
			if !s.seen {
				return chunk{}, &FileError{Reason: "not a GeoJSON FeatureCollection: no \"features\" member"}
			}
		case "type":
			if it.WhatIsNext() != jsoniter.StringValue {
				return chunk{}, &FileError{Reason: "GeoJSON \"type\" must be a string"}
			}
			if t := it.ReadString(); t != "FeatureCollection" {
				return chunk{}, &FileError{Reason: fmt.Sprintf("GeoJSON type is %q; want a FeatureCollection", t)}
			}
		case "features":
			if it.WhatIsNext() != jsoniter.ArrayValue {
				if it.Error != nil {
					return chunk{}, s.syntax()
				}
				return chunk{}, &FileError{Reason: "GeoJSON \"features\" must be an array"}
			}
			s.in, s.seen = true, true
		default:
			it.Skip()
			if it.Error != nil {
				return chunk{}, s.syntax()
			}
		}
	}
	return chunk{}, io.EOF
}

func (s *geojsonScanner) decode(c chunk) RawRow {
	if s.kind != nil {
		if row, ok := decodeFeature(c.raw, c.n, s.kind); ok {
			return row
		}
	}
	row := RawRow{N: c.n}
	var f geojson.Feature
	if err := f.UnmarshalJSON(c.raw); err != nil {
		row.Problems = append(row.Problems, Rejection{Row: c.n, Field: "geometry", Reason: "not a valid GeoJSON Feature: " + trimJSONError(err)})
		return row
	}
	row.Geom = f.Geometry
	row.Props = f.Properties
	if row.Props == nil {
		row.Props = map[string]any{}
	}
	return row
}

func trimJSONError(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "json: "), "geojson: ")
}

// forKind makes the scanner decode rows for kind k (the generic form otherwise).
func forKind(sc scanner, k *grid.Kind) scanner {
	if g, ok := sc.(*geojsonScanner); ok {
		g.kind = k
	}
	return sc
}

// ---- CSV

// CSV columns that carry the geometry rather than an attribute.
const (
	colLon = "lon"
	colLat = "lat"
	colWKT = "wkt"
)

type csvScanner struct {
	r      *csv.Reader
	header []string
	n      int
}

func newCSVScanner(r io.Reader) (*csvScanner, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FileError{Reason: "the CSV file is empty: it needs a header row"}
		}
		return nil, &FileError{Reason: "the CSV header cannot be read: " + err.Error()}
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "lng", "longitude", "x":
			h = colLon
		case "latitude", "y":
			h = colLat
		}
		if h == "" {
			return nil, &FileError{Reason: fmt.Sprintf("CSV column %d has no name", i+1)}
		}
		if seen[h] {
			return nil, &FileError{Reason: fmt.Sprintf("CSV column %q appears twice", h)}
		}
		seen[h] = true
		header[i] = h
	}
	if !seen[colWKT] && !(seen[colLon] && seen[colLat]) {
		return nil, &FileError{Reason: "the CSV file needs lon and lat columns (points) or a wkt column"}
	}
	return &csvScanner{r: cr, header: header}, nil
}

func (s *csvScanner) next() (chunk, error) {
	rec, err := s.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return chunk{}, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				s.n++
				return chunk{}, &FileError{Row: s.n, Reason: fmt.Sprintf("line %d has %d fields; the header has %d", pe.Line, len(rec), len(s.header))}
			}
			return chunk{}, &FileError{Row: s.n + 1, Reason: fmt.Sprintf("malformed CSV on line %d: %v", pe.Line, pe.Err)}
		}
		return chunk{}, &FileError{Row: s.n + 1, Reason: err.Error()}
	}
	s.n++
	return chunk{n: s.n, rec: rec}, nil
}

func (s *csvScanner) decode(c chunk) RawRow {
	row := RawRow{N: c.n, Props: make(map[string]any, len(s.header))}
	var lon, lat, wktText string
	for i, h := range s.header {
		v := strings.TrimSpace(c.rec[i])
		switch h {
		case colLon:
			lon = v
		case colLat:
			lat = v
		case colWKT:
			wktText = v
		default:
			if v != "" {
				row.Props[h] = v
			}
		}
	}
	switch {
	case wktText != "":
		g, err := wkt.Unmarshal(wktText)
		if err != nil {
			row.Problems = append(row.Problems, Rejection{Row: c.n, Field: colWKT, Reason: "not valid WKT: " + err.Error()})
			return row
		}
		row.Geom = g
	case lon != "" || lat != "":
		x, errX := strconv.ParseFloat(lon, 64)
		y, errY := strconv.ParseFloat(lat, 64)
		if errX != nil {
			row.Problems = append(row.Problems, Rejection{Row: c.n, Field: colLon, Reason: fmt.Sprintf("%q is not a number", lon)})
		}
		if errY != nil {
			row.Problems = append(row.Problems, Rejection{Row: c.n, Field: colLat, Reason: fmt.Sprintf("%q is not a number", lat)})
		}
		if errX == nil && errY == nil {
			row.Geom = orb.Point{x, y}
		}
	}
	return row
}
