// Package web holds the map page: the assets that `npm run build` (web/build.mjs) writes to
// web/dist, embedded in the binary so `safegrid serve` needs nothing on disk.
//
// The directory always holds .gitkeep, so the package builds on a fresh clone before the
// bundle exists; Built reports whether it does.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Assets is the built page: index.html at the root, the bundle and its fonts beside it.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the directive above guarantees the directory
	}
	return sub
}

// Built reports whether the bundle was built before the binary (make build does it).
func Built() bool {
	_, err := fs.Stat(Assets(), "index.html")
	return err == nil
}
