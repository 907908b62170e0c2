package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/gofiber/fiber/v2"
	"github.com/xuri/excelize/v2"

	"safegrid/grid"
)

// auditItem is one record of the audit log 审计日志.
type auditItem struct {
	ID         int64           `json:"id"`
	At         string          `json:"at" format:"date-time" doc:"RFC 3339, UTC, milliseconds"`
	Actor      string          `json:"actor" doc:"a username, or cli:<os user> for the command line"`
	Action     string          `json:"action" doc:"hazard_report, hazard_<status>, inspection, user_add, login, login_failed, logout, unit_create, assign, import, ..."`
	Kind       *string         `json:"kind" doc:"what the record is about: hazard, enterprise, user, session, unit, dataset, webhook or notification; null for none"`
	Object     *string         `json:"object" doc:"the object's key: hazard code, USCC, username, grid unit code, dataset (kind) name, webhook id, notification id (or all)"`
	StreetCode *string         `json:"street_code" doc:"the 9-digit street the object lies in, when it has one"`
	Details    json.RawMessage `json:"details" doc:"what the write was, as the writer recorded it; {} when it recorded nothing"`
}

// auditPage is one page of the audit log.
type auditPage struct {
	Items []auditItem `json:"items"`
	Total int         `json:"total" doc:"records matching the filters, over every page"`
}

// historyItem is one step of a hazard's history.
type historyItem struct {
	At         string         `json:"at" format:"date-time" doc:"RFC 3339, UTC, milliseconds"`
	Actor      string         `json:"actor" doc:"who made the step: a username, or cli:<os user>"`
	ActorName  *string        `json:"actor_name" doc:"the user's display name; null for the command line or a user without one"`
	Action     string         `json:"action" doc:"the audit log's action for the step: hazard_report, then hazard_<to_status>"`
	FromStatus *string        `json:"from_status" doc:"null for the report"`
	ToStatus   string         `json:"to_status"`
	Note       *string        `json:"note"`
	Details    map[string]any `json:"details" doc:"the plan an assignment set (responsible, deadline, measures, funds); {} for other steps"`
	Photos     []grid.Photo   `json:"photos" doc:"the photos attached to the step (照片取证: report, rectification, verification)"`
}

type historyPage struct {
	Items []historyItem `json:"items" doc:"oldest step first"`
}

const (
	auditDefaultLimit = 100
	auditMaxLimit     = 1000 // a JSON page; exports go up to grid.AuditMaxRows
)

func (s *Server) auditRoutes() {
	kind := QueryParam("kind", "string", "the kind of object")
	kind.Schema = Schema{"type": "string", "enum": grid.AuditKinds()}
	moment := func(name, doc string) Param {
		return QueryParam(name, "string", doc+": an RFC 3339 timestamp, or a date YYYY-MM-DD meaning that calendar day in Shanghai")
	}
	limit := QueryParam("limit", "integer", fmt.Sprintf("records per page: at most %d in JSON; an export holds up to %d records "+
		"(its default), a larger limit is a 400", auditMaxLimit, grid.AuditMaxRows))
	limit.Schema = Schema{"type": "integer", "minimum": 1, "maximum": grid.AuditMaxRows}
	offset := QueryParam("offset", "integer", "records to skip")
	offset.Schema = Schema{"type": "integer", "minimum": 0, "default": 0}
	format := QueryParam("format", "string", "json (default), csv or xlsx")
	format.Schema = Schema{"type": "string", "enum": []string{"json", "csv", "xlsx"}}
	s.route(fiber.MethodGet, "/api/v1/admin/audit", Operation{
		Summary: "The audit log",
		Description: "Every write the service made (审计日志), newest first (by time, then id), filtered and paged. Each filter " +
			"narrows the list; a bad value (an unknown kind, a street code that is not 9 digits or names no street, an " +
			"impossible date, from after to) is a 400 naming the parameter. `from` is inclusive; `to` is inclusive too: " +
			"of its whole Shanghai day when it is a date, of its millisecond when it is a timestamp.\n\n" +
			fmt.Sprintf("format=csv gives UTF-8 CSV with a byte-order mark, formula-safe (a cell starting with =, +, -, @, "+
				"a tab or a carriage return gets a leading '); format=xlsx an Excel workbook whose cells are strings. An "+
				"export holds every matching record up to %d (no limit needed); X-Total-Count says how many match, "+
				"X-Export-Rows how many the file holds, and X-Export-Truncated: true is set when the file holds fewer than "+
				"match after the offset. An XLSX cell holds at most 32,767 characters: longer details end in a note saying "+
				"how long they are, and X-Export-Cut-Cells counts such cells (the CSV and JSON hold them whole).",
				grid.AuditMaxRows),
		Tags: []string{"admin"}, Roles: []string{grid.RoleAdmin},
		Params: []Param{
			QueryParam("actor", "string", "who, exactly: a username or cli:<os user>"),
			QueryParam("action", "string", "the action, exactly (hazard_registered, login_failed, ...)"),
			kind,
			QueryParam("object", "string", "the object's key, exactly (with kind, or across kinds)"),
			QueryParam("street", "string", "the 9-digit street the object lies in"),
			moment("from", "records at or after"),
			moment("to", "records at or before"),
			limit, offset, format,
		},
		Response: auditPage{}, Produces: []string{fiber.MIMEApplicationJSON, mimeCSV, mimeXLSX},
		Problems: []int{fiber.StatusBadRequest},
	}, s.auditLog)
	s.route(fiber.MethodGet, "/api/v1/hazards/:id/history", Operation{
		Summary: "A hazard's history: who did what",
		Description: "Every step of a hazard's lifecycle, oldest first: when, who (username and display name), the " +
			"action, the status it went from and to, the note and an assignment's plan. Scope: admins and planners see " +
			"every hazard, a street office its street's, an officer those in their cells; any other hazard is a 404 " +
			"exactly like one that does not exist.",
		Tags: []string{"hazards"}, Response: historyPage{},
		Params:   []Param{PathParam("id", "the hazard's id")},
		Problems: []int{fiber.StatusNotFound},
	}, s.hazardHistory)
}

// paramProblem is a 400 naming the query parameter the client got wrong.
func paramProblem(name, reason string) error {
	p := FieldProblem(name, reason).(*problem)
	p.Status, p.Title = fiber.StatusBadRequest, "Bad Request"
	return p
}

// auditMoment reads from or to: an RFC 3339 timestamp, or a Shanghai calendar date. It
// returns the bound as the store's filter takes it: from inclusive, to exclusive (so a
// date's to is the next day's midnight and a timestamp's the next millisecond).
func auditMoment(c *fiber.Ctx, name string) (time.Time, error) {
	raw := strings.TrimSpace(c.Query(name))
	if raw == "" {
		return time.Time{}, nil
	}
	bad := paramProblem(name, "must be an RFC 3339 timestamp (2026-12-03T09:30:00Z) or a date YYYY-MM-DD")
	if d, err := time.ParseInLocation(time.DateOnly, raw, grid.ShanghaiZone()); err == nil {
		if d.Year() < 1 {
			return time.Time{}, bad
		}
		if name == "to" {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	// An offset's + sent unencoded arrives as a space (form encoding); take it back.
	t, err := time.Parse(time.RFC3339Nano, strings.Replace(raw, " ", "+", 1))
	if err != nil || t.Year() < 1 {
		return time.Time{}, bad
	}
	if name == "to" {
		t = t.Truncate(time.Millisecond).Add(time.Millisecond)
	}
	return t, nil
}

// auditFilter reads the audit log's query parameters for format.
func auditFilter(c *fiber.Ctx, format string) (grid.AuditFilter, error) {
	f := grid.AuditFilter{Actor: c.Query("actor"), Action: c.Query("action"), Kind: c.Query("kind"),
		Object: c.Query("object"), Street: c.Query("street")}
	var err error
	if f.From, err = auditMoment(c, "from"); err != nil {
		return f, err
	}
	if f.To, err = auditMoment(c, "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, paramProblem("from", "is after to")
	}
	def, most := auditDefaultLimit, auditMaxLimit
	if format != "json" {
		def, most = grid.AuditMaxRows, grid.AuditMaxRows
	}
	if f.Limit, err = queryInt(c, "limit", def, 1, most); err != nil {
		return f, paramProblem("limit", fmt.Sprintf("must be an integer from 1 to %d", most))
	}
	if f.Offset, err = queryInt(c, "offset", 0, 0, int(^uint32(0)>>1)); err != nil {
		return f, paramProblem("offset", "must be an integer from 0 to 2147483647")
	}
	return f, nil
}

func (s *Server) auditLog(c *fiber.Ctx) error {
	format := c.Query("format", "json")
	if !slices.Contains([]string{"json", "csv", "xlsx"}, format) {
		return paramProblem("format", "must be json, csv or xlsx")
	}
	f, err := auditFilter(c, format)
	if err != nil {
		return err
	}
	recs, total, err := s.store.AuditLog(c.UserContext(), f)
	var inv *grid.InvalidError
	if errors.As(err, &inv) {
		return paramProblem(inv.Field, inv.Reason)
	}
	if err != nil {
		return err
	}
	if format == "json" {
		page := auditPage{Items: make([]auditItem, len(recs)), Total: total}
		for i, r := range recs {
			page.Items[i] = auditItem{ID: r.ID, At: grid.FormatTime(r.At), Actor: r.Actor, Action: r.Action, Kind: r.Kind,
				Object: r.Object, StreetCode: r.Street, Details: r.Details}
			if r.Details == nil {
				page.Items[i].Details = json.RawMessage(`{}`)
			}
		}
		return c.JSON(page)
	}
	var buf bytes.Buffer
	mime, cut := mimeCSV+"; charset=utf-8", 0
	if format == "csv" {
		err = writeAuditCSV(&buf, recs)
	} else {
		mime = mimeXLSX
		cut, err = writeAuditXLSX(&buf, recs)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mime)
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="audit-%s.%s"`,
		time.Now().In(grid.ShanghaiZone()).Format("20060102-150405"), format))
	c.Set("X-Total-Count", strconv.Itoa(total))
	c.Set("X-Export-Rows", strconv.Itoa(len(recs)))
	if f.Offset+len(recs) < total {
		c.Set("X-Export-Truncated", "true")
	}
	if cut > 0 {
		c.Set("X-Export-Cut-Cells", strconv.Itoa(cut))
	}
	return c.Send(buf.Bytes())
}

// auditColumns are the export's columns: the JSON item's fields with Chinese headers.
var auditColumns = []struct {
	Header string
	Value  func(*grid.AuditRecord) string
}{
	{"编号", func(r *grid.AuditRecord) string { return strconv.FormatInt(r.ID, 10) }},
	{"时间 (UTC)", func(r *grid.AuditRecord) string { return grid.FormatTime(r.At) }},
	{"操作人", func(r *grid.AuditRecord) string { return r.Actor }},
	{"操作", func(r *grid.AuditRecord) string { return r.Action }},
	{"对象类型", func(r *grid.AuditRecord) string { return auditText(r.Kind) }},
	{"对象编号", func(r *grid.AuditRecord) string { return auditText(r.Object) }},
	{"街道编码", func(r *grid.AuditRecord) string { return auditText(r.Street) }},
	{"详情", func(r *grid.AuditRecord) string { return string(r.Details) }},
}

func auditText(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// writeAuditCSV writes records as CSV in UTF-8 with a byte-order mark (Excel then reads
// the Chinese right), every cell through grid.CSVSafe.
func writeAuditCSV(w io.Writer, recs []grid.AuditRecord) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	row := make([]string, len(auditColumns))
	for i, c := range auditColumns {
		row[i] = c.Header
	}
	if err := cw.Write(row); err != nil {
		return err
	}
	for i := range recs {
		for j, c := range auditColumns {
			row[j] = grid.CSVSafe(c.Value(&recs[i]))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// xlsxCellMax is the most UTF-16 units an Excel cell holds.
const xlsxCellMax = excelize.TotalCellChars

// xlsxText fits s in one Excel cell: a longer text is cut and ends in a note saying so,
// rather than being cut silently (excelize's own behaviour). It reports whether it cut.
func xlsxText(s string) (string, bool) {
	units := utf16.Encode([]rune(s))
	if len(units) <= xlsxCellMax {
		return s, false
	}
	note := fmt.Sprintf(" …[已截断 truncated: %d characters in all; the CSV and JSON hold the whole text]", len([]rune(s)))
	keep := xlsxCellMax - len(utf16.Encode([]rune(note)))
	if keep > 0 && utf16.IsSurrogate(rune(units[keep-1])) {
		keep-- // never split a surrogate pair
	}
	return string(utf16.Decode(units[:keep])) + note, true
}

// writeAuditXLSX writes records as an Excel workbook with one sheet, 审计日志, every cell
// a string (nothing in it is a formula or a number Excel would reformat). It returns how
// many cells it had to cut.
func writeAuditXLSX(w io.Writer, recs []grid.AuditRecord) (int, error) {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "审计日志"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return 0, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return 0, err
	}
	row := make([]any, len(auditColumns))
	for i, c := range auditColumns {
		row[i] = c.Header
	}
	if err := sw.SetRow("A1", row); err != nil {
		return 0, err
	}
	cut := 0
	for i := range recs {
		for j, c := range auditColumns {
			v, wasCut := xlsxText(c.Value(&recs[i]))
			if wasCut {
				cut++
			}
			row[j] = v
		}
		cell, err := excelize.CoordinatesToCellName(1, i+2)
		if err != nil {
			return 0, err
		}
		if err := sw.SetRow(cell, row); err != nil {
			return 0, err
		}
	}
	if err := sw.Flush(); err != nil {
		return 0, err
	}
	return cut, f.Write(w)
}

func (s *Server) hazardHistory(c *fiber.Ctx) error {
	id, err := hazardID(c)
	if err != nil {
		return err
	}
	events, err := s.supervise.HazardHistoryOf(c.UserContext(), principal(c), id)
	if err != nil {
		return err
	}
	out := historyPage{Items: make([]historyItem, len(events))}
	for i, e := range events {
		out.Items[i] = historyItem{At: grid.FormatTime(e.At), Actor: e.Actor, ActorName: e.ActorName, Action: e.Action,
			FromStatus: e.FromStatus, ToStatus: e.ToStatus, Note: e.Note, Details: e.Details, Photos: e.Photos}
		if e.Details == nil {
			out.Items[i].Details = map[string]any{}
		}
	}
	return c.JSON(out)
}
