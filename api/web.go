package api

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/web"
)

// The map page (web/): GET / is index.html and GET /assets/* the bundle, both from the
// assets embedded in the binary. They are static files for browsers, not API endpoints, so
// they stay out of the OpenAPI document like the probes. Every file gets an ETag (a hash of
// its bytes) and must be revalidated, so a new binary's page shows at the next load.

// staticFile is one embedded asset, read once at start-up.
type staticFile struct {
	body []byte
	mime string
	etag string
}

// loadAssets reads every embedded file under the assets' root.
func loadAssets(root fs.FS) map[string]staticFile {
	files := map[string]staticFile{}
	_ = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		body, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		files[p] = staticFile{body: body, mime: assetType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return files
}

func assetType(p string) string {
	switch path.Ext(p) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8" // module workers need a JavaScript type
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".ttf":
		return "font/ttf"
	}
	if t := mime.TypeByExtension(path.Ext(p)); t != "" {
		return t
	}
	return fiber.MIMEOctetStream
}

// mapPageCSP allows the map page what it loads and no more: its own bundle, styles and
// fonts, the API and tiles on the same origin (connect-src), MapLibre's worker (a module
// from /assets, or a blob: URL), and data:/blob: images (the favicon, rendered glyphs and
// sprites), and inline style attributes (the legend's colour dots) but no style element.
// It may not be framed, and forms post only to the page's origin.
const mapPageCSP = "default-src 'self'; script-src 'self'; worker-src 'self' blob:; " +
	"style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

func (s *Server) webRoutes() {
	files := loadAssets(web.Assets())
	send := func(c *fiber.Ctx, name string) error {
		f, ok := files[name]
		if !ok {
			return Problem(fiber.StatusNotFound, "", "no such file: "+name)
		}
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, f.etag)
		if etagMatches(c.Get(fiber.HeaderIfNoneMatch), f.etag) {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, f.mime)
		return c.Send(f.body)
	}
	get := func(p string, h fiber.Handler) {
		s.plain(fiber.MethodGet, p, h)
		s.app.Add(fiber.MethodHead, p, markMatched, h)
	}
	get("/", func(c *fiber.Ctx) error {
		if _, ok := files["index.html"]; !ok {
			return Problem(fiber.StatusServiceUnavailable, "",
				"the map page was not built into this binary: run `make build` (npm ci and the bundle) and start it again")
		}
		c.Set(fiber.HeaderContentSecurityPolicy, mapPageCSP)
		return send(c, "index.html")
	})
	get("/assets/*", func(c *fiber.Ctx) error {
		name := path.Clean(c.Params("*"))
		if name == "index.html" || strings.HasPrefix(name, ".") {
			return Problem(fiber.StatusNotFound, "", "no such file: "+name)
		}
		// A worker runs under the CSP of its own script's answer, not the page's: MapLibre's
		// worker (/assets/maplibre-gl-worker.mjs) fetches the tiles, so the page's own files
		// carry the page's policy (connect-src 'self'), not the API's default-src 'none'.
		c.Set(fiber.HeaderContentSecurityPolicy, mapPageCSP)
		return send(c, name)
	})
}
