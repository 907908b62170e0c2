package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
)

// decodeJSON reads the request body into v strictly: one JSON value in UTF-8, field names
// matched exactly (case-sensitively), no unknown or repeated fields, no NUL characters,
// strings and numbers within their fields' limits (strictjson.go). Malformed JSON or a
// body that is not UTF-8 is a 400; any other refusal is a 422 naming the field (dotted
// path, e.g. "plan.funds", "cells[3]"). The Content-Type is not checked, so `curl -d`
// works. A field tagged required:"true" that is absent is a 422 naming it (the OpenAPI
// document lists exactly those as required); empty and allowed values are the handler's
// to check, with FieldProblem.
func decodeJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return Problem(fiber.StatusBadRequest, "", "the request body is empty: send a JSON object")
	}
	if err := checkJSON(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Problem(fiber.StatusBadRequest, "", "the request body holds more than one JSON value")
	}
	return nil
}

func jsonProblem(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var ie *json.InvalidUnmarshalError
	switch {
	case errors.As(err, &se):
		return Problem(fiber.StatusBadRequest, "", fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Problem(fiber.StatusBadRequest, "", "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &te):
		if te.Field == "" {
			return FieldProblem("", fmt.Sprintf("the body must be %s, not %s", jsonKind(te.Type), te.Value))
		}
		return FieldProblem(te.Field, fmt.Sprintf("must be %s, not %s", jsonKind(te.Type), te.Value))
	case errors.As(err, &ie):
		return err // a handler bug (decoding into a non-pointer): a 500
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		name, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if uerr != nil {
			name = strings.TrimPrefix(err.Error(), "json: unknown field ")
		}
		return FieldProblem(name, "is not a field of this request")
	default:
		// An UnmarshalJSON method refused the value (a date, an enumeration); its message
		// is ours or the standard library's, never the database's.
		return FieldProblem("", err.Error())
	}
}

// jsonKind names a Go type as the JSON a client should have sent.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// queryInt reads an optional integer query parameter: def when absent, a 422 naming the
// parameter when it is not an integer in [lo, hi].
func queryInt(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, FieldProblem(name, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
	}
	return n, nil
}

// page reads the limit and offset query parameters of a paged list. A limit above
// Config.MaxLimit is lowered to it rather than refused, as OGC API Features recommends
// (clients such as GDAL ask for large pages and follow the next links).
func (s *Server) page(c *fiber.Ctx) (limit, offset int, err error) {
	limit, err = queryInt(c, "limit", s.cfg.DefaultLimit, 1, int(^uint32(0)>>1))
	if err != nil {
		return 0, 0, err
	}
	offset, err = queryInt(c, "offset", 0, 0, int(^uint32(0)>>1))
	return min(limit, s.cfg.MaxLimit), offset, err
}

// areaFilter reads an optional query parameter naming an area of level ("district" 6
// digits, "street" 9): "" when absent, and a 400 naming the parameter when the code is
// malformed or no such area is loaded, so a typo is not answered with an empty list.
func (s *Server) areaFilter(c *fiber.Ctx, name, level string) (string, error) {
	code := strings.TrimSpace(c.Query(name))
	if code == "" {
		return "", nil
	}
	digits := map[string]int{"district": 6, "street": 9}[level]
	if len(code) != digits || strings.Trim(code, "0123456789") != "" {
		return "", filterProblem(name, fmt.Sprintf("must be a %d-digit %s code", digits, level))
	}
	ok, err := s.supervise.AreaExists(c.UserContext(), level, code)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", filterProblem(name, fmt.Sprintf("no %s has the code %s", level, code))
	}
	return code, nil
}

// filterProblem is the 400 of a filter value that selects nothing that could exist.
func filterProblem(name, reason string) error {
	p := newProblem(fiber.StatusBadRequest, "", name+": "+reason)
	p.Errors = []FieldError{{Field: name, Reason: reason}}
	return p
}

// queryBool reads an optional boolean query parameter (true/false/1/0, spaces around it
// ignored; absent is false).
func queryBool(c *fiber.Ctx, name string) (bool, error) {
	raw := strings.TrimSpace(c.Query(name))
	if raw == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return false, FieldProblem(name, "must be true or false")
	}
	return v, nil
}

// pathID reads the :id path parameter of a thing called what (hazard, session, webhook,
// ...): anything but a positive integer names no such thing, a 404 like a missing one.
func pathID(c *fiber.Ctx, what string) (int64, error) {
	raw := c.Params("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, &grid.NotFoundError{What: what, Key: raw}
	}
	return id, nil
}
