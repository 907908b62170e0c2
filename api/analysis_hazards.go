package api

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb/geojson"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/hazardstat"
)

// The hazard analyses: DBSCAN clusters and Getis-Ord Gi* hot spots over the hazards that
// match the same filters. Scope: planners and admins see the city; a district bureau only
// its own district's hazards (the district filter is forced; another district, or a street
// of one, is 403); a street office only its own street's hazards (the street filter is forced; asking for another street is
// 403); a grid officer only the hazards in their own cells (the clusters and hot spots of
// their patch, computed over those hazards alone).

var hazardAnalysisRoles = []string{grid.RolePlanner, grid.RoleAdmin, grid.RoleDistrict, grid.RoleStreet, grid.RoleOfficer}

const analysisGeoJSON = "application/geo+json"

var hazardAnalysisFilterParams = []Param{
	QueryParam("level", "string", "hazard levels, comma-separated: 一般, 重大"),
	QueryParam("status", "string", "statuses, comma-separated: reported, registered, assigned, rectifying, verified, closed"),
	QueryParam("category", "string", "categories, comma-separated (e.g. 消防安全)"),
	{Name: "from", In: "query", Description: "reported on or after this day (Asia/Shanghai)", Schema: Schema{"type": "string", "format": "date"}},
	{Name: "to", In: "query", Description: "reported on or before this day (Asia/Shanghai)", Schema: Schema{"type": "string", "format": "date"}},
	QueryParam("district", "string", "6-digit district code; a district bureau may give only its own"),
	QueryParam("street", "string", "9-digit street code; a street office may give only its own"),
}

var hazardClustersSchema = featureCollectionSchema("GeoJSON FeatureCollection: one convex-hull Polygon per cluster, largest first", "GeoJSON Polygon (WGS84)", map[string]any{
	"id":           Schema{"type": "integer", "description": "1…, largest cluster first"},
	"members":      Schema{"type": "integer", "description": "hazards in the cluster (core and border)"},
	"centroid":     Schema{"type": "array", "items": Schema{"type": "number"}, "description": "[lon, lat] of the members' centroid"},
	"levels":       Schema{"type": "object", "additionalProperties": Schema{"type": "integer"}, "description": "members per level (一般, 重大)"},
	"top_category": Schema{"type": "string", "description": "the most common category"},
	"streets": Schema{"type": "array", "description": "the streets its members lie in", "items": Schema{"type": "object", "properties": map[string]any{
		"code": Schema{"type": "string"}, "name": Schema{"type": "string"},
	}}},
})

var hotspotsSchema = featureCollectionSchema("GeoJSON FeatureCollection: one hexagon per cell of the population", "GeoJSON Polygon (WGS84)", map[string]any{
	"cell":  Schema{"type": "string", "description": "H3 cell, hex"},
	"count": Schema{"type": "integer", "description": "hazards in the cell"},
	"value": Schema{"type": "number", "description": "the analysed value: the count, or with weighted the level-weighted count (一般 1, 重大 3)"},
	"z":     Schema{"type": "number", "description": "Gi* z-score"},
	"p":     Schema{"type": "number", "description": "two-sided p-value"},
	"bin":   Schema{"type": "integer", "minimum": -3, "maximum": 3, "description": "±3/±2/±1: hot (+) or cold (−) spot at 99/95/90% confidence; 0 not significant"},
})

func (s *Server) hazardAnalysisRoutes() {
	tags := []string{"analysis"}
	s.route(fiber.MethodGet, "/api/v1/analysis/hazard-clusters", Operation{
		Summary: "Hazard clusters (DBSCAN)",
		Description: "DBSCAN in metres (UTM 51N) over the hazards that match the filters, as ST_ClusterDBSCAN(geom_m, eps_m, " +
			"min_points) would compute it over them in one window: a hazard with at least min_points hazards (itself included) " +
			"within eps_m is core; clusters are the core hazards linked within eps_m plus the hazards within eps_m of them; " +
			"the rest is noise and is left out. The work is partitioned into UTM tiles (dense ones split) with a 2·eps halo, " +
			"one statement per tile, and the tile clusters merged, which gives the same clusters (a border hazard near two clusters may join either). Each cluster: its " +
			"convex hull (buffered by eps_m/2 when the members lie on a line), centroid, members by level, most common " +
			"category and streets. Planners and admins see the city, a district bureau only its own district's hazards " +
			"(another district or its street is 403), a street office only its own street's hazards (another street is 403), an officer only the hazards in their cells. Clustering that cannot finish within the request's " +
			"time is a 422 (Request Too Broad): narrow the filter or use a smaller eps_m.",
		Tags: tags, Roles: hazardAnalysisRoles,
		Params: append([]Param{
			{Name: "eps_m", In: "query", Description: "neighbourhood radius in metres", Schema: Schema{"type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 5000, "default": 100}},
			{Name: "min_points", In: "query", Description: "hazards within eps_m (itself included) that make a core hazard", Schema: Schema{"type": "integer", "minimum": 1, "maximum": 10000, "default": 5}},
		}, hazardAnalysisFilterParams...),
		Response: hazardClustersSchema, Produces: []string{analysisGeoJSON},
	}, s.hazardClusters)
	s.route(fiber.MethodGet, "/api/v1/analysis/hotspots", Operation{
		Summary: "Hazard hot spots (Getis-Ord Gi*)",
		Description: "Getis-Ord Gi* over H3 cells of the hazards that match the filters. x is each cell's hazard count (with " +
			"weighted, 一般 1 and 重大 3 per hazard); neighbours are the cells within k steps, the cell itself included, with " +
			"binary weights; the population (n) is every cell with a hazard plus every cell within k steps of one (x = 0). " +
			"Each cell gets its z-score, two-sided p-value and bin (ArcGIS Gi_Bin: ±3, ±2, ±1 at 99, 95, 90% confidence); " +
			"with fdr the thresholds are Benjamini–Hochberg corrected over the population. Scope as for hazard clusters.",
		Tags: tags, Roles: hazardAnalysisRoles,
		Params: append([]Param{
			{Name: "resolution", In: "query", Description: "H3 resolution of the cells", Schema: Schema{"type": "integer", "minimum": 5, "maximum": 9, "default": 8}},
			{Name: "k", In: "query", Description: "neighbourhood size in grid steps", Schema: Schema{"type": "integer", "minimum": 1, "maximum": 5, "default": 1}},
			{Name: "weighted", In: "query", Description: "weight hazards by level: 一般 1, 重大 3", Schema: Schema{"type": "boolean", "default": false}},
			{Name: "fdr", In: "query", Description: "Benjamini–Hochberg false discovery rate correction", Schema: Schema{"type": "boolean", "default": false}},
		}, hazardAnalysisFilterParams...),
		Response: hotspotsSchema, Produces: []string{analysisGeoJSON},
	}, s.hotspots)
}

func (s *Server) hazardClusters(c *fiber.Ctx) error {
	f, err := s.hazardAnalysisFilter(c)
	if err != nil {
		return err
	}
	p := hazardstat.ClusterParams{EpsM: 100}
	if raw := c.Query("eps_m"); raw != "" {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(v) || !(v > 0 && v <= 5000) {
			return FieldProblem("eps_m", "must be a number of metres, more than 0 and at most 5000")
		}
		p.EpsM = v
	}
	if p.MinPoints, err = queryInt(c, "min_points", 5, 1, 10000); err != nil {
		return err
	}
	clusters, err := s.hazardstat.HazardClusters(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	fc := geojson.NewFeatureCollection()
	for _, cl := range clusters {
		ft := geojson.NewFeature(cl.Hull)
		ft.Properties = geojson.Properties{
			"id": cl.ID, "members": cl.Members, "centroid": []float64{cl.Centroid[0], cl.Centroid[1]},
			"levels": cl.Levels, "top_category": cl.TopCategory, "streets": cl.Streets,
		}
		fc.Append(ft)
	}
	return sendAnalysisGeoJSON(c, fc)
}

func (s *Server) hotspots(c *fiber.Ctx) error {
	f, err := s.hazardAnalysisFilter(c)
	if err != nil {
		return err
	}
	var p hazardstat.HotspotParams
	if p.Resolution, err = queryInt(c, "resolution", 8, 5, 9); err != nil {
		return err
	}
	if p.K, err = queryInt(c, "k", 1, 1, 5); err != nil {
		return err
	}
	if p.Weighted, err = queryBool(c, "weighted"); err != nil {
		return err
	}
	if p.FDR, err = queryBool(c, "fdr"); err != nil {
		return err
	}
	cells, err := s.hazardstat.Hotspots(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	fc := geojson.NewFeatureCollection()
	for _, hc := range cells {
		ft := geojson.NewFeature(geo.CellPolygon(hc.Cell))
		ft.Properties = geojson.Properties{"cell": hc.Cell.String(), "count": hc.Count, "value": hc.Value, "z": hc.Z, "p": hc.P, "bin": hc.Bin}
		fc.Append(ft)
	}
	return sendAnalysisGeoJSON(c, fc)
}

func sendAnalysisGeoJSON(c *fiber.Ctx, fc *geojson.FeatureCollection) error {
	body, err := json.Marshal(fc)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, analysisGeoJSON)
	return c.Send(body)
}

var (
	analysisDistrictRe = regexp.MustCompile(`^[0-9]{6}$`)
	analysisStreetRe   = regexp.MustCompile(`^[0-9]{9}$`)
)

// hazardAnalysisFilter reads the filters and applies the caller's scope.
func (s *Server) hazardAnalysisFilter(c *fiber.Ctx) (hazardstat.HazardFilter, error) {
	var f hazardstat.HazardFilter
	var err error
	if f.Levels, err = hazardEnumList(c, "level"); err != nil {
		return f, err
	}
	if f.Statuses, err = hazardEnumList(c, "status"); err != nil {
		return f, err
	}
	f.Categories = analysisList(c.Query("category"))
	for _, d := range []struct {
		name string
		to   **time.Time
		next bool
	}{{"from", &f.From, false}, {"to", &f.To, true}} {
		raw := c.Query(d.name)
		if raw == "" {
			continue
		}
		t, err := time.ParseInLocation(time.DateOnly, raw, grid.ShanghaiZone())
		if err != nil {
			return f, FieldProblem(d.name, "must be a date, YYYY-MM-DD")
		}
		if d.next { // "to" includes its day
			t = t.AddDate(0, 0, 1)
		}
		*d.to = &t
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		return f, FieldProblem("to", "must be on or after from")
	}
	f.District, f.Street = c.Query("district"), c.Query("street")
	if f.District != "" && !analysisDistrictRe.MatchString(f.District) {
		return f, FieldProblem("district", "must be a 6-digit district code")
	}
	if f.Street != "" && !analysisStreetRe.MatchString(f.Street) {
		return f, FieldProblem("street", "must be a 9-digit street code")
	}
	// A well-formed code that names no loaded area is a 400, not an empty analysis.
	for _, a := range []struct{ name, code string }{{"district", f.District}, {"street", f.Street}} {
		if a.code == "" {
			continue
		}
		if _, err := s.areaFilter(c, a.name, a.name); err != nil {
			return f, err
		}
	}
	switch p := principal(c); p.Role {
	case grid.RoleStreet:
		if f.Street != "" && f.Street != p.StreetCode {
			return f, Problem(fiber.StatusForbidden, "", fmt.Sprintf("you may analyse only the hazards of street %s", p.StreetCode))
		}
		f.Street = p.StreetCode
	case grid.RoleDistrict:
		if (f.District != "" && f.District != p.DistrictCode) || (f.Street != "" && !strings.HasPrefix(f.Street, p.DistrictCode)) {
			return f, Problem(fiber.StatusForbidden, "", fmt.Sprintf("you may analyse only the hazards of district %s", p.DistrictCode))
		}
		f.District = p.DistrictCode
	case grid.RoleOfficer:
		f.OfficerID = p.UserID
	}
	return f, nil
}

func analysisList(raw string) []string {
	var out []string
	for _, v := range strings.Split(raw, ",") {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// hazardEnumList reads a comma-separated list of a hazards enum field's values (or the
// importer's aliases for them).
func hazardEnumList(c *fiber.Ctx, name string) ([]string, error) {
	raw := analysisList(c.Query(name))
	if len(raw) == 0 {
		return nil, nil
	}
	k, _ := grid.KindByName("hazards")
	for _, fd := range k.Fields {
		if fd.Name != name {
			continue
		}
		out := make([]string, 0, len(raw))
		for _, v := range raw {
			if !slices.Contains(fd.Values, v) {
				a, ok := fd.Aliases[strings.ToLower(v)]
				if !ok {
					return nil, FieldProblem(name, fmt.Sprintf("%q is not one of %s", v, strings.Join(fd.Values, ", ")))
				}
				v = a
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("hazards kind has no field %s", name)
}
