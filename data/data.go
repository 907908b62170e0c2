// Package data embeds SafeGrid's shipped demo data: the real district boundaries, the
// street codes and names, the demo's administrative areas (real districts, synthetic
// streets and communities) and the OpenStreetMap extracts the demo generator places its
// features with. README.md beside this file says what each file is and carries the
// licence notices that must travel with it.
package data

import (
	"embed"
	"io/fs"
)

//go:embed areas-synthetic.geojson shanghai-districts.geojson shanghai-streets.csv osm/*.geojson README.md
var files embed.FS

// File names inside FS.
const (
	// Areas is one FeatureCollection of every administrative area, districts (real,
	// synthetic=false) then streets then communities (synthetic=true), each ordered by
	// code; properties code, name, synthetic; MultiPolygons in WGS84.
	Areas = "areas-synthetic.geojson"
	// Districts is the 16 real district polygons as shared (properties name, city, en).
	Districts = "shanghai-districts.geojson"
	// Streets is the 234 street-level units: code, name, district_code, district_name,
	// kind, lon, lat (label point, empty for 16).
	Streets = "shanghai-streets.csv"
	// OSM extracts (© OpenStreetMap contributors, ODbL 1.0).
	Industrial   = "osm/industrial-areas.geojson"
	FireStations = "osm/fire-stations.geojson"
	RailStations = "osm/rail-stations.geojson"
	Marinas      = "osm/marinas-ferries.geojson"
	// Readme describes the files and carries their licence notices.
	Readme = "README.md"
)

// Attribution is the notice to show wherever the data is displayed (the map page) or
// shipped.
const Attribution = "© OpenStreetMap contributors, geoBoundaries (ODbL 1.0); " +
	"codes and names: Administrative-divisions-of-China (MIT, Copyright (c) 2017 mwn)"

// FS returns the embedded files, named as the constants above.
func FS() fs.FS { return files }

// ReadFile returns the content of one embedded file.
func ReadFile(name string) ([]byte, error) { return files.ReadFile(name) }
