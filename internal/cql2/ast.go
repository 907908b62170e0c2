// Package cql2 parses OGC CQL2 filters (OGC 21-065r2, the Common Query Language of OGC API
// Features Part 3), in the text and the JSON encoding, into one syntax tree. It knows no
// properties and no SQL: the caller checks the properties against its queryables and
// compiles the tree (grid/layers does, binding every value).
//
// Covered: AND, OR, NOT, comparisons (= <> < <= > >=), LIKE, BETWEEN, IN, IS NULL, the
// spatial functions S_INTERSECTS, S_EQUALS, S_DISJOINT, S_TOUCHES, S_WITHIN, S_OVERLAPS,
// S_CROSSES, S_CONTAINS with WKT (2D) and BBOX literals, TIMESTAMP and DATE literals,
// strings, numbers and booleans. Not covered (an Error names the function): arithmetic,
// CASEI/ACCENTI, the temporal (T_*) and array (A_*) functions, other functions.
package cql2

import (
	"fmt"
	"time"

	"github.com/paulmach/orb"
)

// maxDepth bounds nesting (parentheses, NOT chains, geometry collections), so that a
// hostile filter cannot exhaust the stack.
const maxDepth = 64

// Expr is a node of a filter: a condition or an operand. Pos is the byte offset (from 0)
// where the node starts in a text filter, -1 for a JSON one.
type Expr interface{ Pos() int }

// And is a conjunction of two or more conditions (a AND b AND c is one And).
type And struct {
	Args []Expr
	At   int
}

// Or is a disjunction of two or more conditions.
type Or struct {
	Args []Expr
	At   int
}

// Not negates a condition.
type Not struct {
	Arg Expr
	At  int
}

// Compare is a comparison; Op is one of = <> < <= > >=.
type Compare struct {
	Op          string
	Left, Right Expr
	At          int
}

// Like is value [NOT] LIKE pattern (% any characters, _ one, \ escapes).
type Like struct {
	Value, Pattern Expr
	Not            bool
	At             int
}

// Between is value [NOT] BETWEEN low AND high.
type Between struct {
	Value, Low, High Expr
	Not              bool
	At               int
}

// In is value [NOT] IN (list).
type In struct {
	Value Expr
	List  []Expr
	Not   bool
	At    int
}

// IsNull is value IS [NOT] NULL.
type IsNull struct {
	Value Expr
	Not   bool
	At    int
}

// Spatial is a spatial function; Op is its name in lower case, e.g. s_intersects.
type Spatial struct {
	Op          string
	Left, Right Expr
	At          int
}

// Property names a property (a queryable).
type Property struct {
	Name string
	At   int
}

// String is a character string literal.
type String struct {
	Value string
	At    int
}

// Number is a numeric literal; Raw is the literal as written.
type Number struct {
	Value float64
	Raw   string
	At    int
}

// Bool is TRUE or FALSE.
type Bool struct {
	Value bool
	At    int
}

// Timestamp is TIMESTAMP('2026-11-01T00:00:00Z'), in UTC.
type Timestamp struct {
	Value time.Time
	At    int
}

// Date is DATE('2026-11-01'), kept as YYYY-MM-DD.
type Date struct {
	Value string
	At    int
}

// Geometry is a geometry literal: WKT or GeoJSON, or a BBOX (an orb.Bound).
type Geometry struct {
	Geom orb.Geometry
	At   int
}

func (e *And) Pos() int       { return e.At }
func (e *Or) Pos() int        { return e.At }
func (e *Not) Pos() int       { return e.At }
func (e *Compare) Pos() int   { return e.At }
func (e *Like) Pos() int      { return e.At }
func (e *Between) Pos() int   { return e.At }
func (e *In) Pos() int        { return e.At }
func (e *IsNull) Pos() int    { return e.At }
func (e *Spatial) Pos() int   { return e.At }
func (e *Property) Pos() int  { return e.At }
func (e *String) Pos() int    { return e.At }
func (e *Number) Pos() int    { return e.At }
func (e *Bool) Pos() int      { return e.At }
func (e *Timestamp) Pos() int { return e.At }
func (e *Date) Pos() int      { return e.At }
func (e *Geometry) Pos() int  { return e.At }

// Error is a filter that cannot be parsed. Pos is the byte offset in a text filter (-1 for
// JSON); Path locates the node in a JSON filter ("/args/1").
type Error struct {
	Pos  int
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Pos >= 0 {
		return fmt.Sprintf("at position %d: %s", e.Pos, e.Msg)
	}
	if e.Path != "" {
		return fmt.Sprintf("at %s: %s", e.Path, e.Msg)
	}
	return e.Msg
}

// spatialOps are the spatial functions, lower case.
var spatialOps = map[string]bool{
	"s_intersects": true, "s_equals": true, "s_disjoint": true, "s_touches": true,
	"s_within": true, "s_overlaps": true, "s_crosses": true, "s_contains": true,
}

// parseTimestamp reads an RFC 3339 instant with its zone, as CQL2 writes them.
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%q is not a timestamp (RFC 3339 with a zone, e.g. 2026-11-01T00:00:00Z)", s)
	}
	return t.UTC(), nil
}

// checkDate reads a calendar date YYYY-MM-DD.
func checkDate(s string) error {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return nil
}
