package api

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/assess"
)

// assessRoles may read the assessment: those who supervise officers. Officers are refused
// (docs/ASSESSMENT.md, Who sees what).
var assessRoles = []string{grid.RoleStreet, grid.RoleDistrict, grid.RoleAdmin, grid.RolePlanner}

// assessmentAnswer is the assessment at one level.
type assessmentAnswer struct {
	Month    string       `json:"month" doc:"YYYY-MM, a calendar month in Shanghai"`
	From     grid.Time    `json:"from" doc:"the month's first midnight in Shanghai"`
	To       grid.Time    `json:"to" doc:"the next month's first midnight in Shanghai (exclusive)"`
	Today    string       `json:"today" format:"date" doc:"today in Shanghai, the day overdue_now is counted on"`
	By       string       `json:"by" enum:"officer,unit,street,district"`
	District *string      `json:"district" doc:"the district the answer covers (a filter, or the caller's); null for all"`
	Street   *string      `json:"street" doc:"the street the answer covers (a filter, or a street office's); null for all"`
	Area     string       `json:"area_name" doc:"the name of the street or district covered; empty for all"`
	Rows     []assess.Row `json:"rows"`
	Total    assess.Row   `json:"total" doc:"every unit in scope; code and name empty"`
}

// assessRoutes is the officer assessment 考核 (grid/assess, docs/ASSESSMENT.md).
func (s *Server) assessRoutes() {
	enum := func(name, doc string, values []string) Param {
		p := QueryParam(name, "string", doc)
		p.Schema = Schema{"type": "string", "enum": values}
		return p
	}
	month := QueryParam("month", "string", "YYYY-MM, a calendar month in Shanghai from 2000-01 to the current month; default the current month")
	month.Schema = Schema{"type": "string", "pattern": `^[0-9]{4}-[0-9]{2}$`}
	s.route(fiber.MethodGet, "/api/v1/assessment", Operation{
		Summary: "Officer assessment (考核) for a month",
		Description: "Per grid officer, grid unit, street or district (by=), for one calendar month in Shanghai: enterprises " +
			"due for inspection and inspected within the month, inspections and located check-ins, hazards found, " +
			"rectified and rectified by their deadline, and hazards overdue now, with rates beside the counts and the " +
			"total. docs/ASSESSMENT.md defines each figure. Admins and planners see every unit, a district user its " +
			"district's, a street office its street's; officers are refused. A district or street filter that is " +
			"malformed, names no loaded area or lies outside the caller's scope is a 400 naming the parameter.\n\n" +
			"format=xlsx gives a workbook with one sheet per level (网格员, 网格, 街道, 区), each under a title row naming " +
			"the month and scope, with a 合计 row; format=csv the by= level's rows and total (UTF-8 with a byte-order " +
			"mark, formula-safe).",
		Tags: []string{"assessment"}, Roles: assessRoles,
		Params: []Param{
			month,
			QueryParam("district", "string", "6-digit district code"),
			QueryParam("street", "string", "9-digit street code"),
			enum("by", "the rows' level; default officer", assess.Levels()),
			enum("format", "json (default), xlsx or csv", []string{"json", "xlsx", "csv"}),
		},
		Response: assessmentAnswer{}, Produces: []string{fiber.MIMEApplicationJSON, mimeXLSX, mimeCSV},
		Problems: []int{fiber.StatusBadRequest},
	}, s.assessment)
}

func (s *Server) assessment(c *fiber.Ctx) error {
	format := c.Query("format", "json")
	if !slices.Contains([]string{"json", "xlsx", "csv"}, format) {
		return paramProblem("format", "must be json, xlsx or csv")
	}
	by := c.Query("by", assess.LevelOfficer)
	if !slices.Contains(assess.Levels(), by) {
		return paramProblem("by", "must be one of "+strings.Join(assess.Levels(), ", "))
	}
	m, err := assess.ParseMonth(c.Query("month"), time.Now())
	if err != nil {
		return assessProblem(err)
	}
	rep, err := s.assess.Assess(c.UserContext(), principal(c), assess.Query{Month: m, District: c.Query("district"), Street: c.Query("street")})
	if err != nil {
		return assessProblem(err)
	}
	switch format {
	case "xlsx", "csv":
		var buf bytes.Buffer
		mime := mimeXLSX
		if format == "xlsx" {
			err = assess.WriteXLSX(&buf, rep)
		} else {
			mime = mimeCSV + "; charset=utf-8"
			err = assess.WriteCSV(&buf, rep, by)
		}
		if err != nil {
			return err
		}
		name := rep.FileName()
		if format == "csv" {
			name += "-" + by
		}
		c.Set(fiber.HeaderContentType, mime)
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s.%s"`, name, format))
		return c.Send(buf.Bytes())
	}
	out := assessmentAnswer{Month: rep.Month, From: grid.TimeOf(rep.From), To: grid.TimeOf(rep.To), Today: rep.Today, By: by,
		Area: rep.ScopeName, Rows: rep.Rows(by), Total: rep.Total}
	if rep.District != "" {
		out.District = &rep.District
	}
	if rep.Street != "" {
		out.Street = &rep.Street
	}
	return c.JSON(out)
}

// assessProblem makes the assessment's invalid query parameters 400s naming them.
func assessProblem(err error) error {
	var inv *grid.InvalidError
	if errors.As(err, &inv) {
		return paramProblem(inv.Field, inv.Reason)
	}
	return err
}
