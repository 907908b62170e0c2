package ingest

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// appendNumeric appends x as the binary form of a numeric(precision, scale) value, exactly
// as PostgreSQL stores a double precision value assigned to such a column (the SQL path's
// INSERT … SELECT from staging): float8_numeric prints the double with 15 significant
// digits (%.15g), and the column's typmod rounds that decimal to scale digits, half away
// from zero (round_var). precision 0 means no typmod (plain numeric: no rounding).
func appendNumeric(b []byte, x float64, precision, scale int) ([]byte, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, fmt.Errorf("%v is not a finite number", x)
	}
	// d.dddddddddddddde±XX: 15 significant digits, correctly rounded like glibc's printf.
	s := strconv.FormatFloat(x, 'e', 14, 64)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	e := 0
	var mant []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 'e' {
			var err error
			if e, err = strconv.Atoi(s[i+1:]); err != nil {
				return nil, err
			}
			break
		}
		if c != '.' {
			mant = append(mant, c-'0')
		}
	}
	// The value is 0.mant × 10^(e+1): point is where the decimal point falls in mant.
	point := e + 1
	if precision > 0 {
		// Keep point+scale digits, rounding on the next one (half away from zero).
		keep := point + scale
		switch {
		case keep < 0:
			mant, point = nil, 0
		case keep < len(mant):
			up := mant[keep] >= 5
			mant = mant[:keep]
			if up {
				i := keep - 1
				for ; i >= 0; i-- {
					if mant[i] < 9 {
						mant[i]++
						break
					}
					mant[i] = 0
				}
				if i < 0 {
					mant = append([]byte{1}, mant...)
					point++
				}
			}
		}
		if point > precision-scale && !allZero(mant) {
			return nil, fmt.Errorf("numeric field overflow: %v needs more than %d digits before the point", x, precision-scale)
		}
	}
	dscale := scale
	if precision == 0 {
		// %.15g prints no trailing zeros; the digits after the point are the scale.
		for len(mant) > 1 && mant[len(mant)-1] == 0 {
			mant = mant[:len(mant)-1]
		}
		dscale = max(len(mant)-point, 0)
	}
	// Base-10000 groups aligned on the decimal point: group g holds the digits at decimal
	// positions [point-4(g+1), point-4g) counted from the left of mant.
	first := floorDiv(point-1, 4) // weight of the leading group
	last := floorDiv(point-len(mant), 4)
	if len(mant) == 0 {
		first, last = 0, 1
	}
	var groups []int16
	for w := first; w >= last && len(mant) > 0; w-- {
		v := 0
		for j := 0; j < 4; j++ {
			pos := point - 4*w - 4 + j // index in mant of this digit
			d := 0
			if pos >= 0 && pos < len(mant) {
				d = int(mant[pos])
			}
			v = v*10 + d
		}
		groups = append(groups, int16(v))
	}
	// Strip zero groups at both ends (make_result's normal form).
	weight := first
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	sign := uint16(0)
	if len(groups) == 0 {
		weight, neg = 0, false
	}
	if neg {
		sign = 0x4000
	}
	be := binary.BigEndian
	b = be.AppendUint32(b, uint32(8+2*len(groups)))
	b = be.AppendUint16(b, uint16(len(groups)))
	b = be.AppendUint16(b, uint16(int16(weight)))
	b = be.AppendUint16(b, sign)
	b = be.AppendUint16(b, uint16(dscale))
	for _, g := range groups {
		b = be.AppendUint16(b, uint16(g))
	}
	return b, nil
}

func allZero(ds []byte) bool {
	for _, d := range ds {
		if d != 0 {
			return false
		}
	}
	return true
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
