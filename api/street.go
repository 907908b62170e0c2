package api

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/supervise"
)

// hazardPage is one page of a street's hazard list.
type hazardPage struct {
	Items []supervise.HazardItem `json:"items"`
	Total int                    `json:"total" doc:"hazards matching the filters, over every page"`
}

const (
	mimeCSV  = "text/csv"
	mimeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

// Street lists are for the street office of that street, the district bureau of its
// district, and admins; planners read them too (city-wide reading is their role), but
// nothing here writes.
var streetReadRoles = []string{grid.RoleStreet, grid.RoleDistrict, grid.RoleAdmin, grid.RolePlanner}

// streetRoutes are the street office's 街道办 endpoints: hazards per block (community) and
// their export, and the per-community summary.
func (s *Server) streetRoutes() {
	tags := []string{"street"}
	code := PathParam("code", "9-digit street code; a street office may ask only for its own, a district bureau for its district's")
	s.route(fiber.MethodGet, "/api/v1/streets/:code/hazards", Operation{
		Summary: "Hazards in a street, per block",
		Description: "Filtered, sorted and paged. format=csv gives UTF-8 CSV with a byte-order mark and format=xlsx an " +
			"Excel workbook, both with Chinese headers and the same rows and columns as the JSON; an export without a limit " +
			fmt.Sprintf("holds up to %d rows (the total is in X-Total-Count).", s.cfg.MaxLimit),
		Tags: tags, Roles: streetReadRoles,
		Params:   append([]Param{code}, hazardListParams()...),
		Response: hazardPage{}, Produces: []string{fiber.MIMEApplicationJSON, mimeCSV, mimeXLSX},
		Problems: []int{fiber.StatusNotFound}, Keep: keepSupervised,
	}, s.streetHazards)
	s.route(fiber.MethodGet, "/api/v1/streets/:code/summary", Operation{
		Summary: "Hazards and grid coverage per block",
		Description: "Per community: hazards by status and level, overdue, rectification rate ((verified + closed) ÷ all), " +
			"enterprises and how many of them lie in a grid unit that has an officer; and the street's total.",
		Tags: tags, Roles: streetReadRoles, Params: []Param{code},
		Response: supervise.StreetSummary{}, Problems: []int{fiber.StatusNotFound, fiber.StatusUnprocessableEntity},
		Keep: keepSupervised,
	}, s.streetSummary)
}

// hazardListParams are the query parameters of a hazard list (a street's, a district's).
func hazardListParams() []Param {
	enum := func(name, doc string, values []string) Param {
		p := QueryParam(name, "string", doc)
		p.Schema = Schema{"type": "string", "enum": values}
		return p
	}
	date := func(name, doc string) Param {
		p := QueryParam(name, "string", doc)
		p.Schema = Schema{"type": "string", "format": "date"}
		return p
	}
	sortKeys := make([]string, 0, 2*len(supervise.HazardSortKeys()))
	for k := range supervise.HazardSortKeys() {
		sortKeys = append(sortKeys, k, "-"+k)
	}
	slices.Sort(sortKeys)
	return []Param{
		QueryParam("community", "string", "12-digit community (居委/村) code"),
		enum("level", "hazard level", grid.HazardLevels()),
		enum("status", "lifecycle status", grid.HazardStatuses()),
		QueryParam("overdue", "boolean", "true: only hazards past their deadline and neither verified nor closed; false: only the others"),
		QueryParam("category", "string", "hazard category, exactly"),
		date("from", "reported on or after this date (Shanghai)"),
		date("to", "reported on or before this date (Shanghai)"),
		enum("sort", "sort key, - for descending; default -reported_at", sortKeys),
		enum("format", "json (default), csv or xlsx", []string{"json", "csv", "xlsx"}),
		LimitParam, OffsetParam,
	}
}

// streetInScope checks the street exists; another street than a street office's own, or
// a street of another district than a district bureau's, is answered exactly as one that
// does not exist.
func (s *Server) streetInScope(c *fiber.Ctx) (string, error) {
	code := c.Params("code")
	if err := s.supervise.CheckStreet(c.UserContext(), code); err != nil {
		return "", err
	}
	if !streetVisible(principal(c), code) {
		return "", &grid.NotFoundError{What: "street", Key: code}
	}
	return code, nil
}

// streetVisible tells whether p may read the street code (a loaded 9-digit street).
func streetVisible(p *grid.Principal, code string) bool {
	switch p.Role {
	case grid.RoleStreet:
		return p.StreetCode == code
	case grid.RoleDistrict:
		return p.DistrictCode != "" && code[:6] == p.DistrictCode
	}
	return true
}

// hazardEnum reads an optional enumerated query parameter with the hazards kind's values
// and aliases (the importer's spellings).
func hazardEnum(c *fiber.Ctx, name string) (string, error) {
	raw := strings.TrimSpace(c.Query(name))
	if raw == "" {
		return "", nil
	}
	k, _ := grid.KindByName("hazards")
	for _, f := range k.Fields {
		if f.Name != name {
			continue
		}
		if slices.Contains(f.Values, raw) {
			return raw, nil
		}
		if v, ok := f.Aliases[strings.ToLower(raw)]; ok {
			return v, nil
		}
		return "", FieldProblem(name, fmt.Sprintf("%q is not one of %s", raw, strings.Join(f.Values, ", ")))
	}
	return "", fmt.Errorf("hazards kind has no field %s", name)
}

func queryDate(c *fiber.Ctx, name string) (*time.Time, error) {
	raw := c.Query(name)
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse(time.DateOnly, raw)
	if err != nil {
		return nil, FieldProblem(name, "must be a date, YYYY-MM-DD")
	}
	return &t, nil
}

// hazardFilter reads the list's query parameters.
func (s *Server) hazardFilter(c *fiber.Ctx, street, format string) (supervise.StreetHazardFilter, error) {
	f := supervise.StreetHazardFilter{Street: street, Community: c.Query("community"), Category: c.Query("category"), Sort: c.Query("sort")}
	var err error
	if f.Level, err = hazardEnum(c, "level"); err != nil {
		return f, err
	}
	if f.Status, err = hazardEnum(c, "status"); err != nil {
		return f, err
	}
	switch c.Query("overdue") {
	case "":
	case "true":
		f.Overdue = new(true)
	case "false":
		f.Overdue = new(false)
	default:
		return f, FieldProblem("overdue", "must be true or false")
	}
	if f.From, err = queryDate(c, "from"); err != nil {
		return f, err
	}
	if f.To, err = queryDate(c, "to"); err != nil {
		return f, err
	}
	if f.From != nil && f.To != nil && f.To.Before(*f.From) {
		return f, FieldProblem("to", "must be on or after from")
	}
	if f.Limit, f.Offset, err = s.page(c); err != nil {
		return f, err
	}
	if format != "json" && c.Query("limit") == "" {
		f.Limit = s.cfg.MaxLimit // an export is the whole list unless asked otherwise
	}
	return f, nil
}

func (s *Server) streetHazards(c *fiber.Ctx) error {
	format := c.Query("format", "json")
	if !slices.Contains([]string{"json", "csv", "xlsx"}, format) {
		return FieldProblem("format", "must be json, csv or xlsx")
	}
	street, err := s.streetInScope(c)
	if err != nil {
		return err
	}
	f, err := s.hazardFilter(c, street, format)
	if err != nil {
		return err
	}
	return s.sendHazardList(c, f, format, street)
}

// sendHazardList answers a hazard list as JSON or as the export named file (hazards-<file>.csv|xlsx).
func (s *Server) sendHazardList(c *fiber.Ctx, f supervise.StreetHazardFilter, format, file string) error {
	items, total, err := s.supervise.StreetHazards(c.UserContext(), f)
	if err != nil {
		return err
	}
	if items == nil {
		items = []supervise.HazardItem{}
	}
	if format == "json" {
		return c.JSON(hazardPage{Items: items, Total: total})
	}
	var buf bytes.Buffer
	mime := mimeCSV + "; charset=utf-8"
	if format == "csv" {
		err = supervise.WriteHazardsCSV(&buf, items)
	} else {
		mime = mimeXLSX
		err = supervise.WriteHazardsXLSX(&buf, items)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mime)
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="hazards-%s.%s"`, file, format))
	c.Set("X-Total-Count", fmt.Sprint(total))
	return c.Send(buf.Bytes())
}

func (s *Server) streetSummary(c *fiber.Ctx) error {
	street, err := s.streetInScope(c)
	if err != nil {
		return err
	}
	out, err := s.supervise.StreetSummary(c.UserContext(), street)
	if err != nil {
		return err
	}
	return c.JSON(out)
}
