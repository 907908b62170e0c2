package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"safegrid/grid"
)

// BenchmarkCopyRowGeometry measures what the import's bulk path spends per record on its
// geometry between the checks and the COPY stream, on the first rows of the files
// `safegrid generate` writes into SAFEGRID_BENCH_DIR:
//
//   - part=encode: the checked geometry to bytes (checkGeometry, in the checking workers);
//   - part=row: the record as one binary COPY row (appendCopyRow, in the one goroutine that
//     feeds COPY);
//   - part=both: the two, one after the other.
//
// impl=new is the code as it is (go-geom's EWKB, once per record); impl=old is the code
// before go-geom, kept here as the reference: orb's WKB, then per row the SRID spliced in
// (oldEWKB4326, the former ewkb4326). Besides the wall time it reports cpu-ns/op, the
// process's CPU time per record (GC included), which a busy machine disturbs far less.
func BenchmarkCopyRowGeometry(b *testing.B) {
	dir := os.Getenv("SAFEGRID_BENCH_DIR")
	if dir == "" {
		b.Skip("set SAFEGRID_BENCH_DIR to the output of safegrid generate")
	}
	for _, kind := range []string{"enterprises", "pipelines", "underground_spaces", "gas_occupancy_sites"} {
		k, _ := grid.KindByName(kind)
		geoms, recs := benchRecords(b, k, filepath.Join(dir, kind+".geojson"), 2000)
		types := benchCopyTypes(k)
		wkbs := make([][]byte, len(geoms))
		for i, g := range geoms {
			wkbs[i], _ = wkb.Marshal(g)
		}
		for _, part := range []string{"encode", "row", "both"} {
			for _, impl := range []string{"old", "new"} {
				b.Run("kind="+kind+"/part="+part+"/impl="+impl, func(b *testing.B) {
					buf := make([]byte, 0, 80<<10)
					b.ReportAllocs()
					b.ResetTimer()
					cpu0 := cpuTime()
					for n := 0; n < b.N; n++ {
						i := n % len(recs)
						rec := recs[i]
						var err error
						if part != "row" {
							if impl == "old" {
								wkbs[i], err = wkb.Marshal(geoms[i])
							} else {
								rec.ewkb, err = encodeEWKB(geoms[i])
							}
							if err != nil {
								b.Fatal(err)
							}
						}
						if part != "encode" {
							if impl == "old" {
								rec.ewkb = oldEWKB4326(wkbs[i])
							}
							if len(buf) > 64<<10 {
								buf = buf[:0]
							}
							if buf, err = appendCopyRow(k, buf, rec, types); err != nil {
								b.Fatal(err)
							}
						}
					}
					b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}

// cpuTime is the CPU time (user and system) this process has used, in nanoseconds: on a
// shared machine it varies far less than the wall time, which includes waiting for a core.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchRecords checks the first n rows of a file of kind k, returning their stored
// geometries and records.
func benchRecords(b *testing.B, k *grid.Kind, path string, n int) ([]orb.Geometry, []record) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc, err := newScanner(f, FormatGeoJSON)
	if err != nil {
		b.Fatal(err)
	}
	sc = forKind(sc, k)
	co := &checkOptions{crs: "wgs84", region: testRegion}
	var geoms []orb.Geometry
	var recs []record
	for len(recs) < n {
		c, err := sc.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		raw := sc.decode(c)
		rec, probs := checkRow(k, raw, co)
		if len(probs) > 0 || rec.repair {
			continue
		}
		geoms = append(geoms, promote(raw.Geom, k.Geoms))
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		b.Fatalf("%s: no good rows", path)
	}
	return geoms, recs
}

// benchCopyTypes are column types as copyTypes would find them, from the field types.
func benchCopyTypes(k *grid.Kind) copyCols {
	types := []uint32{oidText, oidText, oidText}
	for _, f := range k.Fields {
		t := uint32(oidText)
		switch f.Type {
		case grid.Int:
			t = oidInt4
		case grid.Float:
			t = oidFloat8
		case grid.Bool:
			t = oidBool
		case grid.Date:
			t = oidDate
		case grid.Timestamp:
			t = oidTimestamptz
		}
		types = append(types, t)
	}
	types = append(types, oidInt8)
	if hasCells(k) {
		types = append(types, oidInt8Array)
	}
	types = append(types, 0)
	return copyCols{types: types, mods: make([]int32, len(types)), defaults: fieldDefaults(k, time.Now())}
}

// oldEWKB4326 is the former ewkb4326 (grid/ingest/bulk.go before go-geom): WKB to EWKB with SRID
// 4326, per COPY row.
func oldEWKB4326(wkb []byte) []byte {
	if len(wkb) < 5 {
		return wkb
	}
	out := make([]byte, len(wkb)+4)
	out[0] = wkb[0]
	var bo binary.ByteOrder = binary.LittleEndian
	if wkb[0] == 0 {
		bo = binary.BigEndian
	}
	bo.PutUint32(out[1:5], bo.Uint32(wkb[1:5])|0x20000000)
	bo.PutUint32(out[5:9], 4326)
	copy(out[9:], wkb[5:])
	return out
}

// encodeEWKB writes what the importer wrote before go-geom (orb's WKB with the SRID
// spliced in), for every geometry a table stores, and its results do not share memory
// even though its scratch space is reused.
func TestEncodeEWKB(t *testing.T) {
	ring := orb.Ring{{121.40, 31.20}, {121.50, 31.20}, {121.50, 31.30}, {121.40, 31.20}}
	hole := orb.Ring{{121.45, 31.22}, {121.47, 31.22}, {121.47, 31.24}, {121.45, 31.22}}
	line := orb.LineString{{121.1, 31.1}, {121.2, 31.15}, {121.3, 31.12}}
	geoms := []orb.Geometry{
		orb.Point{121.4737, 31.2304},
		orb.Point{121.5055, 31.2397},
		line,
		orb.MultiLineString{line, {{121.5, 31.5}, {121.6, 31.6}}},
		orb.Polygon{ring, hole},
		orb.MultiPolygon{{ring, hole}, {{{121.6, 31.0}, {121.7, 31.0}, {121.7, 31.1}, {121.6, 31.0}}}},
		orb.MultiPoint{{121.1, 31.1}, {121.2, 31.2}},
	}
	var got [][]byte
	for _, g := range geoms {
		e, err := encodeEWKB(g)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	for i, g := range geoms {
		w, err := wkb.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		if want := oldEWKB4326(w); !bytes.Equal(got[i], want) {
			t.Errorf("%s: EWKB\n got %x\nwant %x", g.GeoJSONType(), got[i], want)
		}
	}
}
