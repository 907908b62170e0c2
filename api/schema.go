package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"

	"safegrid/grid"
)

// Schema is an OpenAPI schema object written by hand, for JSON without a Go type (GeoJSON
// geometries, OGC documents). Operation.Body and Response take one instead of a Go value.
type Schema map[string]any

// schemas reflects Go types into OpenAPI schemas, named struct types becoming components
// (#/components/schemas/Name), so the document describes what the handlers really encode.
// Struct tags it reads besides json: doc:"description", enum:"a,b,c", format:"date", and
// the rules decodeJSON enforces (strictjson.go): required:"true", maxLength:"100" (on a
// list: of each string), minimum:"0" (exclusiveMinimum:"true": above it), maximum:"9", and
// pattern:"^...$".
//
// What is required differs by direction. In an answer, every field without omitempty is
// required: the handler always writes it. In a request body (request set), only the
// fields tagged required:"true" are, the ones decodeJSON refuses to go without; the rest
// are optional or have defaults. A type reflected both ways whose two schemas differ
// gets a second component for requests, Name+"Input", so request bodies are reflected
// after every answer (Server.openAPI).
type schemas struct {
	defs    map[string]Schema
	types   map[string]reflect.Type
	request bool
	inputs  map[reflect.Type]string // request-side components by type
}

func newSchemas() *schemas {
	return &schemas{defs: map[string]Schema{}, types: map[string]reflect.Type{}, inputs: map[reflect.Type]string{}}
}

// of is the schema of v's type (or v itself when it is a Schema).
func (sc *schemas) of(v any) Schema {
	if s, ok := v.(Schema); ok {
		return s
	}
	return sc.typ(reflect.TypeOf(v))
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	gridTimeType = reflect.TypeFor[grid.Time]()
	rawType      = reflect.TypeFor[json.RawMessage]()
)

func (sc *schemas) typ(t reflect.Type) Schema {
	switch {
	case t == timeType || t == gridTimeType:
		return Schema{"type": "string", "format": "date-time"}
	case t == rawType:
		return Schema{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := sc.typ(t.Elem())
		if _, ref := inner["$ref"]; ref {
			return Schema{"allOf": []any{inner}, "nullable": true}
		}
		out := Schema{"nullable": true}
		for k, v := range inner {
			out[k] = v
		}
		return out
	case reflect.String:
		return Schema{"type": "string"}
	case reflect.Bool:
		return Schema{"type": "boolean"}
	case reflect.Int64, reflect.Uint64:
		return Schema{"type": "integer", "format": "int64"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return Schema{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return Schema{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return Schema{"type": "string", "format": "byte"}
		}
		return Schema{"type": "array", "items": sc.typ(t.Elem())}
	case reflect.Map:
		return Schema{"type": "object", "additionalProperties": sc.typ(t.Elem())}
	case reflect.Struct:
		return sc.structRef(t)
	default: // interfaces: any JSON
		return Schema{}
	}
}

// structRef registers a named struct as a component and refers to it; anonymous structs
// are written inline.
func (sc *schemas) structRef(t reflect.Type) Schema {
	if t.Name() == "" {
		return sc.object(t)
	}
	name := componentName(t.Name())
	if sc.request {
		return sc.inputRef(t, name)
	}
	ref := Schema{"$ref": "#/components/schemas/" + name}
	if prev, ok := sc.types[name]; ok {
		if prev != t {
			panic(fmt.Sprintf("OpenAPI schema %s: both %v and %v; rename one", name, prev, t))
		}
		return ref
	}
	sc.types[name] = t // before the fields, so a type that contains itself terminates
	sc.defs[name] = sc.object(t)
	return ref
}

// inputRef registers t as a request body's part: under name when no answer uses that
// name, or uses it with the same schema; else as name+"Input".
func (sc *schemas) inputRef(t reflect.Type, name string) Schema {
	ref := func(n string) Schema { return Schema{"$ref": "#/components/schemas/" + n} }
	if n, ok := sc.inputs[t]; ok {
		if n == "" {
			panic(fmt.Sprintf("OpenAPI schema %s: a request type that contains itself", name))
		}
		return ref(n)
	}
	sc.inputs[t] = "" // in progress
	obj := sc.object(t)
	if prev, ok := sc.types[name]; ok {
		if prev == t && reflect.DeepEqual(sc.defs[name], obj) {
			sc.inputs[t] = name
			return ref(name)
		}
		name += "Input"
		if prev, ok := sc.types[name]; ok && prev != t {
			panic(fmt.Sprintf("OpenAPI schema %s: both %v and %v; rename one", name, prev, t))
		}
	}
	sc.types[name], sc.defs[name], sc.inputs[t] = t, obj, name
	return ref(name)
}

func componentName(goName string) string {
	r := []rune(goName)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func (sc *schemas) object(t reflect.Type) Schema {
	props := map[string]any{}
	var required []string
	sc.fields(t, props, &required)
	s := Schema{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// fields adds t's JSON fields as encoding/json sees them (embedded structs flattened),
// listing the required ones as the direction says (see schemas).
func (sc *schemas) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			sc.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := sc.typ(f.Type)
		if doc := f.Tag.Get("doc"); doc != "" {
			s = withKey(s, "description", doc)
		}
		if enum := f.Tag.Get("enum"); enum != "" {
			s = withKey(s, "enum", strings.Split(enum, ","))
		}
		if format := f.Tag.Get("format"); format != "" {
			s = withKey(s, "format", format)
		}
		s = withLimits(s, f)
		props[name] = s
		if sc.request && f.Tag.Get("required") == "true" || !sc.request && !strings.Contains(opts, "omitempty") {
			*required = append(*required, name)
		}
	}
}

// withLimits writes a field's limit tags into its schema (a list's maxLength and pattern
// are its strings', its minimum and maximum its numbers').
func withLimits(s Schema, f reflect.StructField) Schema {
	r := rulesOf(f)
	str := Schema{}
	if r.maxLength > 0 {
		str["maxLength"] = r.maxLength
	}
	if p := f.Tag.Get("pattern"); p != "" {
		str["pattern"] = p
	}
	// A number's range; on a list, of each of its numbers (decodeJSON checks each).
	if r.minimum != nil {
		str["minimum"] = *r.minimum
		if r.exclusiveMin {
			str["exclusiveMinimum"] = true
		}
	}
	if r.maximum != nil {
		str["maximum"] = *r.maximum
	}
	if items, ok := s["items"].(Schema); ok && len(str) > 0 {
		for k, v := range str {
			items = withKey(items, k, v)
		}
		s = withKey(s, "items", items)
	} else {
		for k, v := range str {
			s = withKey(s, k, v)
		}
	}
	return s
}

// withKey adds a keyword to s; beside a $ref (which OpenAPI 3.0 reads alone) it wraps
// the reference in allOf.
func withKey(s Schema, key string, v any) Schema {
	out := Schema{}
	if _, ref := s["$ref"]; ref {
		out["allOf"] = []any{s}
	} else {
		for k, x := range s {
			out[k] = x
		}
	}
	out[key] = v
	return out
}

// featureCollectionSchema documents a GeoJSON FeatureCollection whose features have the
// geometry geomDoc describes and the properties props (GeoJSON, so no Go type to derive
// it from).
func featureCollectionSchema(doc, geomDoc string, props map[string]any) Schema {
	return Schema{
		"type": "object", "description": doc, "required": []string{"type", "features"},
		"properties": map[string]any{
			"type": Schema{"type": "string", "enum": []string{"FeatureCollection"}},
			"features": Schema{"type": "array", "items": Schema{
				"type": "object",
				"properties": map[string]any{
					"type":       Schema{"type": "string", "enum": []string{"Feature"}},
					"geometry":   Schema{"type": "object", "description": geomDoc},
					"properties": Schema{"type": "object", "properties": props},
				},
			}},
		},
	}
}
