package api

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/evidence"
)

// Photo evidence 照片取证 (docs/PHOTOS.md): staged uploads, the images and thumbnails
// within the caller's scope, and the lists of a hazard's and an inspection's photos.

// photoTypes are the media types a photo upload may have (sniffed from the bytes).
var photoTypes = []string{evidence.TypeJPEG, evidence.TypePNG, evidence.TypeWebP}

// photoCacheControl: a photo's bytes never change under its id, but who may see it can,
// so only the caller's own browser keeps it, and not for long.
const photoCacheControl = "private, max-age=3600"

// photoList is a list of photos.
type photoList struct {
	Items []grid.Photo `json:"items"`
}

func (s *Server) photoRoutes() {
	tags := []string{"photos"}
	s.route(fiber.MethodPost, "/api/v1/photos", Operation{
		Summary: "Upload a photo (staged)",
		Description: "The body is the image file itself: JPEG, PNG or WebP, recognised from its bytes (the Content-Type " +
			"and the file name are not believed), at most " + byteSize(grid.MaxPhotoBytes) + " (413 naming the limit) and " +
			fmt.Sprintf("%d megapixels. ", evidence.MaxPixels/1_000_000) +
			"Anything else (a text file named .jpg, a truncated JPEG that does not decode) is a 422 on `photo` saying why. " +
			"The EXIF time (DateTimeOriginal, Shanghai time when it carries no offset) and GPS position are kept as " +
			"evidence; the stored copy has its metadata removed (EXIF, XMP, ICC, comments; the orientation is kept) and " +
			"a 320 px JPEG thumbnail is made. The upload is yours alone until you send its id in `photos` with a hazard " +
			"report, a rectification (to: rectifying) or verification (to: verified) step, or an inspection, at most " +
			fmt.Sprintf("%d per step (400 naming the limit); ", grid.MaxPhotosPerStep) +
			"then it is the step's evidence, shown to whoever may see the hazard or the enterprise. " +
			fmt.Sprintf("Uploads never attached are removed after a day; you may hold %d at a time (400). Audited.", evidence.MaxStaged),
		Tags: tags, Roles: []string{grid.RoleAdmin, grid.RoleStreet, grid.RoleOfficer},
		RawBody: photoTypes, Response: grid.Photo{}, Status: fiber.StatusCreated,
		BodyLimit: grid.MaxPhotoBytes,
		Problems:  []int{fiber.StatusBadRequest, fiber.StatusRequestEntityTooLarge, fiber.StatusUnprocessableEntity},
	}, s.uploadPhoto)
	image := func(summary, doc string, thumb bool) {
		produces := photoTypes
		if thumb {
			produces = []string{evidence.TypeJPEG}
		}
		path := "/api/v1/photos/:id"
		h := s.photoFile(false)
		if thumb {
			path += "/thumb"
			h = s.photoFile(true)
		}
		s.route(fiber.MethodGet, path, Operation{
			Summary: summary,
			Description: doc + " Scope: a photo of a hazard is seen by whoever may see the hazard, one of an inspection by " +
				"whoever may see the enterprise, a staged upload by its uploader only; any other is a 404, exactly as if it " +
				"did not exist. ETag (304 on If-None-Match); Cache-Control: " + photoCacheControl + ". <img> cannot send " +
				"the Authorization header: fetch it with the token and show it from a blob: URL.",
			Tags: tags, Params: []Param{PathParam("id", "the photo's id")},
			Response: Schema{"type": "string", "format": "binary"}, Produces: produces,
			Problems: []int{fiber.StatusNotFound},
		}, h)
	}
	image("A photo, its metadata removed", "The image as uploaded, less its metadata, with its own Content-Type.", false)
	image("A photo's thumbnail", "A JPEG, 320 px on its long side, upright.", true)
	s.route(fiber.MethodGet, "/api/v1/hazards/:id/photos", Operation{
		Summary: "A hazard's photos",
		Description: "Every photo of the hazard's steps, oldest step first, with the step, the EXIF evidence and the " +
			"far flag (GPS farther than the service's limit from the hazard). Scope as GET /api/v1/hazards/{id}: 404 " +
			"outside it, as for a hazard that does not exist.",
		Tags: tags, Params: []Param{PathParam("id", "the hazard's id")}, Response: photoList{},
		Problems: []int{fiber.StatusNotFound},
	}, s.hazardPhotos)
	s.route(fiber.MethodGet, "/api/v1/inspections/:id/photos", Operation{
		Summary: "An inspection's photos",
		Description: "The photos of an inspection, with the EXIF evidence and the far flag (GPS farther than the " +
			"service's limit from the enterprise). Seen by whoever may see the enterprise; 404 otherwise, as for an " +
			"inspection that does not exist.",
		Tags: tags, Params: []Param{PathParam("id", "the inspection's id")}, Response: photoList{},
		Problems: []int{fiber.StatusNotFound},
	}, s.inspectionPhotos)
}

func (s *Server) uploadPhoto(c *fiber.Ctx) error {
	ph, err := s.evidence.Upload(c.UserContext(), principal(c), c.Body())
	if err != nil {
		return err
	}
	c.Location(ph.URL)
	return c.Status(fiber.StatusCreated).JSON(ph)
}

// photoFile serves a photo's image or its thumbnail.
func (s *Server) photoFile(thumb bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, "photo")
		if err != nil {
			return err
		}
		ph, f, err := s.evidence.Open(c.UserContext(), principal(c), id, thumb)
		if err != nil {
			return err
		}
		defer f.Close()
		key, ct := ph.SHA256, ph.ContentType
		if thumb {
			key, ct = ph.ThumbSHA256, evidence.TypeJPEG
		}
		etag := `"` + key + `"`
		c.Set(fiber.HeaderETag, etag)
		c.Set(fiber.HeaderCacheControl, photoCacheControl)
		if etagMatches(c.Get(fiber.HeaderIfNoneMatch), etag) {
			return c.SendStatus(fiber.StatusNotModified)
		}
		data, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, ct)
		c.Set(fiber.HeaderContentDisposition, `inline; filename="photo-`+strconv.FormatInt(id, 10)+extension(ct)+`"`)
		return c.Send(data)
	}
}

func extension(ct string) string {
	return "." + strings.TrimPrefix(strings.Replace(ct, "jpeg", "jpg", 1), "image/")
}

func (s *Server) hazardPhotos(c *fiber.Ctx) error {
	id, err := hazardID(c)
	if err != nil {
		return err
	}
	list, err := s.evidence.HazardPhotos(c.UserContext(), principal(c), id)
	if err != nil {
		return err
	}
	return c.JSON(photoList{Items: list})
}

func (s *Server) inspectionPhotos(c *fiber.Ctx) error {
	id, err := pathID(c, "inspection")
	if err != nil {
		return err
	}
	list, err := s.evidence.InspectionPhotos(c.UserContext(), principal(c), id)
	if err != nil {
		return err
	}
	return c.JSON(photoList{Items: list})
}
