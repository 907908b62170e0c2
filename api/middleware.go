package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

type localKey int

const (
	requestIDKey localKey = iota
	principalKey
	matchedKey
	versionsKey // grid.Versions read with the bearer token on kept routes
)

// errClientGone is the cause of a request context cancelled because the client hung up.
var errClientGone = errors.New("client closed the connection")

// errPanic stands for a recovered panic; the panic itself is logged with its stack.
var errPanic = errors.New("handler panicked")

// observe wraps every request: request id, the request's context, panics, the error
// response, the access log and metrics. Errors are turned into responses here rather than
// by fiber afterwards, so the log and metrics see the final status.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	id := requestID(c)
	base, cancelBase := context.WithCancelCause(context.Background())
	ctx, cancel := context.WithTimeout(base, s.cfg.RequestTimeout)
	defer cancel()
	defer cancelBase(nil)
	stop := watchClient(c.Context().Conn(), func() { cancelBase(errClientGone) })
	defer stop()
	c.SetUserContext(ctx)
	securityHeaders(c)

	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	if err := s.next(c, id); err != nil {
		if herr := s.handleError(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	s.record(c, id, time.Since(start))
	return nil
}

// apiCSP is the Content-Security-Policy of everything but the map page (api/web.go has
// that one): API answers are data, never a document to run or to frame.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// securityHeaders are set on every answer, errors and 404s included, before the handler
// runs (a handler may tighten them, as the map page sets its own CSP).
func securityHeaders(c *fiber.Ctx) {
	h := &c.Response().Header
	h.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	h.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	h.Set(fiber.HeaderXFrameOptions, "DENY")
	h.Set(fiber.HeaderContentSecurityPolicy, apiCSP)
}

// next runs the rest of the chain, turning a panic into errPanic.
func (s *Server) next(c *fiber.Ctx, id string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic", "request_id", id, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errPanic
		}
	}()
	return c.Next()
}

// record writes the access log line and the metrics of a finished request.
func (s *Server) record(c *fiber.Ctx, id string, d time.Duration) {
	status := c.Response().StatusCode()
	r := c.Route()
	matched := c.Locals(matchedKey) != nil
	// fasthttp reuses the bytes behind c.Method(); a label must own its string.
	s.metrics.observe(strings.Clone(c.Method()), r.Path, status, d, matched)
	attrs := []slog.Attr{
		slog.String("request_id", id),
		slog.String("method", c.Method()),
		slog.String("path", c.Path()),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.Int("bytes", len(c.Response().Body())),
		slog.String("ip", c.IP()),
	}
	if matched {
		attrs = append(attrs, slog.String("route", r.Path))
	}
	if p := principal(c); p != nil {
		attrs = append(attrs, slog.String("user", p.Username))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(context.Background(), level, "request", attrs...)
}

// markMatched heads every route's chain: it tells record that a route matched, so the
// route template is a metrics label; a request that matched nothing has only observe's
// "/" as its fiber route.
func markMatched(c *fiber.Ctx) error {
	c.Locals(matchedKey, true)
	if err := checkParams(c); err != nil {
		return err
	}
	return c.Next()
}

// checkParams refuses, for every route and before sign-in, path and query parameters
// that no handler could use and PostgreSQL could not store: bytes that are not UTF-8 and
// NUL characters (fasthttp decodes %00 and %FF in a query). A 400 (a malformed request,
// as OGC API Features answers a bad parameter) names the parameter.
func checkParams(c *fiber.Ctx) error {
	for name, v := range c.AllParams() {
		if why := badText(v); why != "" {
			return filterProblem(name, why)
		}
	}
	var bad error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if bad != nil {
			return
		}
		if why := badText(string(k)); why != "" {
			bad = filterProblem("(a query parameter name)", why)
		} else if why := badText(string(v)); why != "" {
			bad = filterProblem(strings.Clone(string(k)), why)
		}
	})
	return bad
}

// refuseUnroutable answers, before fiber sees them, requests fiber cannot route: a method
// that is none of HTTP's (fiber's own answer is a text/plain 400 "Invalid http method")
// and a request target holding a raw NUL byte (fasthttp drops the whole path, so fiber
// would answer a 404 for the empty path). Each is a 400 problem like any other client
// mistake, with the security headers, the request id and the access log.
func (s *Server) refuseUnroutable(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		var detail string
		switch {
		case !routableMethod(ctx.Method()):
			detail = "unknown HTTP method: use GET, HEAD, POST, PUT, PATCH or DELETE"
		case bytes.IndexByte(ctx.Request.Header.RequestURI(), 0) >= 0:
			detail = "the request target holds a NUL byte: percent-encode it (%00)"
		default:
			next(ctx)
			return
		}
		c := s.app.AcquireCtx(ctx)
		defer s.app.ReleaseCtx(c)
		start := time.Now()
		id := requestID(c)
		securityHeaders(c)
		if err := s.handleError(c, Problem(fiber.StatusBadRequest, "", detail)); err != nil {
			_ = c.SendStatus(fiber.StatusBadRequest)
		}
		s.record(c, id, time.Since(start))
	}
}

// routableMethod tells whether fiber routes method: fiber.DefaultMethods, the methods of
// HTTP (Config.RequestMethods is not changed).
func routableMethod(method []byte) bool {
	switch string(method) {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
		fiber.MethodDelete, fiber.MethodConnect, fiber.MethodOptions, fiber.MethodTrace:
		return true
	}
	return false
}

// badText says what is wrong with a parameter's text, or "".
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8 text"
	case strings.ContainsRune(s, 0):
		return "contains a NUL character"
	}
	return ""
}

// requestID returns the request's id: the client's X-Request-ID when it is sane, else a
// new one. It is echoed in the response header and in problem bodies, and logged, so one
// id ties a user's report to the log lines.
func requestID(c *fiber.Ctx) string {
	if id, ok := c.Locals(requestIDKey).(string); ok {
		return id
	}
	id := c.Get(fiber.HeaderXRequestID)
	if !validRequestID(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	} else {
		id = strings.Clone(id) // fasthttp reuses the header buffer after the request
	}
	c.Locals(requestIDKey, id)
	c.Set(fiber.HeaderXRequestID, id)
	return id
}

// validRequestID keeps client ids short and printable, so they cannot forge log lines.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return false
		}
	}
	return true
}

// logger is the service's logger with the request's id, for handlers that log.
func (s *Server) logger(c *fiber.Ctx) *slog.Logger {
	return s.log.With("request_id", requestID(c))
}
