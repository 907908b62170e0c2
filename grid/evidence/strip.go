package evidence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Strip returns the photo without its metadata, losslessly: the image data is copied as
// it is, only the metadata around it goes.
//
//   - JPEG: every APPn segment but a JFIF APP0 and an Adobe APP14 (which decoding needs for
//     its colour transform), and every comment; EXIF, XMP, ICC profiles, maker notes and
//     what follows the end of the image (a phone's appended video) go. An orientation
//     other than 1 is written back as a one-entry EXIF (OrientationEXIF), so the photo
//     still shows upright.
//   - PNG: the eXIf, tEXt, iTXt, zTXt, tIME and iCCP chunks, and anything after IEND.
//   - WebP: the EXIF, XMP and ICCP chunks, with their flags in VP8X cleared.
func Strip(ct string, data []byte, orientation int) ([]byte, error) {
	switch ct {
	case TypeJPEG:
		return stripJPEG(data, orientation)
	case TypePNG:
		return stripPNG(data)
	case TypeWebP:
		return stripWebP(data)
	}
	return nil, fmt.Errorf("unknown type %q", ct)
}

var errTruncated = errors.New("the file ends early")

// jpegSegment reads the marker segment at data[i:] (after any fill bytes): its marker,
// its whole bytes without the leading 0xFF (for markers that have a length, the length
// and payload) and where the next one starts. Markers without a length return a nil
// payload.
func jpegSegment(data []byte, i int) (marker byte, payload []byte, next int, err error) {
	if i >= len(data) || data[i] != 0xFF {
		return 0, nil, 0, fmt.Errorf("no marker at byte %d", i)
	}
	for i < len(data) && data[i] == 0xFF {
		i++
	}
	if i >= len(data) {
		return 0, nil, 0, errTruncated
	}
	marker = data[i]
	i++
	if marker == 0xD8 || marker == 0xD9 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
		return marker, nil, i, nil
	}
	if i+2 > len(data) {
		return 0, nil, 0, errTruncated
	}
	n := int(binary.BigEndian.Uint16(data[i:]))
	if n < 2 || i+n > len(data) {
		return 0, nil, 0, errTruncated
	}
	return marker, data[i+2 : i+n], i + n, nil
}

// jpegSegments calls fn with each marker segment before the first scan (where the
// metadata is) until fn returns false.
func jpegSegments(data []byte, fn func(marker byte, payload []byte) bool) error {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return errors.New("not a JPEG")
	}
	for i := 2; ; {
		m, payload, next, err := jpegSegment(data, i)
		if err != nil {
			return err
		}
		if m == 0xDA || m == 0xD9 || !fn(m, payload) {
			return nil
		}
		i = next
	}
}

// scanEnd is where the entropy-coded data starting at data[i:] ends: at the first marker
// that is neither a stuffed 0xFF00 nor a restart marker.
func scanEnd(data []byte, i int) (int, error) {
	for ; i+1 < len(data); i++ {
		if data[i] == 0xFF {
			if b := data[i+1]; b != 0x00 && (b < 0xD0 || b > 0xD7) {
				return i, nil
			}
		}
	}
	return 0, errTruncated
}

func stripJPEG(data []byte, orientation int) ([]byte, error) {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, errors.New("not a JPEG")
	}
	out := make([]byte, 0, len(data))
	out = append(out, 0xFF, 0xD8)
	pending := orientation >= 2 && orientation <= 8 // the orientation EXIF goes after JFIF
	for i := 2; ; {
		m, payload, next, err := jpegSegment(data, i)
		if err != nil {
			return nil, err
		}
		if pending && m != 0xE0 {
			ex := OrientationEXIF(orientation)
			out = append(out, 0xFF, 0xE1)
			out = binary.BigEndian.AppendUint16(out, uint16(len(ex)+2))
			out = append(out, ex...)
			pending = false
		}
		keep := true
		switch {
		case m == 0xE0:
			keep = bytes.HasPrefix(payload, []byte("JFIF\x00"))
		case m == 0xEE:
			keep = bytes.HasPrefix(payload, []byte("Adobe"))
		case m >= 0xE1 && m <= 0xEF, m == 0xFE:
			keep = false
		}
		if keep {
			out = append(out, 0xFF, m)
			if payload != nil {
				out = binary.BigEndian.AppendUint16(out, uint16(len(payload)+2))
				out = append(out, payload...)
			}
		}
		i = next
		switch m {
		case 0xD9: // the end of the image; anything after it goes
			return out, nil
		case 0xDA:
			end, err := scanEnd(data, i)
			if err != nil {
				return nil, err
			}
			out = append(out, data[i:end]...)
			i = end
		}
	}
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngChunks calls fn with each chunk's type and body until fn returns false or IEND.
func pngChunks(data []byte, fn func(typ string, body []byte) bool) error {
	_, err := walkPNG(data, func(typ string, body, whole []byte) bool { return fn(typ, body) })
	return err
}

// walkPNG walks the chunks; it returns where IEND ends.
func walkPNG(data []byte, fn func(typ string, body, whole []byte) bool) (int, error) {
	if !bytes.HasPrefix(data, pngSignature) {
		return 0, errors.New("not a PNG")
	}
	for i := len(pngSignature); ; {
		if i+8 > len(data) {
			return 0, errTruncated
		}
		n := int(binary.BigEndian.Uint32(data[i:]))
		if n < 0 || n > len(data) || i+12+n > len(data) {
			return 0, errTruncated
		}
		typ := string(data[i+4 : i+8])
		end := i + 12 + n
		if !fn(typ, data[i+8:i+8+n], data[i:end]) || typ == "IEND" {
			return end, nil
		}
		i = end
	}
}

// pngDropped are the PNG chunks that hold metadata.
var pngDropped = map[string]bool{"eXIf": true, "tEXt": true, "iTXt": true, "zTXt": true, "tIME": true, "iCCP": true}

func stripPNG(data []byte) ([]byte, error) {
	out := append(make([]byte, 0, len(data)), pngSignature...)
	sawEnd := false
	_, err := walkPNG(data, func(typ string, _, whole []byte) bool {
		if !pngDropped[typ] {
			out = append(out, whole...)
		}
		sawEnd = typ == "IEND"
		return true
	})
	if err != nil {
		return nil, err
	}
	if !sawEnd {
		return nil, errTruncated
	}
	return out, nil
}

// webpChunks calls fn with each chunk of a WebP's RIFF container until fn returns false.
func webpChunks(data []byte, fn func(typ string, body []byte) bool) error {
	return walkWebP(data, func(typ string, body, _ []byte) bool { return fn(typ, body) })
}

func walkWebP(data []byte, fn func(typ string, body, whole []byte) bool) error {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return errors.New("not a WebP")
	}
	size := int(binary.LittleEndian.Uint32(data[4:]))
	if size < 4 || 8+size > len(data) {
		return errTruncated
	}
	data = data[:8+size] // what follows the RIFF container is not the image
	for i := 12; i < len(data); {
		if i+8 > len(data) {
			return errTruncated
		}
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data) || i+8+n > len(data) {
			return errTruncated
		}
		end := i + 8 + n
		if n%2 == 1 && end < len(data) {
			end++ // chunks are padded to an even size
		}
		if !fn(string(data[i:i+4]), data[i+8:i+8+n], data[i:end]) {
			return nil
		}
		i = end
	}
	return nil
}

func stripWebP(data []byte) ([]byte, error) {
	out := append(make([]byte, 0, len(data)), data[:12]...)
	err := walkWebP(data, func(typ string, _, whole []byte) bool {
		switch typ {
		case "EXIF", "XMP ", "ICCP":
			return true
		case "VP8X":
			c := append([]byte(nil), whole...)
			if len(c) > 8 {
				c[8] &^= 0x20 | 0x08 | 0x04 // the ICC, EXIF and XMP flags
			}
			whole = c
		}
		out = append(out, whole...)
		return true
	})
	if err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}
