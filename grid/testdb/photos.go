package testdb

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"

	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"
	"github.com/paulmach/orb"
)

// TestPhoto describes a photo for tests of photo evidence: its size, and what its EXIF
// says (nothing when all are zero).
type TestPhoto struct {
	W, H        int        // default 640×480
	GPS         *orb.Point // lon, lat
	TakenAt     string     // DateTimeOriginal, "2006:01:02 15:04:05"
	Offset      string     // OffsetTimeOriginal, "+08:00"
	Orientation int        // 1–8
	Comment     string     // a JPEG comment segment, to see it stripped
}

// PhotoJPEG makes a JPEG with an EXIF APP1 segment written by go-exif as a camera writes
// one (IFD0 with Make and Orientation, the Exif IFD with DateTimeOriginal, the GPS IFD),
// and an XMP segment naming the same place, so tests can see each read and removed.
func PhotoJPEG(t testing.TB, o TestPhoto) []byte {
	t.Helper()
	if o.W == 0 {
		o.W, o.H = 640, 480
	}
	img := image.NewRGBA(image.Rect(0, 0, o.W, o.H))
	for y := 0; y < o.H; y++ {
		for x := 0; x < o.W; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / o.W), uint8(y * 255 / o.H), 128, 255})
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	plain := enc.Bytes()
	var segs []byte
	if raw := photoEXIF(t, o); raw != nil {
		segs = appendSegment(segs, 0xE1, append([]byte("Exif\x00\x00"), raw...))
		segs = appendSegment(segs, 0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><rdf:Description exif:GPSLatitude=\"31,7.2N\"/></x:xmpmeta>"))
	}
	if o.Comment != "" {
		segs = appendSegment(segs, 0xFE, []byte(o.Comment))
	}
	out := append([]byte{}, plain[:2]...) // SOI
	out = append(out, segs...)
	return append(out, plain[2:]...)
}

func appendSegment(b []byte, marker byte, payload []byte) []byte {
	b = append(b, 0xFF, marker)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)+2))
	return append(b, payload...)
}

// photoEXIF is the TIFF structure of o's EXIF, or nil when o has none.
func photoEXIF(t testing.TB, o TestPhoto) []byte {
	if o.GPS == nil && o.TakenAt == "" && o.Orientation == 0 {
		return nil
	}
	im, err := exifcommon.NewIfdMappingWithStandard()
	if err != nil {
		t.Fatal(err)
	}
	ti := exif.NewTagIndex()
	root := exif.NewIfdBuilder(im, ti, exifcommon.IfdStandardIfdIdentity, exifcommon.EncodeDefaultByteOrder)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(root.AddStandardWithName("Make", "SafeGridTestCam"))
	if o.Orientation != 0 {
		must(root.AddStandardWithName("Orientation", []uint16{uint16(o.Orientation)}))
	}
	if o.TakenAt != "" {
		ex, err := exif.GetOrCreateIbFromRootIb(root, "IFD/Exif")
		must(err)
		must(ex.AddStandardWithName("DateTimeOriginal", o.TakenAt))
		if o.Offset != "" {
			must(ex.AddStandardWithName("OffsetTimeOriginal", o.Offset))
		}
	}
	if o.GPS != nil {
		gps, err := exif.GetOrCreateIbFromRootIb(root, "IFD/GPSInfo")
		must(err)
		must(gps.AddStandardWithName("GPSVersionID", []byte{2, 2, 0, 0}))
		lat, lon := o.GPS[1], o.GPS[0]
		latRef, lonRef := "N", "E"
		if lat < 0 {
			lat, latRef = -lat, "S"
		}
		if lon < 0 {
			lon, lonRef = -lon, "W"
		}
		must(gps.AddStandardWithName("GPSLatitudeRef", latRef))
		must(gps.AddStandardWithName("GPSLatitude", dms(lat)))
		must(gps.AddStandardWithName("GPSLongitudeRef", lonRef))
		must(gps.AddStandardWithName("GPSLongitude", dms(lon)))
	}
	raw, err := exif.NewIfdByteEncoder().EncodeToExif(root)
	must(err)
	return raw // a TIFF structure; the APP1 segment's "Exif" prefix is PhotoJPEG's
}

// dms writes decimal degrees as EXIF's degrees, minutes and seconds (1/10000 s).
func dms(v float64) []exifcommon.Rational {
	d := math.Floor(v)
	m := math.Floor((v - d) * 60)
	s := ((v-d)*60 - m) * 60
	return []exifcommon.Rational{{Numerator: uint32(d), Denominator: 1}, {Numerator: uint32(m), Denominator: 1},
		{Numerator: uint32(math.Round(s * 10000)), Denominator: 10000}}
}
