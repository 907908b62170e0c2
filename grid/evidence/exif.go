package evidence

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"time"

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

// parseExif reads the evidence fields from a TIFF structure: IFD0's Orientation, the Exif
// IFD's DateTimeOriginal and OffsetTimeOriginal, the GPS IFD's position. It reads those
// three IFDs only, never follows a chain of IFDs, and checks every offset against the
// bytes, so no input makes it loop, recurse or allocate much: a photo's EXIF is client
// input. (With github.com/dsoprea/go-exif reading the same blocks, which the tests still use
// to write EXIF, FuzzProcess hung or killed its worker within seconds; with this reader it
// runs clean.)
func parseExif(raw []byte) (ev Evidence) {
	tf, ok := newTIFF(raw)
	if !ok {
		return Evidence{}
	}
	ifd0 := tf.ifd(tf.u32(4))
	if e, ok := ifd0[0x0112]; ok && e.typ == tiffShort && e.count >= 1 {
		if o := int(tf.u16(e.pos)); o >= 1 && o <= 8 {
			ev.Orientation = o
		}
	}
	if e, ok := ifd0[0x8769]; ok && e.count == 1 && (e.typ == tiffLong || e.typ == tiffIFD) {
		exifIFD := tf.ifd(tf.u32(e.pos))
		ev.TakenAt = exifTime(tf.ascii(exifIFD[0x9003]), tf.ascii(exifIFD[0x9011]))
	}
	if e, ok := ifd0[0x8825]; ok && e.count == 1 && (e.typ == tiffLong || e.typ == tiffIFD) {
		gps := tf.ifd(tf.u32(e.pos))
		la, okLa := degrees(tf.rationals(gps[2]), tf.ascii(gps[1]), "N", "S", 90)
		lo, okLo := degrees(tf.rationals(gps[4]), tf.ascii(gps[3]), "E", "W", 180)
		if okLa && okLo && !(la == 0 && lo == 0) {
			ev.GPS = &grid.LonLat{Lon: lo, Lat: la}
		}
	}
	return ev
}

// The TIFF field types read here.
const (
	tiffASCII    = 2
	tiffShort    = 3
	tiffLong     = 4
	tiffRational = 5
	tiffIFD      = 13
)

var tiffSize = map[uint16]uint64{1: 1, tiffASCII: 1, tiffShort: 2, tiffLong: 4, tiffRational: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, tiffIFD: 4}

// tiffEntry is one IFD entry: its type, count and where its value starts.
type tiffEntry struct {
	typ   uint16
	count uint32
	pos   int
}

type tiffData struct {
	b  []byte
	bo binary.ByteOrder
}

func newTIFF(raw []byte) (tiffData, bool) {
	if len(raw) < 8 {
		return tiffData{}, false
	}
	var bo binary.ByteOrder
	switch string(raw[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return tiffData{}, false
	}
	if bo.Uint16(raw[2:]) != 42 {
		return tiffData{}, false
	}
	return tiffData{raw, bo}, true
}

func (t tiffData) u16(at int) uint16 {
	if at < 0 || at+2 > len(t.b) {
		return 0
	}
	return t.bo.Uint16(t.b[at:])
}

func (t tiffData) u32(at int) int {
	if at < 0 || at+4 > len(t.b) {
		return -1
	}
	return int(t.bo.Uint32(t.b[at:]))
}

// ifd reads the entries of the IFD at off whose values lie within the bytes; an IFD that
// does not fit is empty.
func (t tiffData) ifd(off int) map[uint16]tiffEntry {
	out := map[uint16]tiffEntry{}
	if off < 8 || off+2 > len(t.b) {
		return out
	}
	n := int(t.u16(off))
	for i := range min(n, 500) {
		p := off + 2 + 12*i
		if p+12 > len(t.b) {
			break
		}
		tag, typ := t.u16(p), t.u16(p+2)
		count := t.bo.Uint32(t.b[p+4:])
		size, known := tiffSize[typ]
		if !known {
			continue
		}
		size *= uint64(count)
		pos := p + 8
		if size > 4 {
			pos = t.u32(p + 8)
		}
		if pos < 0 || uint64(pos)+size > uint64(len(t.b)) {
			continue
		}
		out[tag] = tiffEntry{typ: typ, count: count, pos: pos}
	}
	return out
}

// ascii is an ASCII entry's text without its NULs ("" when absent or of another type).
func (t tiffData) ascii(e tiffEntry) string {
	if e.typ != tiffASCII {
		return ""
	}
	return strings.TrimRight(string(t.b[e.pos:e.pos+int(e.count)]), "\x00")
}

// rationals are a RATIONAL entry's values (nil when absent or of another type).
func (t tiffData) rationals(e tiffEntry) []rational {
	if e.typ != tiffRational || e.count > 16 {
		return nil
	}
	out := make([]rational, e.count)
	for i := range out {
		at := e.pos + 8*i
		out[i] = rational{t.bo.Uint32(t.b[at:]), t.bo.Uint32(t.b[at+4:])}
	}
	return out
}

type rational struct{ num, den uint32 }

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
func degrees(r []rational, ref, pos, neg string, limit float64) (float64, bool) {
	if len(r) != 3 {
		return 0, false
	}
	var v float64
	for i, div := range []float64{1, 60, 3600} {
		if r[i].den == 0 {
			return 0, false
		}
		v += float64(r[i].num) / float64(r[i].den) / div
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
