package demo

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// colType says how a column's value is written in GeoJSON.
type colType uint8

const (
	cText colType = iota // a JSON string
	cRaw                 // a JSON number or boolean, written as is
)

type column struct {
	name string
	t    colType
}

// featureWriter streams one import file: a GeoJSON FeatureCollection (one feature per
// line) or a CSV file with a header (points as lon, lat). An empty value is left out of
// the GeoJSON properties and written as an empty CSV cell.
type featureWriter struct {
	kind, name, format string
	cols               []column
	f                  *os.File
	w                  *bufio.Writer
	buf                []byte
	rows               int
}

func newFeatureWriter(dir, kind, format string, cols []column) (*featureWriter, error) {
	name := kind + "." + format
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	fw := &featureWriter{kind: kind, name: name, format: format, cols: cols, f: f,
		w: bufio.NewWriterSize(f, 1<<20), buf: make([]byte, 0, 4096)}
	if format == "csv" {
		b := fw.buf[:0]
		for _, c := range cols {
			b = append(b, c.name...)
			b = append(b, ',')
		}
		b = append(b, "lon,lat\n"...)
		_, err = fw.w.Write(b)
	} else {
		_, err = fw.w.WriteString("{\"type\":\"FeatureCollection\",\"features\":[\n")
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return fw, nil
}

// point writes a row whose geometry is a point.
func (fw *featureWriter) point(p orb.Point, vals []string) error {
	if fw.format == "csv" {
		b := fw.buf[:0]
		for i := range fw.cols {
			b = appendCSV(b, vals[i])
			b = append(b, ',')
		}
		b = appendCoord(b, p[0])
		b = append(b, ',')
		b = appendCoord(b, p[1])
		b = append(b, '\n')
		fw.buf = b
		fw.rows++
		_, err := fw.w.Write(b)
		return err
	}
	return fw.feature(p, vals)
}

// feature writes a GeoJSON feature with any geometry.
func (fw *featureWriter) feature(g orb.Geometry, vals []string) error {
	if fw.format == "csv" {
		return fmt.Errorf("demo: %s: only points can be written as CSV", fw.kind)
	}
	b := fw.buf[:0]
	if fw.rows > 0 {
		b = append(b, ",\n"...)
	}
	b = append(b, `{"type":"Feature","properties":{`...)
	first := true
	for i, c := range fw.cols {
		v := vals[i]
		if v == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, c.name...)
		b = append(b, `":`...)
		if c.t == cRaw {
			b = append(b, v...)
		} else {
			b = appendJSONString(b, v)
		}
	}
	b = append(b, `},"geometry":`...)
	b = appendGeometry(b, g)
	b = append(b, '}')
	fw.buf = b
	fw.rows++
	_, err := fw.w.Write(b)
	return err
}

func (fw *featureWriter) close() error {
	if fw.format != "csv" {
		if fw.rows > 0 {
			fw.w.WriteString("\n")
		}
		fw.w.WriteString("]}\n")
	}
	err := fw.w.Flush()
	if cerr := fw.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// csvWriter writes a plain CSV table (grid units, cells, users).
type csvWriter struct {
	name string
	f    *os.File
	w    *bufio.Writer
	buf  []byte
	rows int
}

func newCSVWriter(dir, name string, header ...string) (*csvWriter, error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	cw := &csvWriter{name: name, f: f, w: bufio.NewWriterSize(f, 1<<20)}
	if err := cw.row(header...); err != nil {
		f.Close()
		return nil, err
	}
	cw.rows = 0
	return cw, nil
}

func (cw *csvWriter) row(vals ...string) error {
	b := cw.buf[:0]
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSV(b, v)
	}
	b = append(b, '\n')
	cw.buf = b
	cw.rows++
	_, err := cw.w.Write(b)
	return err
}

func (cw *csvWriter) close() error {
	err := cw.w.Flush()
	if cerr := cw.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ---- encoding

func appendCoord(b []byte, v float64) []byte {
	v = round6(v)
	if v == 0 {
		v = 0 // no "-0.000000"
	}
	return strconv.AppendFloat(b, v, 'f', 6, 64)
}

func appendPoint(b []byte, p orb.Point) []byte {
	b = append(b, '[')
	b = appendCoord(b, p[0])
	b = append(b, ',')
	b = appendCoord(b, p[1])
	return append(b, ']')
}

// appendArray writes items as a JSON array, each by appendItem.
func appendArray[T any](b []byte, items []T, appendItem func([]byte, T) []byte) []byte {
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendItem(b, it)
	}
	return append(b, ']')
}

func appendPoints(b []byte, ps []orb.Point) []byte { return appendArray(b, ps, appendPoint) }

func appendPolygon(b []byte, p orb.Polygon) []byte {
	return appendArray(b, p, func(b []byte, r orb.Ring) []byte { return appendPoints(b, r) })
}

func appendGeometry(b []byte, g orb.Geometry) []byte {
	switch g := g.(type) {
	case orb.Point:
		b = append(b, `{"type":"Point","coordinates":`...)
		b = appendPoint(b, g)
	case orb.LineString:
		b = append(b, `{"type":"LineString","coordinates":`...)
		b = appendPoints(b, g)
	case orb.MultiLineString:
		b = append(b, `{"type":"MultiLineString","coordinates":`...)
		b = appendArray(b, g, func(b []byte, ls orb.LineString) []byte { return appendPoints(b, ls) })
	case orb.Polygon:
		b = append(b, `{"type":"Polygon","coordinates":`...)
		b = appendPolygon(b, g)
	case orb.MultiPolygon:
		b = append(b, `{"type":"MultiPolygon","coordinates":`...)
		b = appendArray(b, g, appendPolygon)
	default:
		panic(fmt.Sprintf("demo: cannot write a %T", g))
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

func appendCSV(b []byte, s string) []byte {
	quote := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			quote = true
			break
		}
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func itoa(i int) string { return strconv.Itoa(i) }

func ftoa(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

func btoa(v bool) string {
	if v {
		return "true"
	}
	return "false"
}
