package api

import (
	"bytes"
	"mime"

	"github.com/gofiber/fiber/v2"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/ingest"
)

func (s *Server) importRoutes() {
	kinds := grid.KindNames()
	s.route(fiber.MethodPost, "/api/v1/import/:kind", Operation{
		Summary: "Import a file of one kind",
		Description: "The body is the file: GeoJSON (Content-Type application/geo+json or application/json) or CSV " +
			"(text/csv). The same validation and all-or-nothing rule as `safegrid import`: one bad row refuses the whole " +
			"file (422 listing row, field and reason; nothing is written) unless skip_invalid=true, which loads the good " +
			"rows and lists the others in the result. Re-importing updates rows by their key. Audited with the caller " +
			"as actor. Kinds other than areas need the districts loaded first (409 otherwise). The file must fit in the " +
			"request body limit, " + byteSize(s.cfg.BodyLimit) + " (413 otherwise; `safegrid serve --body-limit`); larger loads go " +
			"through the CLI.",
		Tags: []string{"admin"}, Roles: []string{grid.RoleAdmin}, Response: ingest.ImportResult{},
		Params: []Param{
			{Name: "kind", In: "path", Required: true, Description: "what the file holds",
				Schema: Schema{"type": "string", "enum": kinds}},
			QueryParam("crs", "string", "the file's coordinates: wgs84 (default), cgcs2000, gcj02 or bd09"),
			QueryParam("skip_invalid", "boolean", "load the good rows and report the bad ones instead of refusing the file"),
			QueryParam("repair", "boolean", "make invalid polygons valid (ST_MakeValid) instead of refusing them"),
			QueryParam("ignore_unknown", "boolean", "drop properties or columns the kind does not know instead of refusing the row"),
		},
		Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound, fiber.StatusConflict,
			fiber.StatusRequestEntityTooLarge, fiber.StatusUnsupportedMediaType},
		BodyLimit: s.cfg.BodyLimit,
	}, s.importFile)
}

func (s *Server) importFile(c *fiber.Ctx) error {
	kind := c.Params("kind")
	if _, ok := grid.KindByName(kind); !ok {
		return &grid.UnknownKindError{Name: kind}
	}
	format, err := importFormat(c.Get(fiber.HeaderContentType))
	if err != nil {
		return err
	}
	opts := ingest.ImportOptions{Kind: kind, Format: format, Actor: principal(c).Actor()}
	if raw := c.Query("crs"); raw != "" {
		if opts.CRS, err = geo.ParseCRS(raw); err != nil {
			return FieldProblem("crs", err.Error())
		}
	}
	if opts.SkipInvalid, err = queryBool(c, "skip_invalid"); err != nil {
		return err
	}
	if opts.Repair, err = queryBool(c, "repair"); err != nil {
		return err
	}
	if opts.IgnoreUnknown, err = queryBool(c, "ignore_unknown"); err != nil {
		return err
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return Problem(fiber.StatusBadRequest, "", "the request body is empty: send the file")
	}
	if kind != "areas" {
		districts, err := s.ingest.Districts(c.UserContext())
		if err != nil {
			return err
		}
		if districts == 0 {
			return Problem(fiber.StatusConflict, "", "no districts are loaded: import the areas first")
		}
	}
	res, err := s.ingest.Import(c.UserContext(), bytes.NewReader(body), opts)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// importFormat tells the file's format from its Content-Type.
func importFormat(ct string) (ingest.Format, error) {
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return "", Problem(fiber.StatusUnsupportedMediaType, "", "send the file with Content-Type application/geo+json, application/json or text/csv")
	}
	switch mt {
	case "application/geo+json", "application/json":
		return ingest.FormatGeoJSON, nil
	case "text/csv":
		return ingest.FormatCSV, nil
	}
	return "", Problem(fiber.StatusUnsupportedMediaType, "", "unsupported Content-Type "+mt+": use application/geo+json, application/json or text/csv")
}
