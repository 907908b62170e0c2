package ingest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"safegrid/grid"
)

// BenchmarkReadAndCheck measures the Go side of an import (parse, check, convert, H3)
// per row, on a file named by SAFEGRID_BENCH_FILE (for example the first rows of the
// benchmark's enterprises.geojson).
func BenchmarkReadAndCheck(b *testing.B) {
	path := os.Getenv("SAFEGRID_BENCH_FILE")
	if path == "" {
		b.Skip("set SAFEGRID_BENCH_FILE to a GeoJSON file of enterprises")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	k, _ := grid.KindByName("enterprises")
	co := &checkOptions{crs: "wgs84", region: testRegion}
	rows := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sc, err := newScanner(bytes.NewReader(data), FormatGeoJSON)
		sc = forKind(sc, k)
		if err != nil {
			b.Fatal(err)
		}
		for {
			c, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rec, probs := checkRow(k, sc.decode(c), co)
			if len(probs) > 0 {
				b.Fatal(probs)
			}
			_ = stagingValues(k, rec, nil)
			rows++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}
