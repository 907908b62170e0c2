package cql2

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// The text encoding, by recursive descent over the grammar of OGC 21-065r2 (Annex A),
// restricted to what the package covers:
//
//	filter    = or EOF
//	or        = and { OR and }
//	and       = not { AND not }
//	not       = NOT not | primary
//	primary   = "(" or ")" | spatial | predicate
//	spatial   = S_xxx "(" geomOperand "," geomOperand ")"
//	predicate = scalar ( compOp scalar | [NOT] LIKE scalar | [NOT] BETWEEN scalar AND scalar
//	          | [NOT] IN "(" scalar { "," scalar } ")" | IS [NOT] NULL )
//	scalar    = property | string | number | TRUE | FALSE | TIMESTAMP "(" string ")" | DATE "(" string ")"
//	geomOperand = property | WKT | BBOX "(" number "," number "," number "," number ")"

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tQuoted // "double-quoted identifier"
	tString
	tNumber
	tPunct // ( ) , = <> < <= > >=
)

type token struct {
	kind tokKind
	text string // an identifier's name, a string's value, a number or punctuation as written
	pos  int
}

func (t token) is(word string) bool { return t.kind == tIdent && strings.EqualFold(t.text, word) }

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "the end"
	case tString:
		return "'" + t.text + "'"
	case tQuoted:
		return `"` + t.text + `"`
	}
	return "'" + t.text + "'"
}

var keywords = map[string]bool{"AND": true, "OR": true, "NOT": true, "LIKE": true, "BETWEEN": true, "IN": true, "IS": true, "NULL": true, "TRUE": true, "FALSE": true}

// lex splits s into tokens.
func lex(s string) ([]token, error) {
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			return nil, &Error{Pos: i, Msg: "invalid UTF-8"}
		}
		if r == 0 {
			return nil, &Error{Pos: i, Msg: "a NUL byte"}
		}
		i += w
	}
	var out []token
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += w
		case r == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, &Error{Pos: i, Msg: "a string that is not closed"}
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{tString, b.String(), i})
			i = j + 1
		case r == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, &Error{Pos: i, Msg: "a quoted identifier that is not closed"}
			}
			if j == 0 {
				return nil, &Error{Pos: i, Msg: "an empty identifier"}
			}
			out = append(out, token{tQuoted, s[i+1 : i+1+j], i})
			i += j + 2
		case r >= '0' && r <= '9' || r == '.' || (r == '-' || r == '+') && i+1 < len(s) && (s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '.'):
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				(s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			out = append(out, token{tNumber, s[i:j], i})
			i = j
		case unicode.IsLetter(r) || r == '_':
			j := i + w
			for j < len(s) {
				r2, w2 := utf8.DecodeRuneInString(s[j:])
				if !(unicode.IsLetter(r2) || unicode.IsDigit(r2) || r2 == '_' || r2 == '.' || r2 == ':') {
					break
				}
				j += w2
			}
			out = append(out, token{tIdent, s[i:j], i})
			i = j
		case strings.ContainsRune("(),", r):
			out = append(out, token{tPunct, string(r), i})
			i++
		case r == '<' || r == '>' || r == '=':
			j := i + 1
			if j < len(s) && (s[j] == '=' || r == '<' && s[j] == '>') {
				j++
			}
			out = append(out, token{tPunct, s[i:j], i})
			i = j
		default:
			return nil, &Error{Pos: i, Msg: fmt.Sprintf("unexpected %q", r)}
		}
	}
	return append(out, token{kind: tEOF, pos: len(s)}), nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i = min(p.i+1, len(p.toks)-1); return t }

func (p *parser) fail(t token, format string, args ...any) error {
	return &Error{Pos: t.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expect(punct string) (token, error) {
	t := p.next()
	if t.kind != tPunct || t.text != punct {
		return t, p.fail(t, "expected '%s', found %s", punct, t)
	}
	return t, nil
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail(t, "nested deeper than %d levels", maxDepth)
	}
	return nil
}

// ParseText parses a cql2-text filter.
func ParseText(s string) (Expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, p.fail(p.peek(), "the filter is empty")
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.fail(t, "unexpected %s", t)
	}
	return e, nil
}

func (p *parser) or() (Expr, error) {
	at := p.peek().pos
	e, err := p.and()
	if err != nil {
		return nil, err
	}
	args := []Expr{e}
	for p.peek().is("OR") {
		p.next()
		e, err := p.and()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	if len(args) == 1 {
		return e, nil
	}
	return &Or{Args: args, At: at}, nil
}

func (p *parser) and() (Expr, error) {
	at := p.peek().pos
	e, err := p.not()
	if err != nil {
		return nil, err
	}
	args := []Expr{e}
	for p.peek().is("AND") {
		p.next()
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	if len(args) == 1 {
		return e, nil
	}
	return &And{Args: args, At: at}, nil
}

func (p *parser) not() (Expr, error) {
	t := p.peek()
	if !t.is("NOT") {
		return p.primary()
	}
	p.next()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	e, err := p.not()
	if err != nil {
		return nil, err
	}
	return &Not{Arg: e, At: t.pos}, nil
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	if t.kind == tPunct && t.text == "(" {
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		return e, nil
	}
	if t.kind == tIdent && spatialOps[strings.ToLower(t.text)] {
		return p.spatial()
	}
	return p.predicate()
}

func (p *parser) spatial() (Expr, error) {
	name := p.next()
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	a, err := p.geomOperand()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(","); err != nil {
		return nil, err
	}
	b, err := p.geomOperand()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(")"); err != nil {
		return nil, err
	}
	return &Spatial{Op: strings.ToLower(name.text), Left: a, Right: b, At: name.pos}, nil
}

func (p *parser) predicate() (Expr, error) {
	at := p.peek().pos
	left, err := p.scalar()
	if err != nil {
		return nil, err
	}
	t := p.next()
	negated := false
	if t.is("NOT") {
		negated = true
		t = p.next()
		if !t.is("LIKE") && !t.is("BETWEEN") && !t.is("IN") {
			return nil, p.fail(t, "expected LIKE, BETWEEN or IN after NOT, found %s", t)
		}
	}
	switch {
	case t.kind == tPunct && (t.text == "=" || t.text == "<>" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
		right, err := p.scalar()
		if err != nil {
			return nil, err
		}
		return &Compare{Op: t.text, Left: left, Right: right, At: at}, nil
	case t.is("LIKE"):
		pat, err := p.scalar()
		if err != nil {
			return nil, err
		}
		return &Like{Value: left, Pattern: pat, Not: negated, At: at}, nil
	case t.is("BETWEEN"):
		lo, err := p.scalar()
		if err != nil {
			return nil, err
		}
		if a := p.next(); !a.is("AND") {
			return nil, p.fail(a, "expected AND in BETWEEN, found %s", a)
		}
		hi, err := p.scalar()
		if err != nil {
			return nil, err
		}
		return &Between{Value: left, Low: lo, High: hi, Not: negated, At: at}, nil
	case t.is("IN"):
		if _, err := p.expect("("); err != nil {
			return nil, err
		}
		var list []Expr
		for {
			v, err := p.scalar()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			sep := p.next()
			if sep.kind == tPunct && sep.text == ")" {
				break
			}
			if sep.kind != tPunct || sep.text != "," {
				return nil, p.fail(sep, "expected ',' or ')' in the IN list, found %s", sep)
			}
		}
		return &In{Value: left, List: list, Not: negated, At: at}, nil
	case t.is("IS"):
		n := p.next()
		not := false
		if n.is("NOT") {
			not, n = true, p.next()
		}
		if !n.is("NULL") {
			return nil, p.fail(n, "expected NULL after IS, found %s", n)
		}
		return &IsNull{Value: left, Not: not, At: at}, nil
	}
	return nil, p.fail(t, "expected a comparison (=, <>, <, <=, >, >=), LIKE, BETWEEN, IN or IS NULL after %s, found %s", Format(left), t)
}

// scalar is a property or a literal other than a geometry.
func (p *parser) scalar() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return &String{Value: t.text, At: t.pos}, nil
	case tNumber:
		return number(t)
	case tQuoted:
		return &Property{Name: t.text, At: t.pos}, nil
	case tIdent:
		up := strings.ToUpper(t.text)
		switch {
		case up == "TRUE" || up == "FALSE":
			return &Bool{Value: up == "TRUE", At: t.pos}, nil
		case up == "TIMESTAMP" || up == "DATE":
			if _, err := p.expect("("); err != nil {
				return nil, err
			}
			s := p.next()
			if s.kind != tString {
				return nil, p.fail(s, "%s takes a string, found %s", up, s)
			}
			if _, err := p.expect(")"); err != nil {
				return nil, err
			}
			if up == "DATE" {
				if err := checkDate(s.text); err != nil {
					return nil, p.fail(s, "%v", err)
				}
				return &Date{Value: s.text, At: t.pos}, nil
			}
			ts, err := parseTimestamp(s.text)
			if err != nil {
				return nil, p.fail(s, "%v", err)
			}
			return &Timestamp{Value: ts, At: t.pos}, nil
		case keywords[up]:
			return nil, p.fail(t, "expected a property or a value, found %s", t)
		}
		if n := p.peek(); n.kind == tPunct && n.text == "(" {
			if _, ok := wktTypes[up]; ok || up == "BBOX" || spatialOps[strings.ToLower(up)] {
				return nil, p.fail(t, "%s is not a value to compare: geometries go in the spatial functions (S_INTERSECTS, …)", up)
			}
			return nil, p.fail(t, "function %s is not supported", t.text)
		}
		return &Property{Name: t.text, At: t.pos}, nil
	}
	return nil, p.fail(t, "expected a property or a value, found %s", t)
}

func number(t token) (*Number, error) {
	x, err := strconv.ParseFloat(t.text, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("%s is not a number", t.text)}
	}
	return &Number{Value: x, Raw: t.text, At: t.pos}, nil
}

// geomOperand is a property, a WKT geometry or a BBOX.
func (p *parser) geomOperand() (Expr, error) {
	t := p.peek()
	if t.kind == tQuoted {
		p.next()
		return &Property{Name: t.text, At: t.pos}, nil
	}
	if t.kind != tIdent || keywords[strings.ToUpper(t.text)] {
		return nil, p.fail(t, "expected a property or a geometry, found %s", t)
	}
	up := strings.ToUpper(t.text)
	if up == "BBOX" {
		p.next()
		if _, err := p.expect("("); err != nil {
			return nil, err
		}
		var v [6]float64
		n := 0
		for {
			x, err := p.coord()
			if err != nil {
				return nil, err
			}
			if n == 6 {
				return nil, p.fail(t, "BBOX takes 4 numbers")
			}
			v[n] = x
			n++
			sep := p.next()
			if sep.kind == tPunct && sep.text == ")" {
				break
			}
			if sep.kind != tPunct || sep.text != "," {
				return nil, p.fail(sep, "expected ',' or ')' in BBOX, found %s", sep)
			}
		}
		switch n {
		case 4:
			if v[0] > v[2] || v[1] > v[3] {
				return nil, p.fail(t, "BBOX is min x, min y, max x, max y: min before max")
			}
			return &Geometry{Geom: orb.Bound{Min: orb.Point{v[0], v[1]}, Max: orb.Point{v[2], v[3]}}, At: t.pos}, nil
		case 6:
			return nil, p.fail(t, "3D coordinates are not supported")
		}
		return nil, p.fail(t, "BBOX takes 4 numbers, not %d", n)
	}
	if _, ok := wktTypes[up]; ok {
		p.next()
		g, err := p.wkt(t, up)
		if err != nil {
			return nil, err
		}
		return &Geometry{Geom: g, At: t.pos}, nil
	}
	if n := p.toks[min(p.i+1, len(p.toks)-1)]; n.kind == tPunct && n.text == "(" {
		return nil, p.fail(t, "function %s is not supported", t.text)
	}
	p.next()
	return &Property{Name: t.text, At: t.pos}, nil
}

var wktTypes = map[string]bool{"POINT": true, "LINESTRING": true, "POLYGON": true, "MULTIPOINT": true,
	"MULTILINESTRING": true, "MULTIPOLYGON": true, "GEOMETRYCOLLECTION": true}

func (p *parser) coord() (float64, error) {
	t := p.next()
	if t.kind != tNumber {
		return 0, p.fail(t, "expected a number, found %s", t)
	}
	n, err := number(t)
	if err != nil {
		return 0, err
	}
	return n.Value, nil
}

// wkt reads the rest of a WKT geometry of type typ (its name already read).
func (p *parser) wkt(at token, typ string) (orb.Geometry, error) {
	if err := p.enter(at); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if t := p.peek(); t.is("Z") || t.is("M") || t.is("ZM") {
		return nil, p.fail(t, "3D coordinates are not supported")
	}
	if p.peek().is("EMPTY") {
		p.next()
		switch typ {
		case "POINT":
			return nil, p.fail(at, "POINT EMPTY is not supported")
		case "LINESTRING":
			return orb.LineString{}, nil
		case "POLYGON":
			return orb.Polygon{}, nil
		case "MULTIPOINT":
			return orb.MultiPoint{}, nil
		case "MULTILINESTRING":
			return orb.MultiLineString{}, nil
		case "MULTIPOLYGON":
			return orb.MultiPolygon{}, nil
		default:
			return orb.Collection{}, nil
		}
	}
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	var g orb.Geometry
	var err error
	switch typ {
	case "POINT":
		var pt orb.Point
		pt, err = p.point()
		g = pt
	case "LINESTRING":
		var ls []orb.Point
		ls, err = p.points(false)
		g = orb.LineString(ls)
	case "POLYGON":
		var poly orb.Polygon
		poly, err = p.rings()
		g = poly
	case "MULTIPOINT":
		var mp []orb.Point
		mp, err = p.points(true)
		g = orb.MultiPoint(mp)
	case "MULTILINESTRING":
		var mls orb.MultiLineString
		for {
			if _, err = p.expect("("); err != nil {
				return nil, err
			}
			var ls []orb.Point
			if ls, err = p.points(false); err != nil {
				return nil, err
			}
			mls = append(mls, ls)
			more, err := p.more()
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
		}
		g = mls
	case "MULTIPOLYGON":
		var mp orb.MultiPolygon
		for {
			if _, err = p.expect("("); err != nil {
				return nil, err
			}
			var poly orb.Polygon
			if poly, err = p.rings(); err != nil {
				return nil, err
			}
			mp = append(mp, poly)
			more, err := p.more()
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
		}
		g = mp
	case "GEOMETRYCOLLECTION":
		var c orb.Collection
		for {
			t := p.next()
			if _, ok := wktTypes[strings.ToUpper(t.text)]; t.kind != tIdent || !ok {
				return nil, p.fail(t, "expected a geometry in GEOMETRYCOLLECTION, found %s", t)
			}
			var m orb.Geometry
			if m, err = p.wkt(t, strings.ToUpper(t.text)); err != nil {
				return nil, err
			}
			c = append(c, m)
			more, err := p.more()
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
		}
		g = c
	}
	if err != nil {
		return nil, err
	}
	if typ == "MULTILINESTRING" || typ == "MULTIPOLYGON" || typ == "GEOMETRYCOLLECTION" {
		return g, nil // more() read the closing parenthesis
	}
	if typ == "POINT" {
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// more reads ',' (true) or ')' (false) after an element of a list.
func (p *parser) more() (bool, error) {
	t := p.next()
	if t.kind == tPunct && t.text == "," {
		return true, nil
	}
	if t.kind == tPunct && t.text == ")" {
		return false, nil
	}
	return false, p.fail(t, "expected ',' or ')', found %s", t)
}

// point reads "x y".
func (p *parser) point() (orb.Point, error) {
	x, err := p.coord()
	if err != nil {
		return orb.Point{}, err
	}
	y, err := p.coord()
	if err != nil {
		return orb.Point{}, err
	}
	if t := p.peek(); t.kind == tNumber {
		return orb.Point{}, p.fail(t, "3D coordinates are not supported")
	}
	return orb.Point{x, y}, nil
}

// points reads "x y, x y, ...)" (the opening parenthesis read); parens allows the
// MULTIPOINT form "(x y), (x y)".
func (p *parser) points(parens bool) ([]orb.Point, error) {
	var out []orb.Point
	for {
		wrapped := false
		if t := p.peek(); parens && t.kind == tPunct && t.text == "(" {
			p.next()
			wrapped = true
		}
		pt, err := p.point()
		if err != nil {
			return nil, err
		}
		if wrapped {
			if _, err := p.expect(")"); err != nil {
				return nil, err
			}
		}
		out = append(out, pt)
		t := p.next()
		if t.kind == tPunct && t.text == ")" {
			return out, nil
		}
		if t.kind != tPunct || t.text != "," {
			return nil, p.fail(t, "expected ',' or ')' in a coordinate list, found %s", t)
		}
	}
}

// rings reads "(x y, ...), (x y, ...))" (the polygon's opening parenthesis read).
func (p *parser) rings() (orb.Polygon, error) {
	var out orb.Polygon
	for {
		if _, err := p.expect("("); err != nil {
			return nil, err
		}
		pts, err := p.points(false)
		if err != nil {
			return nil, err
		}
		out = append(out, pts)
		t := p.next()
		if t.kind == tPunct && t.text == ")" {
			return out, nil
		}
		if t.kind != tPunct || t.text != "," {
			return nil, p.fail(t, "expected ',' or ')' after a ring, found %s", t)
		}
	}
}
