package ingest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// The bulk path's COPY writes PostgreSQL's binary COPY format itself, straight from the
// settled records: no []any per row and no per-value encode plan, which is a tenth of the
// Go side of a million-row import. It takes the column types from the catalog and knows
// the handful the kinds' tables use; a column of another type is an error (a schema change
// the encoder must learn; TestBulkWritesWhatSQLWrites covers every kind).

// Type OIDs of the built-in types the encoder writes (pg_type.dat).
const (
	oidBool        = 16
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidFloat4      = 700
	oidFloat8      = 701
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamptz = 1184
	oidInt8Array   = 1016
	oidNumeric     = 1700
)

// pgEpoch is where PostgreSQL's binary dates and timestamps count from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// copyCols describe the bulk COPY's columns (tableColumns(k)): their types, typmods (for
// numeric: precision and scale) and the value written for an absent field (fieldDefaults).
type copyCols struct {
	types    []uint32
	mods     []int32
	defaults []any // per field of the kind
}

// copyTypes are the types of the bulk COPY's columns (tableColumns(k)). geometry has no fixed OID: its binary
// input is EWKB, which is what the records carry.
func copyTypes(ctx context.Context, tx pgx.Tx, k *grid.Kind) (copyCols, error) {
	cols := tableColumns(k)
	rows, err := tx.Query(ctx, `
SELECT a.attname::text, CASE WHEN t.typname = 'geometry' THEN 0 ELSE a.atttypid::int8 END, a.atttypmod
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
 WHERE a.attrelid = $1::regclass AND a.attname = ANY ($2) AND NOT a.attisdropped`, pg.Ident(k.Table), cols)
	if err != nil {
		return copyCols{}, err
	}
	types := map[string]uint32{}
	mods := map[string]int32{}
	var name string
	var oid int64
	var mod int32
	if _, err := pgx.ForEachRow(rows, []any{&name, &oid, &mod}, func() error {
		types[name], mods[name] = uint32(oid), mod
		return nil
	}); err != nil {
		return copyCols{}, err
	}
	out := copyCols{types: make([]uint32, len(cols)), mods: make([]int32, len(cols))}
	for i, c := range cols {
		t, ok := types[c]
		if !ok {
			return copyCols{}, fmt.Errorf("%s has no column %s", k.Table, c)
		}
		switch t {
		case 0, oidBool, oidInt8, oidInt2, oidInt4, oidText, oidFloat4, oidFloat8, oidVarchar, oidDate, oidTimestamptz, oidInt8Array, oidNumeric:
		default:
			return copyCols{}, fmt.Errorf("bulk copy into %s: column %s has a type (oid %d) the encoder does not write", k.Table, c, t)
		}
		out.types[i], out.mods[i] = t, mods[c]
	}
	return out, nil
}

// fieldDefaults are the values the SQL path's INSERT gives an absent field (writeSQL's
// coalesce): false for a flag, and a hazard's lifecycle start, status reported at the
// transaction's now(); nil (NULL) for the others.
func fieldDefaults(k *grid.Kind, now time.Time) []any {
	out := make([]any, len(k.Fields))
	for i, f := range k.Fields {
		switch {
		case k.Name == "hazards" && f.Name == "status":
			out[i] = "reported"
		case k.Name == "hazards" && f.Name == "reported_at":
			out[i] = now
		case f.Type == grid.Bool:
			out[i] = false
		}
	}
	return out
}

// copyReader is an io.Reader of the binary COPY stream of the records split settles.
type copyReader struct {
	split *splitSource
	cols  copyCols
	buf   []byte
	off   int
	state int // 0 header to write, 1 rows, 2 trailer written
	err   error
}

func (r *copyReader) Read(p []byte) (int, error) {
	for r.off >= len(r.buf) {
		if r.err != nil {
			return 0, r.err
		}
		r.buf, r.off = r.buf[:0], 0
		switch r.state {
		case 0:
			r.buf = append(r.buf, "PGCOPY\n\xff\r\n\x00"...)
			r.buf = binary.BigEndian.AppendUint32(r.buf, 0) // flags
			r.buf = binary.BigEndian.AppendUint32(r.buf, 0) // header extension
			r.state = 1
		case 1:
			// a few hundred rows per refill
			for len(r.buf) < 64<<10 {
				rec, ok := r.split.nextSettled()
				if !ok {
					if err := r.split.src.Err(); err != nil {
						r.err = err
						return 0, err
					}
					r.buf = binary.BigEndian.AppendUint16(r.buf, 0xffff) // trailer: -1
					r.state = 2
					break
				}
				if r.buf, r.err = appendCopyRow(r.split.k, r.buf, rec, r.cols); r.err != nil {
					return 0, r.err
				}
			}
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// appendCopyRow appends rec as one binary COPY tuple of the columns tableColumns(k).
func appendCopyRow(k *grid.Kind, b []byte, rec record, cols copyCols) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, uint16(len(cols.types)))
	col := 0
	var err error
	next := func(v any) {
		if err == nil {
			b, err = appendCopyValue(b, cols.types[col], cols.mods[col], v)
			if err != nil {
				err = fmt.Errorf("column %s: %w", tableColumns(k)[col], err)
			}
		}
		col++
	}
	for _, code := range rec.tags {
		if code == "" {
			next(nil)
		} else {
			next(code)
		}
	}
	for i := range k.Fields {
		v := rec.vals[i]
		if v == nil {
			v = cols.defaults[i]
		}
		next(v)
	}
	next(rec.h3)
	if hasCells(k) {
		if rec.cells != nil {
			next(rec.cells)
		} else {
			next([]int64{rec.h3})
		}
	}
	next(rec.ewkb)
	return b, err
}

// appendCopyValue appends one field: its length (-1 for NULL) and its binary form.
func appendCopyValue(b []byte, oid uint32, mod int32, v any) ([]byte, error) {
	be := binary.BigEndian
	if v == nil {
		return be.AppendUint32(b, math.MaxUint32), nil
	}
	switch oid {
	case oidText, oidVarchar:
		if s, ok := v.(string); ok {
			if strings.IndexByte(s, 0) >= 0 {
				return nil, fmt.Errorf("text holds a NUL character")
			}
			return append(be.AppendUint32(b, uint32(len(s))), s...), nil
		}
	case 0: // geometry: EWKB
		if g, ok := v.([]byte); ok {
			return append(be.AppendUint32(b, uint32(len(g))), g...), nil
		}
	case oidBool:
		if x, ok := v.(bool); ok {
			c := byte(0)
			if x {
				c = 1
			}
			return append(be.AppendUint32(b, 1), c), nil
		}
	case oidInt2, oidInt4, oidInt8:
		var x int64
		switch n := v.(type) {
		case int32:
			x = int64(n)
		case int64:
			x = n
		case int:
			x = int64(n)
		default:
			return nil, fmt.Errorf("%T for an integer column", v)
		}
		switch oid {
		case oidInt2:
			if x < math.MinInt16 || x > math.MaxInt16 {
				return nil, fmt.Errorf("%d out of range for smallint", x)
			}
			return be.AppendUint16(be.AppendUint32(b, 2), uint16(x)), nil
		case oidInt4:
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, fmt.Errorf("%d out of range for integer", x)
			}
			return be.AppendUint32(be.AppendUint32(b, 4), uint32(x)), nil
		}
		return be.AppendUint64(be.AppendUint32(b, 8), uint64(x)), nil
	case oidFloat4, oidFloat8:
		var x float64
		switch n := v.(type) {
		case float64:
			x = n
		case int32:
			x = float64(n)
		default:
			return nil, fmt.Errorf("%T for a float column", v)
		}
		if oid == oidFloat4 {
			return be.AppendUint32(be.AppendUint32(b, 4), math.Float32bits(float32(x))), nil
		}
		return be.AppendUint64(be.AppendUint32(b, 8), math.Float64bits(x)), nil
	case oidNumeric:
		if x, ok := v.(float64); ok {
			precision, scale := 0, 0
			if mod >= 4 { // VARHDRSZ + (precision << 16 | scale)
				precision, scale = int((mod-4)>>16)&0xffff, int(mod-4)&0xffff
			}
			return appendNumeric(b, x, precision, scale)
		}
	case oidDate:
		if t, ok := v.(time.Time); ok {
			y, m, d := t.Date()
			days := (time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - pgEpoch.Unix()) / 86400
			return be.AppendUint32(be.AppendUint32(b, 4), uint32(int32(days))), nil
		}
	case oidTimestamptz:
		if t, ok := v.(time.Time); ok {
			us := t.UnixMicro() - pgEpoch.UnixMicro()
			return be.AppendUint64(be.AppendUint32(b, 8), uint64(us)), nil
		}
	case oidInt8Array:
		if xs, ok := v.([]int64); ok {
			b = be.AppendUint32(b, uint32(20+12*len(xs)))
			b = be.AppendUint32(b, 1) // dimensions
			b = be.AppendUint32(b, 0) // no NULLs
			b = be.AppendUint32(b, oidInt8)
			b = be.AppendUint32(b, uint32(len(xs)))
			b = be.AppendUint32(b, 1) // lower bound
			for _, x := range xs {
				b = be.AppendUint64(be.AppendUint32(b, 8), uint64(x))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("%T for column type %d", v, oid)
}
