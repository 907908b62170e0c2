package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/dossier"
	"safegrid/grid/ingest"
	"safegrid/grid/risk"
)

// statusClientClosed is logged and counted when the client hung up before the answer
// (nginx's 499); nobody reads the response.
const statusClientClosed = 499

// problem is an RFC 9457 problem details object. Handlers return one as an error (through
// Problem or FieldProblem); handleError writes it as application/problem+json.
type problem struct {
	Type      string       `json:"type" doc:"about:blank: the status and title say what happened"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty" doc:"what went wrong with this request, for people"`
	RequestID string       `json:"request_id,omitempty" doc:"also in the X-Request-ID header and the service log"`
	Errors    []FieldError `json:"errors,omitempty" doc:"for 422: each field that was refused"`

	retryAfter int // seconds, sent as Retry-After (429, 503)
}

// FieldError names one refused field of a request (a JSON body field, a query parameter,
// or a row and field of an imported file).
type FieldError struct {
	Field  string `json:"field" doc:"JSON field path, query parameter or import column"`
	Reason string `json:"reason"`
	Row    int    `json:"row,omitempty" doc:"the row of an imported file"`
}

func (p *problem) Error() string {
	if p.Detail == "" {
		return p.Title
	}
	return p.Title + ": " + p.Detail
}

// Problem is an error answered with status, title and detail. An empty title is the
// status's own text. detail is shown to the client: never put SQL or internal errors in it.
func Problem(status int, title, detail string) error {
	return newProblem(status, title, detail)
}

// FieldProblem is a 422 naming the field the client got wrong.
func FieldProblem(field, reason string) error {
	return FieldProblems(FieldError{Field: field, Reason: reason})
}

// FieldProblems is a 422 naming every field the client got wrong.
func FieldProblems(errs ...FieldError) error {
	p := newProblem(fiber.StatusUnprocessableEntity, "", fieldDetail(errs))
	p.Errors = errs
	return p
}

func fieldDetail(errs []FieldError) string {
	if len(errs) == 0 {
		return "the request has invalid values"
	}
	e := errs[0]
	d := e.Reason
	if e.Field != "" {
		d = fmt.Sprintf("%s: %s", e.Field, e.Reason)
	}
	if e.Row > 0 {
		d = fmt.Sprintf("row %d, %s", e.Row, d)
	}
	if len(errs) > 1 {
		d += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	return d
}

func newProblem(status int, title, detail string) *problem {
	if title == "" {
		title = http.StatusText(status)
	}
	return &problem{Type: "about:blank", Title: title, Status: status, Detail: detail}
}

// handleError is the one place where errors become responses (fiber's ErrorHandler, and
// observe calls it too). 5xx are logged with the real error and the request id; the client
// sees only a generic detail.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	id := requestID(c)
	p := toProblem(c.UserContext(), err)
	if p.Status >= 500 {
		s.log.Error("request failed", "request_id", id, "method", c.Method(), "path", c.Path(), "status", p.Status, "error", err.Error())
	}
	if p.Status == fiber.StatusRequestEntityTooLarge && p.Detail == "" && s.limits != nil {
		// A body over its route's limit (bodylimit.go): name the limit.
		p.Detail = "the request body is larger than this route's limit, " + byteSize(s.limits.limit(&c.Request().Header))
	}
	if p.Status == statusClientClosed {
		return c.SendStatus(statusClientClosed)
	}
	if p.Status == fiber.StatusInternalServerError {
		p.Detail = "an unexpected error occurred; quote the request id " + id + " when you report it"
	}
	p.RequestID = id
	if p.retryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(p.retryAfter))
	}
	body, jerr := json.Marshal(p)
	if jerr != nil {
		return jerr
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(p.Status).Send(body)
}

// toProblem maps typed errors to statuses. Anything unknown is a 500.
func toProblem(ctx context.Context, err error) *problem {
	err = grid.Typed(err)
	var (
		p   *problem
		fe  *fiber.Error
		nf  *grid.NotFoundError
		inv *grid.InvalidError
		ifs *grid.InvalidFieldsError
		ie  *ingest.ImportError
		fle *ingest.FileError
		ii  *ingest.InterruptedError
		uk  *grid.UnknownKindError
		tb  *grid.TooBroadError
		le  *grid.LimitError
		lic *dossier.LoadError // licences
		rb  *risk.BadInputError
	)
	switch {
	case errors.As(err, &p):
		cp := *p
		return &cp
	case errors.As(err, &fe):
		return newProblem(fe.Code, "", fiberDetail(fe))
	case errors.Is(err, grid.ErrBadCredentials), errors.Is(err, grid.ErrInvalidToken):
		return newProblem(fiber.StatusUnauthorized, "", unwrapAll(err).Error())
	case errors.Is(err, grid.ErrForbidden):
		return newProblem(fiber.StatusForbidden, "", err.Error())
	case errors.As(err, &nf):
		return newProblem(fiber.StatusNotFound, "", nf.Error())
	case errors.As(err, &uk):
		return newProblem(fiber.StatusNotFound, "", uk.Error())
	case errors.As(err, &le):
		p := newProblem(fiber.StatusBadRequest, "", fmt.Sprintf("%s: %s (the limit is %s)", le.Field, le.Reason, le.Limit))
		p.Errors = []FieldError{{Field: le.Field, Reason: le.Reason + " (the limit is " + le.Limit + ")"}}
		return p
	case errors.As(err, &rb):
		// The risk routes' bad weights, thresholds, zones and dates: a 400 naming each field.
		p := fieldsProblem(&rb.InvalidFieldsError)
		p.Status, p.Title = fiber.StatusBadRequest, http.StatusText(fiber.StatusBadRequest)
		return p
	case errors.As(err, &inv):
		return FieldProblem(inv.Field, inv.Reason).(*problem)
	case errors.As(err, &rb): // the risk routes: bad weights, thresholds, zones, dates
		p := fieldsProblem(&rb.InvalidFieldsError)
		p.Status, p.Title = fiber.StatusBadRequest, http.StatusText(fiber.StatusBadRequest)
		return p
	case errors.As(err, &ifs):
		return fieldsProblem(ifs)
	case errors.As(err, &ie):
		return importProblem(ie)
	case errors.As(err, &lic): // licences
		return licenceProblem(lic)
	case errors.As(err, &fle):
		// The file itself cannot be read (bad JSON, a CSV without a header): no field.
		return FieldProblems(FieldError{Row: fle.Row, Reason: fle.Reason}).(*problem)
	case errors.As(err, &ii):
		// The database went away mid-import: say what happened to the file, not only
		// that the database is down.
		p := newProblem(fiber.StatusServiceUnavailable, "", ii.Error())
		p.retryAfter = 5
		return p
	case errors.Is(err, grid.ErrConflict):
		return newProblem(fiber.StatusConflict, "", err.Error())
	case errors.Is(context.Cause(ctx), errClientGone):
		return newProblem(statusClientClosed, "Client Closed Request", "")
	case errors.As(err, &tb):
		return newProblem(fiber.StatusUnprocessableEntity, "Request Too Broad", tb.Error())
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, grid.ErrTimeout):
		p := newProblem(fiber.StatusServiceUnavailable, "", "the request took too long; try again, or ask for less")
		p.retryAfter = 1
		return p
	case grid.IsUnavailable(err):
		p := newProblem(fiber.StatusServiceUnavailable, "", "the database is unavailable; try again shortly")
		p.retryAfter = 5
		return p
	case errors.Is(err, grid.ErrBusy):
		p := newProblem(fiber.StatusServiceUnavailable, "", grid.ErrBusy.Error())
		p.retryAfter = 5
		return p
	case errors.Is(err, grid.ErrDuplicate):
		return newProblem(fiber.StatusConflict, "", grid.ErrDuplicate.Error())
	case errors.Is(err, grid.ErrTooLong):
		return newProblem(fiber.StatusUnprocessableEntity, "", grid.ErrTooLong.Error())
	default:
		return newProblem(fiber.StatusInternalServerError, "", "")
	}
}

// fiberDetail keeps fiber's own messages (404 "Cannot GET /x", 413) but not the text of a
// 500, which may be anything.
func fiberDetail(fe *fiber.Error) string {
	if fe.Code >= 500 || fe.Message == http.StatusText(fe.Code) {
		return ""
	}
	return fe.Message
}

// fieldsProblem is a 422 naming every field of a grid.InvalidFieldsError.
func fieldsProblem(fe *grid.InvalidFieldsError) *problem {
	out := make([]FieldError, len(fe.Errors))
	for i, e := range fe.Errors {
		out[i] = FieldError{Field: e.Field, Reason: e.Reason}
	}
	return FieldProblems(out...).(*problem)
}

// importProblem lists an import's rejected rows (the first 100: a bad file can have
// millions).
func importProblem(ie *ingest.ImportError) *problem {
	const most = 100
	errs := make([]FieldError, 0, min(len(ie.Rejections), most))
	for _, r := range ie.Rejections[:min(len(ie.Rejections), most)] {
		errs = append(errs, FieldError{Field: r.Field, Reason: r.Reason, Row: r.Row})
	}
	p := FieldProblems(errs...).(*problem)
	p.Detail = fmt.Sprintf("%s: %d rejected; nothing was written. %s", ie.Kind, len(ie.Rejections), p.Detail)
	return p
}

// unwrapAll returns the innermost error, so a wrapped sentinel shows its own message.
func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
