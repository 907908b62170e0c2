package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/layers"
)

// OGC API Features - Part 1: Core, read-only, at /ogc: landing page, conformance, the
// collections (each feature kind and hazards) and their items as GeoJSON (RFC 7946,
// CRS84). Every route takes a bearer token or HTTP Basic credentials (QGIS 3.22 can only
// send Basic) and is scoped like the REST API: an officer sees the features in their
// cells, a street office its street's, admins and planners everything. Extents are
// computed in the caller's scope, so an officer's QGIS zooms to their own cells.
// Clients read the largest page size from #/components/parameters/limit of the OpenAPI
// document (the landing page's service-desc link) and page by the next links.

const (
	crs84         = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
	mimeOpenAPI   = "application/vnd.oai.openapi+json;version=3.0"
	confCore      = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
	confGeoJSON   = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
	confOAS30     = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"
	confCommonCor = "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core"
)

// ogcLink is a link object of OGC API responses.
type ogcLink struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

type ogcLanding struct {
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Links       []ogcLink `json:"links"`
}

type ogcConformance struct {
	ConformsTo []string `json:"conformsTo"`
}

type ogcSpatialExtent struct {
	BBox [][4]float64 `json:"bbox" doc:"min lon, min lat, max lon, max lat"`
	CRS  string       `json:"crs"`
}

type ogcExtent struct {
	Spatial ogcSpatialExtent `json:"spatial"`
}

type ogcCollection struct {
	ID          string     `json:"id"`
	Title       string     `json:"title" doc:"Chinese and English"`
	Description string     `json:"description"`
	Links       []ogcLink  `json:"links"`
	Extent      *ogcExtent `json:"extent,omitempty" doc:"of the features the caller may see; absent when there are none"`
	ItemType    string     `json:"itemType"`
	CRS         []string   `json:"crs"`
	// Properties lists the fields that items carry and that can filter them (name=value).
	Properties []ogcProperty `json:"x-properties"`
}

type ogcProperty struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Enum        []string `json:"enum,omitempty"`
	Description string   `json:"description,omitempty"`
}

type ogcCollections struct {
	Links       []ogcLink       `json:"links"`
	Collections []ogcCollection `json:"collections"`
}

var ogcItemsSchema = Schema{
	"type":        "object",
	"description": "GeoJSON FeatureCollection (RFC 7946, CRS84) with OGC paging members",
	"required":    []string{"type", "features"},
	"properties": map[string]any{
		"type":           Schema{"type": "string", "enum": []string{"FeatureCollection"}},
		"features":       Schema{"type": "array", "items": ogcFeatureSchema},
		"numberMatched":  Schema{"type": "integer", "description": "features matching, over every page"},
		"numberReturned": Schema{"type": "integer"},
		"timeStamp":      Schema{"type": "string", "format": "date-time"},
		"links":          Schema{"type": "array", "items": Schema{"type": "object"}, "description": "self, collection, next (absent on the last page), prev"},
	},
}

var ogcFeatureSchema = Schema{
	"type":        "object",
	"description": "GeoJSON Feature; id is the row id, properties are the collection's fields plus district_code, street_code, community_code, cell (H3 res 9, hex), updated_at",
	"properties": map[string]any{
		"type":       Schema{"type": "string", "enum": []string{"Feature"}},
		"id":         Schema{"type": "integer"},
		"geometry":   Schema{"type": "object"},
		"properties": Schema{"type": "object"},
	},
}

func (s *Server) ogcRoutes() {
	tags := []string{"ogc"}
	op := func(summary, desc string, resp any, produces ...string) Operation {
		return Operation{Summary: summary, Description: desc, Tags: tags, Auth: AuthBearerOrBasic, Response: resp, Produces: produces}
	}
	s.route(fiber.MethodGet, "/ogc", op("OGC API Features landing page",
		"Answers at /ogc and /ogc/ alike (no redirect: QGIS and GDAL expect 200 at the URL typed).", ogcLanding{}), s.ogcLanding)
	s.route(fiber.MethodGet, "/ogc/conformance", op("OGC API conformance classes", "", ogcConformance{}), s.ogcConformance)
	s.route(fiber.MethodGet, "/ogc/collections", op("Feature collections",
		"Each feature kind plus hazards, with a bilingual title and the extent of the features the caller may see.", ogcCollections{}), s.ogcCollections)
	coll := PathParam("collectionId", "enterprises, pipelines, gas_occupancy_sites, fire_stations, fishing_ports, underground_spaces or hazards")
	o := op("One feature collection", "", ogcCollection{})
	o.Params, o.Problems = []Param{coll}, []int{fiber.StatusNotFound}
	s.route(fiber.MethodGet, "/ogc/collections/:collectionId", o, s.ogcCollection)
	o = op("Features of a collection", "GeoJSON, one page ordered by id, in the caller's scope. Besides the parameters "+
		"below, any field of the collection (x-properties of /ogc/collections/{collectionId}) filters by equality, e.g. "+
		"risk_level=重大&industry=工贸. An unknown parameter or an invalid value is a 400.", ogcItemsSchema, mimeGeoJSON)
	o.Params = []Param{coll, LimitParam, OffsetParam,
		QueryParam("bbox", "string", "min lon,min lat,max lon,max lat (CRS84); features whose bounding box meets it"),
		QueryParam("bbox-crs", "string", "only "+crs84),
		QueryParam("f", "string", "json (the only format)")}
	o.Problems = []int{fiber.StatusBadRequest, fiber.StatusNotFound}
	s.route(fiber.MethodGet, "/ogc/collections/:collectionId/items", o, s.ogcItems)
	o = op("One feature", "404 when it does not exist or lies outside the caller's scope.", ogcFeatureSchema, mimeGeoJSON)
	o.Params = []Param{coll, PathParam("featureId", "the feature's id (the row id)")}
	o.Problems = []int{fiber.StatusBadRequest, fiber.StatusNotFound}
	s.route(fiber.MethodGet, "/ogc/collections/:collectionId/items/:featureId", o, s.ogcItem)
}

func (s *Server) ogcBase(c *fiber.Ctx) string { return c.BaseURL() + "/ogc" }

func (s *Server) ogcLanding(c *fiber.Ctx) error {
	base := s.ogcBase(c)
	return c.JSON(ogcLanding{
		Title:       "SafeGrid 安全网格",
		Description: "Work-safety supervision features of Shanghai (OGC API Features, read-only)",
		Links: []ogcLink{
			{Href: base, Rel: "self", Type: fiber.MIMEApplicationJSON, Title: "this document"},
			{Href: c.BaseURL() + "/api/openapi.json", Rel: "service-desc", Type: mimeOpenAPI, Title: "the API definition"},
			{Href: base + "/conformance", Rel: "conformance", Type: fiber.MIMEApplicationJSON, Title: "conformance classes"},
			{Href: base + "/collections", Rel: "data", Type: fiber.MIMEApplicationJSON, Title: "feature collections"},
		},
	})
}

func (s *Server) ogcConformance(c *fiber.Ctx) error {
	return c.JSON(ogcConformance{ConformsTo: []string{confCommonCor, confCore, confGeoJSON, confOAS30}})
}

func (s *Server) ogcCollections(c *fiber.Ctx) error {
	base := s.ogcBase(c)
	out := ogcCollections{Links: []ogcLink{{Href: base + "/collections", Rel: "self", Type: fiber.MIMEApplicationJSON}}}
	for _, col := range layers.Collections() {
		oc, err := s.describeCollection(c, col)
		if err != nil {
			return err
		}
		out.Collections = append(out.Collections, oc)
	}
	return c.JSON(out)
}

func (s *Server) ogcCollection(c *fiber.Ctx) error {
	col, err := layers.CollectionByID(c.Params("collectionId"))
	if err != nil {
		return err
	}
	oc, err := s.describeCollection(c, col)
	if err != nil {
		return err
	}
	return c.JSON(oc)
}

func (s *Server) describeCollection(c *fiber.Ctx, col *layers.Collection) (ogcCollection, error) {
	href := s.ogcBase(c) + "/collections/" + col.ID
	oc := ogcCollection{
		ID: col.ID, Title: col.Title(), Description: col.Kind.Doc, ItemType: "feature", CRS: []string{crs84},
		Links: []ogcLink{
			{Href: href, Rel: "self", Type: fiber.MIMEApplicationJSON},
			{Href: href + "/items", Rel: "items", Type: mimeGeoJSON, Title: col.Title()},
		},
	}
	for _, f := range col.Kind.Fields {
		oc.Properties = append(oc.Properties, ogcProperty{Name: f.Name, Type: jsonType(f.Type), Enum: f.Values, Description: f.Doc})
	}
	box, ok, err := s.layers.Extent(c.UserContext(), col, principal(c))
	if err != nil {
		return oc, err
	}
	if ok {
		oc.Extent = &ogcExtent{Spatial: ogcSpatialExtent{BBox: [][4]float64{box}, CRS: crs84}}
	}
	return oc, nil
}

func jsonType(t grid.FieldType) string {
	switch t {
	case grid.Int:
		return "integer"
	case grid.Float:
		return "number"
	case grid.Bool:
		return "boolean"
	default:
		return "string"
	}
}

// badRequest is OGC's answer to a parameter it cannot use: 400, not 422.
func badRequest(format string, args ...any) error {
	return Problem(fiber.StatusBadRequest, "", fmt.Sprintf(format, args...))
}

// ogcQuery reads the items parameters: paging, bbox and property filters. Anything else
// is a 400, as OGC API Features asks, so a misspelt filter never silently returns all.
func (s *Server) ogcQuery(c *fiber.Ctx, col *layers.Collection) (layers.FeatureQuery, error) {
	q := layers.FeatureQuery{Principal: principal(c), Limit: s.cfg.DefaultLimit}
	var err error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if err != nil {
			return
		}
		name, val := string(k), string(v)
		switch name {
		case "limit":
			n, perr := strconv.Atoi(val)
			if perr != nil || n < 1 {
				err = badRequest("limit must be a positive integer")
			}
			q.Limit = min(n, s.cfg.MaxLimit)
		case "offset":
			n, perr := strconv.Atoi(val)
			if perr != nil || n < 0 {
				err = badRequest("offset must be an integer of 0 or more")
			}
			q.Offset = n
		case "bbox":
			q.BBox, err = parseBBox(val)
		case "bbox-crs":
			if val != crs84 {
				err = badRequest("bbox-crs: only %s is supported", crs84)
			}
		case "f":
			if val != "json" && val != "geojson" && val != mimeGeoJSON {
				err = badRequest("f: only json is supported")
			}
		default:
			f, ferr := col.ParseFilter(name, val)
			var inv *grid.InvalidError
			if errors.As(ferr, &inv) {
				err = badRequest("%s: %s", inv.Field, inv.Reason)
			}
			q.Filters = append(q.Filters, f)
		}
	})
	return q, err
}

// parseBBox reads four comma-separated numbers: min lon, min lat, max lon, max lat.
func parseBBox(raw string) (*[4]float64, error) {
	parts := strings.Split(raw, ",")
	if len(parts) != 4 {
		return nil, badRequest("bbox must be four numbers: min lon,min lat,max lon,max lat")
	}
	var b [4]float64
	for i, p := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, badRequest("bbox: %q is not a number", p)
		}
		b[i] = x
	}
	if b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 || b[0] > b[2] || b[1] > b[3] {
		return nil, badRequest("bbox must be min lon,min lat,max lon,max lat within -180..180 and -90..90, min before max")
	}
	return &b, nil
}

// pageURL is the items URL with the request's parameters and offset changed.
func pageURL(c *fiber.Ctx, limit, offset int) string {
	v := url.Values{}
	c.Context().QueryArgs().VisitAll(func(k, val []byte) { v.Add(string(k), string(val)) })
	v.Set("limit", strconv.Itoa(limit))
	v.Set("offset", strconv.Itoa(offset))
	return c.BaseURL() + c.Path() + "?" + v.Encode()
}

func (s *Server) ogcItems(c *fiber.Ctx) error {
	col, err := layers.CollectionByID(c.Params("collectionId"))
	if err != nil {
		return err
	}
	q, err := s.ogcQuery(c, col)
	if err != nil {
		return err
	}
	page, err := s.layers.Features(c.UserContext(), col, q)
	if err != nil {
		return err
	}
	self := c.BaseURL() + c.OriginalURL()
	links := []ogcLink{
		{Href: self, Rel: "self", Type: mimeGeoJSON, Title: "this page"},
		{Href: s.ogcBase(c) + "/collections/" + col.ID, Rel: "collection", Type: fiber.MIMEApplicationJSON},
	}
	if int64(q.Offset+len(page.Features)) < page.Matched {
		links = append(links, ogcLink{Href: pageURL(c, q.Limit, q.Offset+q.Limit), Rel: "next", Type: mimeGeoJSON, Title: "next page"})
	}
	if q.Offset > 0 {
		links = append(links, ogcLink{Href: pageURL(c, q.Limit, max(q.Offset-q.Limit, 0)), Rel: "prev", Type: mimeGeoJSON, Title: "previous page"})
	}
	head, err := json.Marshal(map[string]any{
		"type": "FeatureCollection", "numberMatched": page.Matched, "numberReturned": len(page.Features),
		"timeStamp": time.Now().UTC().Format(time.RFC3339), "links": links,
	})
	if err != nil {
		return err
	}
	// The features are GeoJSON from PostgreSQL already: splice them in, don't re-encode.
	var b strings.Builder
	b.Grow(len(head) + 16 + 512*len(page.Features))
	b.Write(head[:len(head)-1])
	b.WriteString(`,"features":[`)
	for i, f := range page.Features {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f)
	}
	b.WriteString("]}")
	return sendGeoJSON(c, b.String())
}

func (s *Server) ogcItem(c *fiber.Ctx) error {
	col, err := layers.CollectionByID(c.Params("collectionId"))
	if err != nil {
		return err
	}
	for _, k := range c.Context().QueryArgs().PeekMulti("f") {
		if string(k) != "json" && string(k) != "geojson" {
			return badRequest("f: only json is supported")
		}
	}
	var unknown string
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		if string(k) != "f" && unknown == "" {
			unknown = string(k)
		}
	})
	if unknown != "" {
		return badRequest("unknown parameter %s", unknown)
	}
	fid := c.Params("featureId")
	id, err := strconv.ParseInt(fid, 10, 64)
	if err != nil {
		return &grid.NotFoundError{What: "feature", Key: col.ID + "/" + fid}
	}
	f, err := s.layers.Feature(c.UserContext(), col, principal(c), id)
	if err != nil {
		return err
	}
	href := s.ogcBase(c) + "/collections/" + col.ID
	links, err := json.Marshal([]ogcLink{
		{Href: href + "/items/" + fid, Rel: "self", Type: mimeGeoJSON},
		{Href: href, Rel: "collection", Type: fiber.MIMEApplicationJSON},
	})
	if err != nil {
		return err
	}
	return sendGeoJSON(c, f[:len(f)-1]+`,"links":`+string(links)+"}")
}

func sendGeoJSON(c *fiber.Ctx, body string) error {
	c.Set(fiber.HeaderContentType, mimeGeoJSON)
	c.Set("Content-Crs", "<"+crs84+">")
	return c.SendString(body)
}
