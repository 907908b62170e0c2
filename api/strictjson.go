package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// defaultMaxLength is the most characters of a request body's string field that states
// no maxLength of its own (the OpenAPI document says so in its description).
const defaultMaxLength = 1000

// Rules a request type's fields may state in struct tags, checked by decodeJSON and
// written into the OpenAPI schema (schema.go):
//
//	required:"true"    the field must be present (null counts as present: the handler
//	                   checks values); a request type's other fields are optional
//	maxLength:"2000"   the most characters of a string (or of each string of a list)
//	minimum:"1"        the least value of a number
//	exclusiveMinimum:"true"  with minimum: the number must be above it, not equal to it
//	maximum:"100"      the largest value of a number
//
// An int field without a range must fit PostgreSQL's integer (32 bits).

// fieldRules are one field's limits.
type fieldRules struct {
	maxLength int
	minimum   *float64
	maximum   *float64
	// exclusiveMin: the number must be above minimum (exclusiveMinimum:"true").
	exclusiveMin bool
}

func rulesOf(f reflect.StructField) fieldRules {
	var r fieldRules
	if v := f.Tag.Get("maxLength"); v != "" {
		r.maxLength, _ = strconv.Atoi(v)
	}
	num := func(tag string) *float64 {
		v := f.Tag.Get(tag)
		if v == "" {
			return nil
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			panic(fmt.Sprintf("field %s: %s:%q is not a number", f.Name, tag, v))
		}
		return &x
	}
	r.minimum, r.maximum = num("minimum"), num("maximum")
	r.exclusiveMin = f.Tag.Get("exclusiveMinimum") == "true"
	if r.exclusiveMin && r.minimum == nil {
		panic(fmt.Sprintf("field %s: exclusiveMinimum without minimum", f.Name))
	}
	return r
}

// jsonField is one field of a struct as encoding/json names it.
type jsonField struct {
	name  string
	typ   reflect.Type
	rules fieldRules
}

type structFields struct {
	exact    map[string]jsonField
	folded   map[string]string // lower-cased name → name, for a helpful refusal
	required []string          // the fields tagged required:"true", in order
}

var fieldCache sync.Map // reflect.Type → *structFields

func fieldsOf(t reflect.Type) *structFields {
	if v, ok := fieldCache.Load(t); ok {
		return v.(*structFields)
	}
	sf := &structFields{exact: map[string]jsonField{}, folded: map[string]string{}}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || !f.IsExported() && !f.Anonymous {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				add(f.Type)
				continue
			}
			if name == "" {
				name = f.Name
			}
			sf.exact[name] = jsonField{name: name, typ: f.Type, rules: rulesOf(f)}
			sf.folded[strings.ToLower(name)] = name
			if f.Tag.Get("required") == "true" {
				sf.required = append(sf.required, name)
			}
		}
	}
	add(t)
	fieldCache.Store(t, sf)
	return sf
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkJSON walks body against t before it is decoded, refusing what encoding/json lets
// through: keys that match a field only case-insensitively ({"Level": ...}), keys given
// twice, a NUL character in any string (PostgreSQL cannot store it), strings longer than
// their field's maxLength and numbers outside its range. Type mismatches are left to the
// decoder, which names them. A body that is not UTF-8 is refused naming the field whose
// string holds the first bad byte (encoding/json would quietly turn it into U+FFFD).
func checkJSON(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := &walker{dec: dec, badAt: -1}
	if !utf8.Valid(body) {
		w.badAt = int64(firstBadByte(body))
	}
	err := w.value(t, "", fieldRules{})
	switch {
	case err != nil && !errors.Is(err, errStopWalk):
		return err
	case w.badAt >= 0:
		return Problem(400, "", fmt.Sprintf("the request body is not valid UTF-8 (byte %d); send JSON in UTF-8", w.badAt))
	}
	return nil // malformed JSON stops the walk: the decoder says where
}

// errStopWalk ends the walk at malformed JSON.
var errStopWalk = errors.New("stop")

type walker struct {
	dec   *json.Decoder
	badAt int64 // the body's first byte that is not UTF-8; -1 for none
}

// token reads the next token; at is the field it belongs to, named when the token holds
// the body's first bad byte.
func (w *walker) token(at string) (json.Token, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return nil, errStopWalk
	}
	if w.badAt >= 0 && w.dec.InputOffset() > w.badAt {
		if _, ok := tok.(string); ok {
			return nil, FieldProblem(at, "is not valid UTF-8 text")
		}
	}
	return tok, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// value walks one JSON value of type t at path.
func (w *walker) value(t reflect.Type, path string, r fieldRules) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := w.token(path)
	if err != nil {
		return err
	}
	if t == nil || t == rawType || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType) {
		return w.skip(tok, path) // its own decoding checks it; strings are still checked for NUL
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch {
		case tok == '{' && t.Kind() == reflect.Struct:
			return w.object(fieldsOf(t), path)
		case tok == '{' && t.Kind() == reflect.Map:
			return w.mapValues(t.Elem(), path)
		case tok == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
			for i := 0; w.dec.More(); i++ {
				if err := w.value(t.Elem(), fmt.Sprintf("%s[%d]", path, i), r); err != nil {
					return err
				}
			}
			_, err := w.token(path)
			return err
		default:
			return w.skip(tok, path) // the decoder names the type mismatch
		}
	case string:
		return checkString(tok, path, r, t.Kind() == reflect.String)
	case json.Number:
		return checkNumber(tok, path, r, t)
	}
	return nil
}

func (w *walker) object(sf *structFields, path string) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.token(join(path, "(a name)"))
		if err != nil {
			return err
		}
		key := tok.(string)
		at := join(path, key)
		if err := checkString(key, at, fieldRules{}, false); err != nil {
			return err
		}
		f, ok := sf.exact[key]
		if !ok {
			if name, near := sf.folded[strings.ToLower(key)]; near {
				return FieldProblem(at, fmt.Sprintf("is not a field of this request: names are case-sensitive (did you mean %q?)", name))
			}
			return FieldProblem(at, "is not a field of this request")
		}
		if seen[key] {
			return FieldProblem(at, "is given twice")
		}
		seen[key] = true
		if err := w.value(f.typ, at, f.rules); err != nil {
			return err
		}
	}
	if _, err := w.token(path); err != nil {
		return err
	}
	var missing []FieldError
	for _, name := range sf.required {
		if !seen[name] {
			missing = append(missing, FieldError{Field: join(path, name), Reason: "is required"})
		}
	}
	if len(missing) > 0 {
		return FieldProblems(missing...)
	}
	return nil
}

func (w *walker) mapValues(elem reflect.Type, path string) error {
	for w.dec.More() {
		tok, err := w.token(join(path, "(a name)"))
		if err != nil {
			return err
		}
		at := join(path, tok.(string))
		if err := checkString(tok.(string), at, fieldRules{}, false); err != nil {
			return err
		}
		if err := w.value(elem, at, fieldRules{}); err != nil {
			return err
		}
	}
	_, err := w.token(path)
	return err
}

// skip consumes the rest of a value that began with tok, checking its strings for NUL.
func (w *walker) skip(tok json.Token, path string) error {
	depth := 0
	for {
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if strings.ContainsRune(v, 0) {
				return FieldProblem(path, "contains a NUL character (\\u0000)")
			}
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = w.token(path); err != nil {
			return err
		}
	}
}

func checkString(s, path string, r fieldRules, isField bool) error {
	if strings.ContainsRune(s, 0) {
		return FieldProblem(path, "contains a NUL character (\\u0000)")
	}
	if !isField {
		return nil
	}
	limit := r.maxLength
	if limit <= 0 {
		limit = defaultMaxLength
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return FieldProblem(path, fmt.Sprintf("is %d characters long; at most %d", n, limit))
	}
	return nil
}

func checkNumber(n json.Number, path string, r fieldRules, t reflect.Type) error {
	lo, hi := r.minimum, r.maximum
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return nil // not an integer, or beyond 64 bits: the decoder names it
		}
		if lo == nil && hi == nil && t.Kind() != reflect.Int64 {
			l, h := float64(-1<<31), float64(1<<31-1)
			lo, hi = &l, &h
		}
		if lo != nil && float64(i) < *lo || hi != nil && float64(i) > *hi {
			return FieldProblem(path, "must be an integer "+rangeText(lo, hi))
		}
	case reflect.Float32, reflect.Float64:
		x, err := n.Float64()
		if err != nil {
			return nil
		}
		if lo != nil && x < *lo || hi != nil && x > *hi {
			return FieldProblem(path, "must be a number "+rangeText(lo, hi))
		}
		if r.exclusiveMin && x == *lo {
			return FieldProblem(path, "must be above "+strconv.FormatFloat(*lo, 'f', -1, 64))
		}
	}
	return nil
}

func rangeText(lo, hi *float64) string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	switch {
	case lo != nil && hi != nil:
		return "from " + f(*lo) + " to " + f(*hi)
	case lo != nil:
		return "of at least " + f(*lo)
	default:
		return "of at most " + f(*hi)
	}
}

// firstBadByte is the offset of b's first byte that is not UTF-8.
func firstBadByte(b []byte) int {
	at := 0
	for at < len(b) {
		r, size := utf8.DecodeRune(b[at:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		at += size
	}
	return at
}
