package api

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/dossier"
)

// dossierRoles may read an enterprise's dossier 一企一档, each within their scope.
var dossierRoles = []string{grid.RoleAdmin, grid.RolePlanner, grid.RoleDistrict, grid.RoleStreet, grid.RoleOfficer}

// dossierRoutes are the enterprise dossier's endpoints (docs/DOSSIER.md).
func (s *Server) dossierRoutes() {
	format := QueryParam("format", "string", "json (default) or xlsx: an Excel workbook, one sheet per section")
	format.Schema = Schema{"type": "string", "enum": []string{"json", "xlsx"}}
	radius := QueryParam("radius_m", "number", fmt.Sprintf("pipelines and gas occupancy sites within this many metres (default %g, at most %g)",
		dossier.DefaultRadiusM, dossier.MaxRadiusM))
	radius.Schema = Schema{"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": dossier.MaxRadiusM, "default": dossier.DefaultRadiusM}
	s.route(fiber.MethodGet, "/api/v1/enterprises/:id/dossier", Operation{
		Summary: "An enterprise's dossier (一企一档)",
		Description: "The enterprise's attributes, its licences (证照) with their status against today's Shanghai date " +
			"(expired after valid_until, expiring within 30 days), its cell, grid unit and officer, its inspections, every hazard tied to it " +
			"(feature_kind enterprises) or tied to nothing and lying at it, with each hazard's steps, the changes of its risk level, " +
			"the nearest existing fire stations with their response time by the coverage model (straight line × 1.4 ÷ 30 km/h, " +
			"reach 5 minutes), and the pipelines and gas occupancy sites within radius_m. id is the enterprise's row id or its USCC; " +
			"an enterprise outside the caller's scope is a 404 like a missing one, and hazards and nearby features are the caller's " +
			"scope's. format=xlsx gives the same as an Excel workbook (times in Asia/Shanghai).",
		Tags: []string{"dossier"}, Roles: dossierRoles,
		Params: []Param{
			PathParam("id", "the enterprise's id (a positive integer) or its 18-character USCC (统一社会信用代码)"),
			radius, format,
		},
		Response: dossier.Dossier{}, Produces: []string{fiber.MIMEApplicationJSON, mimeXLSX},
		Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound},
	}, s.enterpriseDossier)
}

func (s *Server) enterpriseDossier(c *fiber.Ctx) error {
	raw := c.Params("id")
	key, ok := dossier.ParseKey(raw)
	if !ok {
		return filterProblem("id", "must be a positive integer (the enterprise's id) or an 18-character USCC")
	}
	format := c.Query("format", "json")
	if format != "json" && format != "xlsx" {
		return filterProblem("format", "must be json or xlsx")
	}
	radius := dossier.DefaultRadiusM
	if v := strings.TrimSpace(c.Query("radius_m")); v != "" || c.Request().URI().QueryArgs().Has("radius_m") {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return filterProblem("radius_m", "must be a number of metres")
		}
		if err := dossier.CheckRadius(r); err != nil {
			return filterProblem("radius_m", fmt.Sprintf("must be more than 0 and at most %g", dossier.MaxRadiusM))
		}
		radius = r
	}
	d, err := s.dossier.Dossier(c.UserContext(), principal(c), key, radius)
	if err != nil {
		return err
	}
	if format == "json" {
		return c.JSON(d)
	}
	var buf bytes.Buffer
	if err := dossier.WriteXLSX(&buf, d); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mimeXLSX)
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="dossier-%s.xlsx"`, d.Enterprise.USCC))
	return c.Send(buf.Bytes())
}
