package cql2

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// ParseJSON parses a cql2-json filter: {"op": "and", "args": [...]}, {"property": "x"},
// {"timestamp": "..."}, {"date": "..."}, {"bbox": [...]}, GeoJSON geometries, strings,
// numbers and booleans.
func ParseJSON(b []byte) (Expr, error) {
	if !utf8.Valid(b) {
		return nil, &Error{Pos: -1, Msg: "invalid UTF-8"}
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, &Error{Pos: -1, Msg: "a NUL byte"}
	}
	if err := checkJSONDepth(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &Error{Pos: -1, Msg: "not JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, &Error{Pos: -1, Msg: "more than one JSON value"}
	}
	return jsonCondition(v, "")
}

// checkJSONDepth refuses nesting deeper than the package allows, before decoding.
func checkJSONDepth(b []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > 3*maxDepth {
				return &Error{Pos: -1, Msg: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

func jsonErr(path, format string, args ...any) error {
	if path == "" {
		path = "/"
	}
	return &Error{Pos: -1, Path: path, Msg: fmt.Sprintf(format, args...)}
}

var comparisonOps = []string{"=", "<>", "<", "<=", ">", ">="}

// jsonCondition reads a condition: an operation (a boolean literal is not one).
func jsonCondition(v any, path string) (Expr, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, jsonErr(path, "expected a condition ({\"op\": ..., \"args\": [...]}), found %s", describe(v))
	}
	if _, ok := m["op"]; !ok {
		return nil, jsonErr(path, "expected a condition ({\"op\": ..., \"args\": [...]}), found %s", describe(v))
	}
	return jsonOp(m, path, 0)
}

func jsonOp(m map[string]any, path string, depth int) (Expr, error) {
	if depth > maxDepth {
		return nil, jsonErr(path, "nested deeper than %d levels", maxDepth)
	}
	for k := range m {
		if k != "op" && k != "args" {
			return nil, jsonErr(path, "unknown member %q of an operation", k)
		}
	}
	op, ok := m["op"].(string)
	if !ok {
		return nil, jsonErr(path+"/op", "op must be a string")
	}
	args, ok := m["args"].([]any)
	if !ok {
		return nil, jsonErr(path+"/args", "args must be an array")
	}
	arity := func(n int) error {
		if len(args) != n {
			return jsonErr(path+"/args", "%s takes %d arguments, not %d", op, n, len(args))
		}
		return nil
	}
	argPath := func(i int) string { return path + "/args/" + strconv.Itoa(i) }
	cond := func(i int) (Expr, error) {
		sub, ok := args[i].(map[string]any)
		if !ok || sub["op"] == nil {
			return nil, jsonErr(argPath(i), "expected a condition, found %s", describe(args[i]))
		}
		return jsonOp(sub, argPath(i), depth+1)
	}
	scalar := func(i int) (Expr, error) { return jsonScalar(args[i], argPath(i)) }
	switch {
	case op == "and" || op == "or":
		if len(args) < 2 {
			return nil, jsonErr(path+"/args", "%s takes 2 or more arguments", op)
		}
		out := make([]Expr, len(args))
		for i := range args {
			e, err := cond(i)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		if op == "and" {
			return &And{Args: out, At: -1}, nil
		}
		return &Or{Args: out, At: -1}, nil
	case op == "not":
		if err := arity(1); err != nil {
			return nil, err
		}
		e, err := cond(0)
		if err != nil {
			return nil, err
		}
		return &Not{Arg: e, At: -1}, nil
	case slices.Contains(comparisonOps, op) || op == "like":
		if err := arity(2); err != nil {
			return nil, err
		}
		a, err := scalar(0)
		if err != nil {
			return nil, err
		}
		b, err := scalar(1)
		if err != nil {
			return nil, err
		}
		if op == "like" {
			return &Like{Value: a, Pattern: b, At: -1}, nil
		}
		return &Compare{Op: op, Left: a, Right: b, At: -1}, nil
	case op == "between":
		if err := arity(3); err != nil {
			return nil, err
		}
		var e [3]Expr
		for i := range e {
			var err error
			if e[i], err = scalar(i); err != nil {
				return nil, err
			}
		}
		return &Between{Value: e[0], Low: e[1], High: e[2], At: -1}, nil
	case op == "in":
		if err := arity(2); err != nil {
			return nil, err
		}
		a, err := scalar(0)
		if err != nil {
			return nil, err
		}
		list, ok := args[1].([]any)
		if !ok || len(list) == 0 {
			return nil, jsonErr(argPath(1), "in takes a non-empty array of values")
		}
		out := make([]Expr, len(list))
		for i, v := range list {
			if out[i], err = jsonScalar(v, argPath(1)+"/"+strconv.Itoa(i)); err != nil {
				return nil, err
			}
		}
		return &In{Value: a, List: out, At: -1}, nil
	case op == "isNull":
		if err := arity(1); err != nil {
			return nil, err
		}
		a, err := scalar(0)
		if err != nil {
			return nil, err
		}
		return &IsNull{Value: a, At: -1}, nil
	case spatialOps[op]:
		if err := arity(2); err != nil {
			return nil, err
		}
		var e [2]Expr
		for i := range e {
			var err error
			if e[i], err = jsonGeomOperand(args[i], argPath(i)); err != nil {
				return nil, err
			}
		}
		return &Spatial{Op: op, Left: e[0], Right: e[1], At: -1}, nil
	}
	return nil, jsonErr(path+"/op", "operator %q is not supported", op)
}

// jsonScalar reads a property or a literal other than a geometry.
func jsonScalar(v any, path string) (Expr, error) {
	switch x := v.(type) {
	case string:
		return &String{Value: x, At: -1}, nil
	case bool:
		return &Bool{Value: x, At: -1}, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, jsonErr(path, "%s is not a number", x)
		}
		return &Number{Value: f, Raw: string(x), At: -1}, nil
	case map[string]any:
		if _, ok := x["op"]; ok {
			return nil, jsonErr(path, "a condition is not a value")
		}
		if len(x) != 1 {
			return nil, jsonErr(path, "expected {\"property\": ...}, {\"timestamp\": ...} or {\"date\": ...}, found %s", describe(v))
		}
		for k, val := range x {
			s, ok := val.(string)
			switch {
			case k == "op":
				return nil, jsonErr(path, "a condition is not a value")
			case !ok:
				return nil, jsonErr(path+"/"+k, "%s must be a string", k)
			case k == "property":
				if s == "" {
					return nil, jsonErr(path+"/property", "an empty property name")
				}
				return &Property{Name: s, At: -1}, nil
			case k == "timestamp":
				t, err := parseTimestamp(s)
				if err != nil {
					return nil, jsonErr(path+"/timestamp", "%v", err)
				}
				return &Timestamp{Value: t, At: -1}, nil
			case k == "date":
				if err := checkDate(s); err != nil {
					return nil, jsonErr(path+"/date", "%v", err)
				}
				return &Date{Value: s, At: -1}, nil
			}
			return nil, jsonErr(path, "unknown member %q (expected property, timestamp or date)", k)
		}
	}
	return nil, jsonErr(path, "expected a property or a value, found %s", describe(v))
}

// jsonGeomOperand reads a property, a GeoJSON geometry or a bbox.
func jsonGeomOperand(v any, path string) (Expr, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, jsonErr(path, "expected a property or a geometry, found %s", describe(v))
	}
	if _, ok := m["property"]; ok {
		return jsonScalar(v, path)
	}
	if raw, ok := m["bbox"]; ok {
		if len(m) != 1 {
			return nil, jsonErr(path, "a bbox has one member")
		}
		nums, ok := raw.([]any)
		if !ok || (len(nums) != 4 && len(nums) != 6) {
			return nil, jsonErr(path+"/bbox", "bbox takes 4 numbers")
		}
		if len(nums) == 6 {
			return nil, jsonErr(path+"/bbox", "3D coordinates are not supported")
		}
		var b [4]float64
		for i, n := range nums {
			num, ok := n.(json.Number)
			f, err := num.Float64()
			if !ok || err != nil || math.IsInf(f, 0) {
				return nil, jsonErr(path+"/bbox/"+strconv.Itoa(i), "expected a number")
			}
			b[i] = f
		}
		if b[0] > b[2] || b[1] > b[3] {
			return nil, jsonErr(path+"/bbox", "bbox is min x, min y, max x, max y: min before max")
		}
		return &Geometry{Geom: orb.Bound{Min: orb.Point{b[0], b[1]}, Max: orb.Point{b[2], b[3]}}, At: -1}, nil
	}
	if _, ok := m["type"]; ok {
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, jsonErr(path, "%v", err)
		}
		if err := check2D(m, path, 0); err != nil {
			return nil, err
		}
		g, err := geojson.UnmarshalGeometry(raw)
		if err != nil || g.Geometry() == nil {
			msg := "not a GeoJSON geometry"
			if err != nil {
				msg += ": " + err.Error()
			}
			return nil, jsonErr(path, "%s", msg)
		}
		return &Geometry{Geom: g.Geometry(), At: -1}, nil
	}
	return nil, jsonErr(path, "expected a property or a geometry, found %s", describe(v))
}

// check2D refuses positions with more than two numbers, and members a GeoJSON geometry
// does not have.
func check2D(v any, path string, depth int) error {
	if depth > maxDepth {
		return jsonErr(path, "nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch k {
			case "type", "bbox":
			case "coordinates", "geometries":
				if err := check2D(val, path+"/"+k, depth+1); err != nil {
					return err
				}
			default:
				return jsonErr(path, "unknown member %q of a geometry", k)
			}
		}
	case []any:
		if len(x) > 2 && !slices.ContainsFunc(x, func(e any) bool { _, ok := e.(json.Number); return !ok }) {
			return jsonErr(path, "3D coordinates are not supported")
		}
		for i, e := range x {
			if err := check2D(e, path+"/"+strconv.Itoa(i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case bool, json.Number:
		return fmt.Sprint(x)
	case []any:
		return "an array"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "an object with " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%T", v)
}
