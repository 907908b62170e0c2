package api

import (
	"bytes"
	"fmt"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/dossier"
)

// licenceBodyLimit is the largest licence file the API takes (about 50,000 licences);
// `safegrid licences load` takes any size.
const licenceBodyLimit = 8 << 20

// licenceRoutes load enterprises' licences 证照 (docs/DOSSIER.md "Licences").
func (s *Server) licenceRoutes() {
	s.route(fiber.MethodPost, "/api/v1/admin/licences", Operation{
		Summary: "Load enterprises' licences (证照)",
		Description: "The body is a CSV file (Content-Type text/csv) with the header " + strings.Join(dossier.LicenceColumns, ",") +
			": the enterprise's USCC, the licence type (" + strings.Join(dossier.LicenceTypes, ", ") + "), its number, the " +
			"issuing authority and its dates (YYYY-MM-DD). The same rules as `safegrid licences load`: all or nothing, every " +
			"bad row refused with its row and field in a 422 (a USCC with a wrong check character or naming no enterprise, " +
			"an unknown type, a malformed date or one outside the years 1949 to 2199, valid_until before issued_on, an empty or over-long text, NUL or invalid " +
			"UTF-8, a repeated licence), and then nothing is written. A licence is keyed by enterprise, type and number: " +
			"loading it again updates its authority and dates; the same file twice changes nothing. Audited with the caller " +
			"as actor. At most " + byteSize(licenceBodyLimit) + " (413 otherwise).",
		Tags: []string{"admin"}, Roles: []string{grid.RoleAdmin},
		RawBody: []string{mimeCSV}, Response: dossier.LoadResult{}, BodyLimit: licenceBodyLimit,
		Problems: []int{fiber.StatusBadRequest, fiber.StatusRequestEntityTooLarge, fiber.StatusUnsupportedMediaType, fiber.StatusUnprocessableEntity},
	}, s.loadLicences)
}

func (s *Server) loadLicences(c *fiber.Ctx) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != mimeCSV {
		return Problem(fiber.StatusUnsupportedMediaType, "", "send the file with Content-Type text/csv")
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return Problem(fiber.StatusBadRequest, "", "the request body is empty: send the file")
	}
	res, err := s.dossier.LoadLicencesCSV(c.UserContext(), bytes.NewReader(body), principal(c).Actor())
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// licenceProblem lists a licence file's refused rows and fields.
func licenceProblem(le *dossier.LoadError) *problem {
	errs := make([]FieldError, len(le.Rejections))
	for i, r := range le.Rejections {
		errs[i] = FieldError{Field: r.Field, Reason: r.Reason, Row: r.Row}
	}
	p := FieldProblems(errs...).(*problem)
	p.Detail = fmt.Sprintf("licences: %d problem(s); nothing was written. %s", len(le.Rejections), p.Detail)
	return p
}
