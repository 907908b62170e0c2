package evidence_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"safegrid/grid"
	"safegrid/grid/evidence"
	"safegrid/grid/testdb"
)

// The EXIF time and position are read: a time without an offset is Shanghai's, one with
// an offset is read in it; the GPS position comes back to within a centimetre.
func TestReadEvidence(t *testing.T) {
	for _, tc := range []struct {
		name   string
		photo  testdb.TestPhoto
		wantAt string // UTC, RFC 3339; "" for none
		gps    *orb.Point
		orient int
	}{
		{"shanghai time", testdb.TestPhoto{GPS: &orb.Point{121.42, 31.12}, TakenAt: "2026:12:01 09:30:00"}, "2026-12-01T01:30:00Z", &orb.Point{121.42, 31.12}, 0},
		{"with offset", testdb.TestPhoto{TakenAt: "2026:12:01 09:30:00", Offset: "+09:00"}, "2026-12-01T00:30:00Z", nil, 0},
		{"southern and western", testdb.TestPhoto{GPS: &orb.Point{-58.38, -34.6}, Orientation: 6}, "", &orb.Point{-58.38, -34.6}, 6},
		{"no exif", testdb.TestPhoto{}, "", nil, 0},
		{"a time from the future", testdb.TestPhoto{TakenAt: "2099:01:01 00:00:00"}, "", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := testdb.PhotoJPEG(t, tc.photo)
			ev := evidence.ReadEvidence(evidence.TypeJPEG, data)
			switch {
			case tc.wantAt == "" && ev.TakenAt != nil:
				t.Errorf("taken at %v, want none", ev.TakenAt)
			case tc.wantAt != "" && (ev.TakenAt == nil || ev.TakenAt.UTC().Format(time.RFC3339) != tc.wantAt):
				t.Errorf("taken at %v, want %s", ev.TakenAt, tc.wantAt)
			}
			switch {
			case tc.gps == nil && ev.GPS != nil:
				t.Errorf("gps %v, want none", ev.GPS)
			case tc.gps != nil && (ev.GPS == nil || abs(ev.GPS.Lon-tc.gps[0]) > 1e-7 || abs(ev.GPS.Lat-tc.gps[1]) > 1e-7):
				t.Errorf("gps %v, want %v", ev.GPS, tc.gps)
			}
			if ev.Orientation != tc.orient {
				t.Errorf("orientation %d, want %d", ev.Orientation, tc.orient)
			}
		})
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// The served copy of a JPEG has no EXIF, XMP or comment left, decodes to exactly the same
// pixels (the stripping is lossless), and a rotated photo keeps only its orientation.
func TestStripJPEG(t *testing.T) {
	data := testdb.PhotoJPEG(t, testdb.TestPhoto{GPS: &orb.Point{121.42, 31.12}, TakenAt: "2026:12:01 09:30:00", Comment: "secret note"})
	for _, s := range []string{"Exif", "SafeGridTestCam", "xmpmeta", "secret note"} {
		if !bytes.Contains(data, []byte(s)) {
			t.Fatalf("the test photo lacks %q", s)
		}
	}
	pr, err := evidence.Process(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Exif", "SafeGridTestCam", "xmpmeta", "secret note", "http://ns.adobe.com"} {
		if bytes.Contains(pr.Served, []byte(s)) {
			t.Errorf("the served copy still holds %q", s)
		}
	}
	if ev := evidence.ReadEvidence(evidence.TypeJPEG, pr.Served); ev.GPS != nil || ev.TakenAt != nil {
		t.Errorf("the served copy still has evidence: %+v", ev)
	}
	if pr.GPS == nil || pr.TakenAt == nil {
		t.Errorf("the evidence was not read: %+v", pr.Evidence)
	}
	samePixels(t, data, pr.Served)

	rotated := testdb.PhotoJPEG(t, testdb.TestPhoto{GPS: &orb.Point{121.42, 31.12}, Orientation: 6})
	pr, err = evidence.Process(rotated)
	if err != nil {
		t.Fatal(err)
	}
	ev := evidence.ReadEvidence(evidence.TypeJPEG, pr.Served)
	if ev.Orientation != 6 || ev.GPS != nil || bytes.Contains(pr.Served, []byte("SafeGridTestCam")) {
		t.Errorf("rotated photo served with %+v", ev)
	}
	samePixels(t, rotated, pr.Served)
}

func samePixels(t *testing.T, a, b []byte) {
	t.Helper()
	ia, err := jpeg.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	ib, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the served copy does not decode: %v", err)
	}
	if ia.Bounds() != ib.Bounds() {
		t.Fatalf("bounds %v, want %v", ib.Bounds(), ia.Bounds())
	}
	ya, yb := ia.(*image.YCbCr), ib.(*image.YCbCr)
	if !bytes.Equal(ya.Y, yb.Y) || !bytes.Equal(ya.Cb, yb.Cb) || !bytes.Equal(ya.Cr, yb.Cr) {
		t.Error("the served copy's pixels differ")
	}
}

// Thumbnails are JPEG, 320 px on the long side, upright as the EXIF orientation says,
// and never larger than the photo.
func TestThumbnails(t *testing.T) {
	for _, tc := range []struct {
		photo testdb.TestPhoto
		w, h  int
	}{
		{testdb.TestPhoto{W: 640, H: 480}, 320, 240},
		{testdb.TestPhoto{W: 480, H: 960}, 160, 320},
		{testdb.TestPhoto{W: 640, H: 480, Orientation: 6}, 240, 320},
		{testdb.TestPhoto{W: 200, H: 100}, 200, 100},
	} {
		pr, err := evidence.Process(testdb.PhotoJPEG(t, tc.photo))
		if err != nil {
			t.Fatal(err)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(pr.Thumb))
		if err != nil || format != "jpeg" || cfg.Width != tc.w || cfg.Height != tc.h {
			t.Errorf("%dx%d orientation %d: thumbnail %s %dx%d (%v), want jpeg %dx%d", tc.photo.W, tc.photo.H,
				tc.photo.Orientation, format, cfg.Width, cfg.Height, err, tc.w, tc.h)
		}
		if pr.Width != tc.photo.W || pr.Height != tc.photo.H {
			t.Errorf("size %dx%d, want %dx%d", pr.Width, pr.Height, tc.photo.W, tc.photo.H)
		}
	}
}

// pngChunk is one PNG chunk with its CRC.
func pngChunk(typ string, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	b = append(b, typ...)
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), body...)))
}

// A PNG loses its eXIf and text chunks and keeps its pixels.
func TestStripPNG(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	plain := buf.Bytes()
	ihdrEnd := 8 + 25 // signature, IHDR
	data := append([]byte{}, plain[:ihdrEnd]...)
	data = append(data, pngChunk("tEXt", []byte("Comment\x00taken at the plant"))...)
	data = append(data, pngChunk("eXIf", []byte("MM\x00\x2aGPSGPSGPS"))...)
	data = append(data, pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta/>"))...)
	data = append(data, plain[ihdrEnd:]...)
	data = append(data, "trailing"...)
	pr, err := evidence.Process(data)
	if err != nil {
		t.Fatal(err)
	}
	if pr.ContentType != evidence.TypePNG {
		t.Errorf("type %s", pr.ContentType)
	}
	for _, s := range []string{"tEXt", "eXIf", "iTXt", "taken at", "GPS", "xmpmeta", "trailing"} {
		if bytes.Contains(pr.Served, []byte(s)) {
			t.Errorf("served PNG holds %q", s)
		}
	}
	if !bytes.Equal(pr.Served, plain) {
		t.Error("served PNG is not the original's chunks")
	}
	got, err := png.Decode(bytes.NewReader(pr.Served))
	if err != nil || got.At(3, 4) != color.Color(img.NRGBAAt(3, 4)) {
		t.Errorf("decoded %v", err)
	}
}

// A WebP container loses its EXIF, XMP and ICC chunks and their VP8X flags; the RIFF size
// is written anew.
func TestStripWebP(t *testing.T) {
	chunk := func(typ string, body []byte) []byte {
		b := append([]byte(typ), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
		b = append(b, body...)
		if len(body)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	vp8x := []byte{0x20 | 0x10 | 0x08 | 0x04, 0, 0, 0, 9, 0, 0, 9, 0, 0}
	body := []byte("WEBP")
	body = append(body, chunk("VP8X", vp8x)...)
	body = append(body, chunk("ICCP", []byte("profile"))...)
	body = append(body, chunk("ALPH", []byte("alpha"))...)
	body = append(body, chunk("VP8L", []byte("image-data"))...)
	body = append(body, chunk("EXIF", []byte("Exif\x00\x00MM\x00\x2aGPS"))...)
	body = append(body, chunk("XMP ", []byte("<x:xmpmeta/>"))...)
	data := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	data = append(data, body...)
	out, err := evidence.Strip(evidence.TypeWebP, data, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"EXIF", "XMP ", "ICCP", "GPS", "profile", "xmpmeta"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("served WebP holds %q", s)
		}
	}
	if !bytes.Contains(out, []byte("image-data")) || !bytes.Contains(out, []byte("alpha")) {
		t.Error("the image chunks went too")
	}
	if int(binary.LittleEndian.Uint32(out[4:])) != len(out)-8 {
		t.Errorf("RIFF size %d for %d bytes", binary.LittleEndian.Uint32(out[4:]), len(out))
	}
	if flags := out[20]; flags != 0x10 {
		t.Errorf("VP8X flags %#x, want only alpha", flags)
	}
}

// What is not a photo is refused naming the reason: a text file (whatever its name), a
// GIF, a truncated JPEG, an empty body; a file over 10 MB is a LimitError naming 10 MB.
func TestBadPhotos(t *testing.T) {
	good := testdb.PhotoJPEG(t, testdb.TestPhoto{})
	var gif bytes.Buffer
	gif.WriteString("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"text named .jpg": {[]byte("this is not a photo, whatever photo.jpg says"), "not a JPEG, PNG or WebP"},
		"gif":             {gif.Bytes(), "not a JPEG, PNG or WebP"},
		"truncated jpeg":  {good[:len(good)/2], "does not decode"},
		"jpeg header":     {good[:4], "does not decode"},
		"empty":           {nil, "empty"},
		"png header only": {[]byte("\x89PNG\r\n\x1a\n"), "does not decode"},
	} {
		_, err := evidence.Process(tc.data)
		var inv *grid.InvalidError
		if !errors.As(err, &inv) || inv.Field != "photo" || !strings.Contains(inv.Reason, tc.want) {
			t.Errorf("%s: %v, want an InvalidError saying %q", name, err, tc.want)
		}
	}
	big := make([]byte, grid.MaxPhotoBytes+1)
	copy(big, good)
	_, err := evidence.Process(big)
	var le *grid.LimitError
	if !errors.As(err, &le) || le.Limit != "10 MB per photo" {
		t.Errorf("oversize: %v", err)
	}
	// A tiny file that claims a huge image is refused before it is decoded.
	huge := append([]byte{}, good...)
	for i := 2; i+9 < len(huge); i++ {
		if huge[i] == 0xFF && huge[i+1] == 0xC0 { // SOF0: height at +5, width at +7
			binary.BigEndian.PutUint16(huge[i+5:], 60000)
			binary.BigEndian.PutUint16(huge[i+7:], 60000)
			break
		}
	}
	_, err = evidence.Process(huge)
	var inv *grid.InvalidError
	if !errors.As(err, &inv) || !strings.Contains(inv.Reason, "megapixels") {
		t.Errorf("huge: %v", err)
	}
}

// Whatever the bytes, Process answers with a photo or a typed refusal, never a panic; a
// photo it accepts has a served copy and a thumbnail that decode.
func FuzzProcess(f *testing.F) {
	f.Add(testdb.PhotoJPEG(f, testdb.TestPhoto{W: 16, H: 16, GPS: &orb.Point{121.4, 31.2}, TakenAt: "2026:12:01 09:30:00", Orientation: 6, Comment: "c"}))
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4)))
	f.Add(buf.Bytes())
	f.Add([]byte("RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pr, err := evidence.Process(data)
		if err != nil {
			var inv *grid.InvalidError
			var le *grid.LimitError
			if !errors.As(err, &inv) && !errors.As(err, &le) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if _, _, err := image.Decode(bytes.NewReader(pr.Thumb)); err != nil {
			t.Fatalf("thumbnail: %v", err)
		}
		if evidence.Sniff(pr.Served) != pr.ContentType {
			t.Fatalf("served copy is not a %s", pr.ContentType)
		}
	})
}
