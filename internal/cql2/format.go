package cql2

import (
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"
)

// Format writes e as cql2-text. Parsing the result gives the same tree (positions aside).
func Format(e Expr) string {
	var b strings.Builder
	format(&b, e)
	return b.String()
}

func format(b *strings.Builder, e Expr) {
	list := func(args []Expr, sep string) {
		for i, a := range args {
			if i > 0 {
				b.WriteString(sep)
			}
			format(b, a)
		}
	}
	not := func(n bool) {
		if n {
			b.WriteString(" NOT")
		}
	}
	switch n := e.(type) {
	case *And:
		b.WriteByte('(')
		list(n.Args, " AND ")
		b.WriteByte(')')
	case *Or:
		b.WriteByte('(')
		list(n.Args, " OR ")
		b.WriteByte(')')
	case *Not:
		b.WriteString("NOT (")
		format(b, n.Arg)
		b.WriteByte(')')
	case *Compare:
		format(b, n.Left)
		b.WriteString(" " + n.Op + " ")
		format(b, n.Right)
	case *Like:
		format(b, n.Value)
		not(n.Not)
		b.WriteString(" LIKE ")
		format(b, n.Pattern)
	case *Between:
		format(b, n.Value)
		not(n.Not)
		b.WriteString(" BETWEEN ")
		format(b, n.Low)
		b.WriteString(" AND ")
		format(b, n.High)
	case *In:
		format(b, n.Value)
		not(n.Not)
		b.WriteString(" IN (")
		list(n.List, ", ")
		b.WriteByte(')')
	case *IsNull:
		format(b, n.Value)
		b.WriteString(" IS")
		not(n.Not)
		b.WriteString(" NULL")
	case *Spatial:
		b.WriteString(strings.ToUpper(n.Op) + "(")
		format(b, n.Left)
		b.WriteString(", ")
		format(b, n.Right)
		b.WriteByte(')')
	case *Property:
		b.WriteString(strconv.Quote(n.Name))
	case *String:
		b.WriteString("'" + strings.ReplaceAll(n.Value, "'", "''") + "'")
	case *Number:
		b.WriteString(strconv.FormatFloat(n.Value, 'g', -1, 64))
	case *Bool:
		b.WriteString(strings.ToUpper(strconv.FormatBool(n.Value)))
	case *Timestamp:
		b.WriteString("TIMESTAMP('" + n.Value.UTC().Format(time.RFC3339Nano) + "')")
	case *Date:
		b.WriteString("DATE('" + n.Value + "')")
	case *Geometry:
		if bd, ok := n.Geom.(orb.Bound); ok {
			b.WriteString("BBOX(" + num(bd.Min[0]) + ", " + num(bd.Min[1]) + ", " + num(bd.Max[0]) + ", " + num(bd.Max[1]) + ")")
			return
		}
		b.WriteString(wkt.MarshalString(n.Geom))
	default:
		b.WriteString("?")
	}
}

func num(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
