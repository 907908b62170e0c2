package evidence

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"time"

	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"

	"safegrid/grid"
)

// exifPrefix starts a JPEG APP1 segment (and some WebP EXIF chunks) that holds EXIF.
var exifPrefix = []byte("Exif\x00\x00")

// ReadEvidence reads the time, the GPS position and the orientation from a photo's EXIF.
// A photo without EXIF, or with EXIF that does not parse, has no evidence: the upload
// still goes through, with the fields empty.
func ReadEvidence(ct string, data []byte) Evidence {
	raw := rawExif(ct, data)
	if raw == nil {
		return Evidence{}
	}
	return parseExif(raw)
}

// rawExif returns the TIFF structure of the photo's EXIF, or nil.
func rawExif(ct string, data []byte) []byte {
	var raw []byte
	switch ct {
	case TypeJPEG:
		_ = jpegSegments(data, func(marker byte, payload []byte) bool {
			if marker == 0xE1 && bytes.HasPrefix(payload, exifPrefix) {
				raw = payload[len(exifPrefix):]
				return false
			}
			return true
		})
	case TypePNG:
		_ = pngChunks(data, func(typ string, body []byte) bool {
			if typ == "eXIf" {
				raw = body
				return false
			}
			return true
		})
	case TypeWebP:
		_ = webpChunks(data, func(typ string, body []byte) bool {
			if typ == "EXIF" {
				raw = bytes.TrimPrefix(body, exifPrefix)
				return false
			}
			return true
		})
	}
	return raw
}

// parseExif reads the evidence fields from a TIFF structure. go-exif panics on some
// malformed input inside functions that do not recover; this one does.
func parseExif(raw []byte) (ev Evidence) {
	defer func() {
		if recover() != nil {
			ev = Evidence{}
		}
	}()
	tags, _, err := exif.GetFlatExifData(raw, nil)
	if err != nil && len(tags) == 0 {
		return Evidence{}
	}
	var original, offset, latRef, lonRef string
	var lat, lon []exifcommon.Rational
	for _, t := range tags {
		switch {
		case t.IfdPath == "IFD" && t.TagName == "Orientation":
			if v, ok := t.Value.([]uint16); ok && len(v) > 0 && v[0] >= 1 && v[0] <= 8 {
				ev.Orientation = int(v[0])
			}
		case t.IfdPath == "IFD/Exif" && t.TagName == "DateTimeOriginal":
			original, _ = t.Value.(string)
		case t.IfdPath == "IFD/Exif" && t.TagName == "OffsetTimeOriginal":
			offset, _ = t.Value.(string)
		case t.IfdPath == "IFD/GPSInfo" && t.TagName == "GPSLatitudeRef":
			latRef, _ = t.Value.(string)
		case t.IfdPath == "IFD/GPSInfo" && t.TagName == "GPSLongitudeRef":
			lonRef, _ = t.Value.(string)
		case t.IfdPath == "IFD/GPSInfo" && t.TagName == "GPSLatitude":
			lat, _ = t.Value.([]exifcommon.Rational)
		case t.IfdPath == "IFD/GPSInfo" && t.TagName == "GPSLongitude":
			lon, _ = t.Value.([]exifcommon.Rational)
		}
	}
	ev.TakenAt = exifTime(original, offset)
	la, okLa := degrees(lat, latRef, "N", "S", 90)
	lo, okLo := degrees(lon, lonRef, "E", "W", 180)
	if okLa && okLo && !(la == 0 && lo == 0) {
		ev.GPS = &grid.LonLat{Lon: lo, Lat: la}
	}
	return ev
}

// exifTime reads DateTimeOriginal ("2006:01:02 15:04:05") with its OffsetTimeOriginal
// ("+08:00") when given, else as Shanghai local time, which a phone in Shanghai writes.
func exifTime(s, offset string) *time.Time {
	s = strings.TrimRight(strings.TrimSpace(s), "\x00")
	if s == "" {
		return nil
	}
	loc := grid.ShanghaiZone()
	if off := strings.TrimSpace(offset); off != "" {
		if t, err := time.Parse("-07:00", off); err == nil {
			_, secs := t.Zone()
			loc = time.FixedZone(off, secs)
		}
	}
	t, err := time.ParseInLocation("2006:01:02 15:04:05", s, loc)
	if err != nil || t.Year() < 1990 || t.After(time.Now().Add(48*time.Hour)) {
		return nil
	}
	return &t
}

// degrees turns an EXIF degrees/minutes/seconds triple and its reference into signed
// decimal degrees, refusing a zero denominator and anything beyond limit.
func degrees(r []exifcommon.Rational, ref, pos, neg string, limit float64) (float64, bool) {
	if len(r) != 3 {
		return 0, false
	}
	var v float64
	for i, div := range []float64{1, 60, 3600} {
		if r[i].Denominator == 0 {
			return 0, false
		}
		v += float64(r[i].Numerator) / float64(r[i].Denominator) / div
	}
	switch strings.ToUpper(strings.TrimSpace(ref)) {
	case pos, "":
	case neg:
		v = -v
	default:
		return 0, false
	}
	if math.IsNaN(v) || math.Abs(v) > limit {
		return 0, false
	}
	return v, true
}

// OrientationEXIF is the smallest JPEG APP1 payload that keeps a photo's orientation: a
// TIFF header and one IFD with one entry, Orientation. The served copy carries it instead
// of the camera's EXIF, so a browser still shows the photo upright.
func OrientationEXIF(o int) []byte {
	b := make([]byte, 0, 32)
	b = append(b, exifPrefix...)
	b = append(b, 'M', 'M', 0, 42)               // big-endian TIFF
	b = binary.BigEndian.AppendUint32(b, 8)      // IFD0 at offset 8
	b = binary.BigEndian.AppendUint16(b, 1)      // one entry
	b = binary.BigEndian.AppendUint16(b, 0x0112) // Orientation
	b = binary.BigEndian.AppendUint16(b, 3)      // SHORT
	b = binary.BigEndian.AppendUint32(b, 1)      // one value
	b = binary.BigEndian.AppendUint16(b, uint16(o))
	b = append(b, 0, 0)                     // padding of the value field
	b = binary.BigEndian.AppendUint32(b, 0) // no next IFD
	return b
}
