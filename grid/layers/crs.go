package layers

import (
	"slices"
	"strconv"
	"strings"
)

// CRS is a coordinate reference system the OGC items can be asked for (OGC API Features
// Part 2, "crs", "bbox-crs" and Part 3's "filter-crs"). Rows are stored in EPSG:4326 with
// longitude first; any other CRS is a transformation by PostGIS on the way out and, for a
// bbox or a filter's geometry, on the way in.
type CRS struct {
	URI  string
	SRID int
	// LatFirst is true when the CRS's first axis is north: EPSG:4326 and EPSG:4490 are
	// latitude, longitude (unlike CRS84), and the CGCS2000 Gauss-Kruger zones EPSG:4549
	// and EPSG:4550 are northing (X), easting (Y), as their EPSG definitions say.
	LatFirst bool
	// Decimals of the coordinates written: 7 for degrees (about 1 cm), 3 for metres.
	Decimals int
	Title    string
}

// Projected reports whether the CRS's units are metres.
func (c *CRS) Projected() bool { return c.Decimals == 3 }

const epsgURI = "http://www.opengis.net/def/crs/EPSG/0/"

// CRS84 is the storage CRS and the default of every parameter: WGS 84, longitude first.
var CRS84 = &CRS{URI: "http://www.opengis.net/def/crs/OGC/1.3/CRS84", SRID: 4326, Decimals: 7, Title: "WGS 84 (longitude, latitude)"}

// crsList: CRS84, WGS 84, CGCS2000 (the national datum Chinese agencies map in), Web
// Mercator, and the two 3-degree Gauss-Kruger zones of CGCS2000 that Shanghai spans (the
// border between them is 121.5°E, through the city centre).
var crsList = []*CRS{
	CRS84,
	{URI: epsgURI + "4326", SRID: 4326, LatFirst: true, Decimals: 7, Title: "WGS 84 (latitude, longitude)"},
	{URI: epsgURI + "4490", SRID: 4490, LatFirst: true, Decimals: 7, Title: "CGCS2000 国家2000大地坐标系 (latitude, longitude)"},
	{URI: epsgURI + "3857", SRID: 3857, Decimals: 3, Title: "WGS 84 / Pseudo-Mercator (easting, northing)"},
	{URI: epsgURI + "4549", SRID: 4549, LatFirst: true, Decimals: 3, Title: "CGCS2000 / 3-degree Gauss-Kruger CM 120E (northing, easting); west of 121.5°E"},
	{URI: epsgURI + "4550", SRID: 4550, LatFirst: true, Decimals: 3, Title: "CGCS2000 / 3-degree Gauss-Kruger CM 123E (northing, easting); east of 121.5°E"},
}

// CRSList returns the CRSs every collection offers, CRS84 first.
func CRSList() []*CRS { return slices.Clone(crsList) }

// CRSURIs returns the URIs of CRSList.
func CRSURIs() []string {
	out := make([]string, len(crsList))
	for i, c := range crsList {
		out[i] = c.URI
	}
	return out
}

// CRSByURI returns the CRS named uri: its OGC URI (http://www.opengis.net/def/crs/EPSG/0/4490),
// the same in brackets as a safe CURIE ([EPSG:4490]), or EPSG:4490. ok is false for any other.
func CRSByURI(uri string) (*CRS, bool) {
	u := strings.TrimSpace(uri)
	if strings.HasPrefix(u, "[") && strings.HasSuffix(u, "]") {
		u = u[1 : len(u)-1]
	}
	switch {
	case strings.EqualFold(u, "OGC:CRS84"):
		u = CRS84.URI
	case strings.HasPrefix(strings.ToUpper(u), "EPSG:"):
		n, err := strconv.Atoi(u[len("EPSG:"):])
		if err != nil {
			return nil, false
		}
		u = epsgURI + strconv.Itoa(n)
	case strings.HasPrefix(u, "https://"):
		u = "http://" + u[len("https://"):]
	}
	for _, c := range crsList {
		if c.URI == u {
			return c, true
		}
	}
	return nil, false
}
