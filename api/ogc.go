package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/layers"
	"safegrid/internal/cql2"
)

// OGC API Features, read-only, at /ogc: Part 1 (landing page, conformance, the collections
// — each feature kind and hazards — and their items as GeoJSON), Part 2 (crs=, bbox-crs=:
// CRS84, EPSG:4326, CGCS2000 and its Gauss-Kruger zones, Web Mercator) and Part 3
// (queryables, CQL2 filters in text and JSON), with sortby= and properties=. Every route
// takes a bearer token or HTTP Basic credentials (QGIS 3.22 can only send Basic) and is
// scoped like the REST API: an officer sees the features in their cells, a street office
// its street's, admins and planners everything; a filter only narrows that. Extents are
// computed in the caller's scope, so an officer's QGIS zooms to their own cells. Clients
// read the largest page size from #/components/parameters/limit of the OpenAPI document
// of /ogc (/ogc/api, the landing page's service-desc link) and page by the next links.

const (
	crs84         = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
	mimeOpenAPI   = "application/vnd.oai.openapi+json;version=3.0"
	confCore      = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
	confGeoJSON   = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
	confOAS30     = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"
	confCommonCor = "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core"
	mimeSchema    = "application/schema+json"
	relQueryables = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
)

// conformance lists the classes announced at /ogc/conformance: only what is implemented.
// Part 2 (CRS by reference), Part 3 (queryables, name=value filters, filter= in CQL2 text
// and JSON), and of CQL2 the basic language, LIKE/BETWEEN/IN, every spatial function and
// no more. Not implemented, so not announced: properties in place of literals beyond
// comparisons, CQL2's temporal, array and arithmetic functions, CASEI/ACCENTI.
var conformance = []string{
	confCommonCor, confCore, confGeoJSON, confOAS30,
	"http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
	"http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
	"http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
	"http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
	"http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
}

// Filter languages: CQL2 text and JSON, and cql-text, the name GDAL before 3.7 sends for
// the text encoding (its expressions are CQL2 text).
const (
	langText       = "cql2-text"
	langJSON       = "cql2-json"
	langLegacyText = "cql-text"
	// maxFilterBytes bounds filter=: a district's boundary simplified to about 100 m is a
	// few KB of WKT. The request line as a whole is bounded by the server's read buffer
	// (32 KB, api/server.go); a longer one is a 431.
	maxFilterBytes = 24 << 10
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
	CRS         []string   `json:"crs" doc:"the CRSs items can be asked for with crs= (OGC API Features Part 2)"`
	StorageCRS  string     `json:"storageCrs"`
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
	"description": "GeoJSON FeatureCollection with OGC paging members; coordinates in CRS84 (RFC 7946) unless crs= asks for another CRS (the Content-Crs header names it)",
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
	"description": "GeoJSON Feature; id is the row id, properties are the collection's fields plus district_code, street_code, community_code, cell (H3 res 9, hex), updated_at (or those named by properties=)",
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
	o = op("Queryables of a collection", "JSON Schema (2020-12) of the properties that filter= (CQL2) and sortby= "+
		"can use, with their types and enumerations (risk levels, hazard statuses, in Chinese as stored); "+
		"the geometry is "+layers.GeometryQueryable+".", Schema{"type": "object"}, mimeSchema)
	o.Params, o.Problems = []Param{coll, QueryParam("f", "string", "json (the only format)")}, []int{fiber.StatusBadRequest, fiber.StatusNotFound}
	s.route(fiber.MethodGet, "/ogc/collections/:collectionId/queryables", o, s.ogcQueryables)
	o = op("Features of a collection", "GeoJSON, one page in the caller's scope, ordered by id unless sortby says otherwise. "+
		"Besides the parameters below, any field of the collection (its queryables) filters by equality, e.g. "+
		"risk_level=重大&industry=工贸. An unknown parameter or an invalid value is a 400 naming it.", ogcItemsSchema, mimeGeoJSON)
	o.Params = append([]Param{coll}, s.itemsParams()...)
	o.Problems = []int{fiber.StatusBadRequest, fiber.StatusNotFound}
	s.route(fiber.MethodGet, "/ogc/collections/:collectionId/items", o, s.ogcItems)
	o = op("One feature", "404 when it does not exist or lies outside the caller's scope.", ogcFeatureSchema, mimeGeoJSON)
	o.Params = []Param{coll, PathParam("featureId", "the feature's id (the row id)"), crsParam("crs", "the CRS of the geometry written"),
		QueryParam("properties", "string", "comma-separated properties to write (all when absent)"), QueryParam("f", "string", "json (the only format)")}
	o.Problems = []int{fiber.StatusBadRequest, fiber.StatusNotFound}
	s.route(fiber.MethodGet, "/ogc/collections/:collectionId/items/:featureId", o, s.ogcItem)
	o = op("The OpenAPI document of /ogc", "The /ogc paths of this document, relative to /ogc (servers names it), with one items "+
		"path per collection that lists its queryables as parameters and the filter languages: OGC API clients read it "+
		"(the landing page's service-desc), and GDAL sends a -where to the server only for what it finds there.", Schema{"type": "object"}, mimeOpenAPI)
	s.route(fiber.MethodGet, "/ogc/api", o, s.ogcAPIHandler)
}

// crsParam is a parameter naming one of the CRSs of layers.CRSList.
func crsParam(name, doc string) Param {
	p := QueryParam(name, "string", doc+"; "+crs84+" when absent")
	p.Schema = Schema{"type": "string", "format": "uri", "enum": layers.CRSURIs(), "default": crs84}
	return p
}

// itemsParams are the items' parameters besides the collection.
func (s *Server) itemsParams() []Param {
	lang := QueryParam("filter-lang", "string", "the language of filter: cql2-text (default) or cql2-json; cql-text is taken as cql2-text (GDAL before 3.7 sends it)")
	lang.Schema = Schema{"type": "string", "enum": []string{langText, langJSON, langLegacyText}, "default": langText}
	return []Param{LimitParam, OffsetParam,
		QueryParam("bbox", "string", "min x,min y,max x,max y in bbox-crs's axis order (CRS84: min lon,min lat,max lon,max lat); features whose bounding box meets it"),
		crsParam("bbox-crs", "the CRS of bbox"),
		crsParam("crs", "the CRS of the geometries written (Content-Crs says which); EPSG:4326 and EPSG:4490 are latitude first, EPSG:4549/4550 northing first"),
		QueryParam("filter", "string", "a CQL2 filter on the queryables, e.g. risk_level='重大' AND S_INTERSECTS(geom, POLYGON((...))); it runs inside the caller's scope"),
		lang,
		crsParam("filter-crs", "the CRS of the geometry literals in filter"),
		QueryParam("sortby", "string", "comma-separated queryables, each + (ascending, the default) or - (descending), e.g. -employees,name; enumerations sort in their order (重大 first); ties by id"),
		QueryParam("properties", "string", "comma-separated properties to write (all when absent)"),
		QueryParam("f", "string", "json (the only format)")}
}

func (s *Server) ogcBase(c *fiber.Ctx) string { return s.linkBase(c) + "/ogc" }

func (s *Server) ogcLanding(c *fiber.Ctx) error {
	base := s.ogcBase(c)
	return c.JSON(ogcLanding{
		Title:       "SafeGrid 安全网格",
		Description: "Work-safety supervision features of Shanghai (OGC API Features, read-only)",
		Links: []ogcLink{
			{Href: base, Rel: "self", Type: fiber.MIMEApplicationJSON, Title: "this document"},
			{Href: base + "/api", Rel: "service-desc", Type: mimeOpenAPI, Title: "the definition of this API"},
			{Href: base + "/conformance", Rel: "conformance", Type: fiber.MIMEApplicationJSON, Title: "conformance classes"},
			{Href: base + "/collections", Rel: "data", Type: fiber.MIMEApplicationJSON, Title: "feature collections"},
		},
	})
}

func (s *Server) ogcConformance(c *fiber.Ctx) error {
	return c.JSON(ogcConformance{ConformsTo: conformance})
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
		ID: col.ID, Title: col.Title(), Description: col.Kind.Doc, ItemType: "feature", CRS: layers.CRSURIs(), StorageCRS: crs84,
		Links: []ogcLink{
			{Href: href, Rel: "self", Type: fiber.MIMEApplicationJSON},
			{Href: href + "/items", Rel: "items", Type: mimeGeoJSON, Title: col.Title()},
			{Href: href + "/queryables", Rel: relQueryables, Type: mimeSchema, Title: "queryables 可查询属性"},
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

// ogcQuery reads the items parameters: paging, bbox, CRSs, property filters, the CQL2
// filter, sorting and property selection. Anything else is a 400, as OGC API Features
// asks, so a misspelt filter never silently returns all.
func (s *Server) ogcQuery(c *fiber.Ctx, col *layers.Collection) (layers.FeatureQuery, error) {
	q := layers.FeatureQuery{Principal: principal(c), Limit: s.cfg.DefaultLimit}
	var err error
	var filter, lang string
	seen := map[string]bool{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if err != nil {
			return
		}
		name, val := string(k), string(v)
		if err = checkParam(name, val); err != nil {
			return
		}
		if seen[name] {
			err = badRequest("%s: given more than once", name)
			return
		}
		seen[name] = true
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
			q.BBoxCRS, err = parseCRS(name, val)
		case "crs":
			q.CRS, err = parseCRS(name, val)
		case "filter-crs":
			q.FilterCRS, err = parseCRS(name, val)
		case "filter":
			filter = val
		case "filter-lang":
			lang = val
		case "sortby":
			q.SortBy, err = col.ParseSortBy(val)
		case "properties":
			q.Properties, err = col.ParseProperties(val)
		case "f":
			if val != "json" && val != "geojson" && val != mimeGeoJSON {
				err = badRequest("f: only json is supported")
			}
		default:
			var f layers.Filter
			f, err = col.ParseFilter(name, val)
			q.Filters = append(q.Filters, f)
		}
	})
	if err == nil && q.BBox != nil && (q.BBoxCRS == nil || q.BBoxCRS == layers.CRS84) {
		err = checkLonLat(q.BBox)
	}
	if err == nil && (filter != "" || lang != "" || q.FilterCRS != nil) {
		q.Filter, err = parseFilter(filter, lang)
	}
	return q, ogcError(err)
}

// ogcError turns an InvalidError into OGC's answer to a parameter it cannot use: a 400
// naming the parameter (the REST API's 422 is for bodies).
func ogcError(err error) error {
	var inv *grid.InvalidError
	if errors.As(err, &inv) {
		return badRequest("%s: %s", inv.Field, inv.Reason)
	}
	return err
}

// checkParam refuses a parameter name or value that is not text: a NUL byte or invalid
// UTF-8 would otherwise reach the database.
func checkParam(name, val string) error {
	if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return badRequest("a parameter name is not valid UTF-8 text")
	}
	if !utf8.ValidString(val) || strings.ContainsRune(val, 0) {
		return badRequest("%s: not valid UTF-8 text (or holds a NUL byte)", name)
	}
	return nil
}

// parseCRS reads a CRS parameter: one of the URIs every collection lists in crs.
func parseCRS(name, val string) (*layers.CRS, error) {
	crs, ok := layers.CRSByURI(val)
	if !ok {
		return nil, badRequest("%s: %q is not a CRS this service offers; use one of %s", name, val, strings.Join(layers.CRSURIs(), ", "))
	}
	return crs, nil
}

// parseFilter parses filter= in its filter-lang (CQL2 text by default).
func parseFilter(filter, lang string) (cql2.Expr, error) {
	if filter == "" {
		return nil, badRequest("filter: missing (filter-lang and filter-crs need a filter)")
	}
	if len(filter) > maxFilterBytes {
		return nil, badRequest("filter: longer than %d bytes", maxFilterBytes)
	}
	var e cql2.Expr
	var err error
	switch lang {
	case "", langText, langLegacyText:
		e, err = cql2.ParseText(filter)
	case langJSON:
		e, err = cql2.ParseJSON([]byte(filter))
	default:
		return nil, badRequest("filter-lang: %q is not supported; use %s or %s", lang, langText, langJSON)
	}
	var se *cql2.Error
	if errors.As(err, &se) {
		return nil, badRequest("filter: %s", se.Error())
	}
	return e, err
}

// parseBBox reads four comma-separated numbers, min x, min y, max x, max y in the axis
// order of bbox-crs (CRS84: min lon, min lat, max lon, max lat).
func parseBBox(raw string) (*[4]float64, error) {
	parts := strings.Split(raw, ",")
	if len(parts) != 4 {
		return nil, badRequest("bbox must be four numbers: min x,min y,max x,max y (CRS84: min lon,min lat,max lon,max lat)")
	}
	var b [4]float64
	for i, p := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, badRequest("bbox: %q is not a number", p)
		}
		b[i] = x
	}
	if b[0] > b[2] || b[1] > b[3] {
		return nil, badRequest("bbox: min x,min y,max x,max y, min before max")
	}
	return &b, nil
}

// checkLonLat checks a CRS84 bbox's ranges (other CRSs' are checked by the transformation).
func checkLonLat(b *[4]float64) error {
	if b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 {
		return badRequest("bbox must be min lon,min lat,max lon,max lat within -180..180 and -90..90, min before max")
	}
	return nil
}

// pageURL is the items URL with the request's parameters and offset changed.
func (s *Server) pageURL(c *fiber.Ctx, limit, offset int) string {
	v := url.Values{}
	c.Context().QueryArgs().VisitAll(func(k, val []byte) { v.Add(string(k), string(val)) })
	v.Set("limit", strconv.Itoa(limit))
	v.Set("offset", strconv.Itoa(offset))
	return s.linkBase(c) + c.Path() + "?" + v.Encode()
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
		return ogcError(err)
	}
	self := s.linkBase(c) + c.OriginalURL()
	links := []ogcLink{
		{Href: self, Rel: "self", Type: mimeGeoJSON, Title: "this page"},
		{Href: s.ogcBase(c) + "/collections/" + col.ID, Rel: "collection", Type: fiber.MIMEApplicationJSON},
	}
	if int64(q.Offset+len(page.Features)) < page.Matched {
		links = append(links, ogcLink{Href: s.pageURL(c, q.Limit, q.Offset+q.Limit), Rel: "next", Type: mimeGeoJSON, Title: "next page"})
	}
	if q.Offset > 0 {
		links = append(links, ogcLink{Href: s.pageURL(c, q.Limit, max(q.Offset-q.Limit, 0)), Rel: "prev", Type: mimeGeoJSON, Title: "previous page"})
	}
	head, err := json.Marshal(map[string]any{
		"type": "FeatureCollection", "numberMatched": page.Matched, "numberReturned": len(page.Features),
		"timeStamp": grid.FormatTime(time.Now()), "links": links,
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
	return sendGeoJSON(c, b.String(), q.CRS)
}

func (s *Server) ogcItem(c *fiber.Ctx) error {
	col, err := layers.CollectionByID(c.Params("collectionId"))
	if err != nil {
		return err
	}
	var crs *layers.CRS
	var props []string
	var perr error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if perr != nil {
			return
		}
		name, val := string(k), string(v)
		if perr = checkParam(name, val); perr != nil {
			return
		}
		switch name {
		case "f":
			if val != "json" && val != "geojson" && val != mimeGeoJSON {
				perr = badRequest("f: only json is supported")
			}
		case "crs":
			crs, perr = parseCRS(name, val)
		case "properties":
			props, perr = col.ParseProperties(val)
		default:
			perr = badRequest("unknown parameter %s", name)
		}
	})
	if perr != nil {
		return ogcError(perr)
	}
	fid := c.Params("featureId")
	id, err := strconv.ParseInt(fid, 10, 64)
	if err != nil {
		return &grid.NotFoundError{What: "feature", Key: col.ID + "/" + fid}
	}
	f, err := s.layers.Feature(c.UserContext(), col, principal(c), id, crs, props)
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
	return sendGeoJSON(c, f[:len(f)-1]+`,"links":`+string(links)+"}", crs)
}

// sendGeoJSON sends features whose coordinates are in crs (nil: CRS84), saying so in
// Content-Crs (OGC API Features Part 2).
func sendGeoJSON(c *fiber.Ctx, body string, crs *layers.CRS) error {
	if crs == nil {
		crs = layers.CRS84
	}
	c.Set(fiber.HeaderContentType, mimeGeoJSON)
	c.Set("Content-Crs", "<"+crs.URI+">")
	return c.SendString(body)
}

// ogcQueryables is the JSON Schema of a collection's queryables (OGC API Features Part 3).
func (s *Server) ogcQueryables(c *fiber.Ctx) error {
	col, err := layers.CollectionByID(c.Params("collectionId"))
	if err != nil {
		return err
	}
	var perr error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if perr == nil && (string(k) != "f" || string(v) != "json") {
			perr = badRequest("unknown parameter %s (only f=json)", string(k))
		}
	})
	if perr != nil {
		return perr
	}
	props := map[string]any{}
	for _, q := range col.Queryables() {
		props[q.Name] = queryableSchema(q)
	}
	body, err := json.Marshal(map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     s.ogcBase(c) + "/collections/" + col.ID + "/queryables",
		"type":    "object", "title": col.Title(), "description": col.Kind.Doc,
		"properties": props, "additionalProperties": false,
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mimeSchema)
	return c.Send(body)
}

// queryableSchema is one queryable as JSON Schema, with OGC's geometry formats.
func queryableSchema(q layers.Queryable) Schema {
	if q.Geometry {
		format := "geometry-any"
		if len(q.Geoms) == 1 && q.Geoms[0] == grid.GeomPoint {
			format = "geometry-point"
		} else if !slices.Contains(q.Geoms, grid.GeomPoint) && !slices.Contains(q.Geoms, grid.GeomLineString) {
			format = "geometry-polygon-or-multipolygon"
		} else if !slices.Contains(q.Geoms, grid.GeomPoint) && !slices.Contains(q.Geoms, grid.GeomPolygon) {
			format = "geometry-linestring-or-multilinestring"
		}
		return Schema{"title": q.Doc, "format": format, "x-ogc-role": "primary-geometry"}
	}
	sc := Schema{"type": jsonType(q.Type), "title": q.Name}
	if q.Doc != "" {
		sc["description"] = q.Doc
	}
	switch q.Type {
	case grid.Enum:
		sc["enum"] = q.Values
	case grid.Date:
		sc["format"] = "date"
	case grid.Timestamp:
		sc["format"] = "date-time"
	}
	if q.Min != nil {
		sc["minimum"] = *q.Min
	}
	if q.Name == "id" {
		sc["x-ogc-role"] = "id"
	}
	return sc
}

// ogcAPIHandler serves the OpenAPI document of /ogc alone, its paths relative to /ogc (as
// OGC API clients read them), with each collection's items path listing its queryables
// as parameters and filter-lang's languages: GDAL pushes a -where to the server only for
// the properties and languages it finds there.
func (s *Server) ogcAPIHandler(c *fiber.Ctx) error {
	doc := s.openAPI()
	paths := map[string]map[string]any{}
	for p, ops := range doc["paths"].(map[string]map[string]any) {
		if rest, ok := strings.CutPrefix(p, "/ogc"); ok {
			if rest == "" {
				rest = "/"
			}
			paths[rest] = ops
		}
	}
	generic := paths["/collections/{collectionId}/items"]["get"].(map[string]any)
	for _, col := range layers.Collections() {
		op := maps.Clone(generic)
		op["operationId"] = "get" + col.ID + "Items"
		op["summary"] = col.Title()
		var params []any
		for _, p := range generic["parameters"].([]any) {
			if m, ok := p.(map[string]any); ok && m["name"] == "collectionId" {
				continue
			}
			params = append(params, p)
		}
		for _, q := range col.Queryables() {
			if !q.Geometry && q.Type != grid.Timestamp && q.Name != "id" {
				params = append(params, map[string]any{"name": q.Name, "in": "query", "required": false,
					"style": "form", "explode": false, "schema": queryableSchema(q), "description": "equal to"})
			}
		}
		op["parameters"] = params
		paths["/collections/"+col.ID+"/items"] = map[string]any{"get": op}
	}
	doc["paths"] = paths
	doc["servers"] = []any{map[string]any{"url": s.ogcBase(c)}}
	doc["info"].(map[string]any)["title"] = "SafeGrid OGC API Features"
	if err := c.JSON(doc); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mimeOpenAPI)
	return nil
}
