package evidence

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"time"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"safegrid/grid"
)

// The media types a photo may have; the type is sniffed from the bytes, never taken from
// the name or the Content-Type.
const (
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
	TypeWebP = "image/webp"
)

const (
	// ThumbSide is a thumbnail's long side in pixels.
	ThumbSide = 320
	// MaxPixels bounds a photo's width × height (a 50-megapixel camera's), so a small file
	// that claims a huge image is refused before it is decoded.
	MaxPixels = 50_000_000
	// thumbQuality is the thumbnails' JPEG quality.
	thumbQuality = 80
	// MaxDecoding is how many photos are decoded at once, process-wide. A photo within the
	// limits may still take hundreds of megabytes while it is decoded and scaled (a 400 KB
	// PNG of 7000×7000 pixels at 16 bits takes about 450 MB and 2 s of CPU, a progressive
	// JPEG of 50 megapixels more), so uploads arriving together wait their turn here
	// instead of each allocating as much.
	MaxDecoding = 2
)

// decoding holds a token per photo being decoded (MaxDecoding at most).
var decoding = make(chan struct{}, MaxDecoding)

// Processed is an uploaded photo made ready to store: the copy to serve (metadata
// removed), its thumbnail, and the evidence read from its EXIF.
type Processed struct {
	ContentType   string
	Served        []byte // the photo with EXIF, XMP, ICC and comments removed
	Thumb         []byte // a JPEG, ThumbSide on its long side (or smaller when the photo is)
	Width, Height int    // of the photo as stored (before EXIF orientation)
	Evidence
}

// Process checks an uploaded photo and prepares it: a JPEG, PNG or WebP that decodes,
// within MaxPhotoBytes and MaxPixels; anything else is an InvalidError on "photo" saying
// why (a LimitError for the size).
func Process(data []byte) (*Processed, error) {
	if len(data) > grid.MaxPhotoBytes {
		return nil, &grid.LimitError{Field: "photo", Limit: "10 MB per photo",
			Reason: fmt.Sprintf("the photo has %d bytes", len(data))}
	}
	if len(data) == 0 {
		return nil, &grid.InvalidError{Field: "photo", Reason: "the body is empty: send the image file as the body"}
	}
	ct := Sniff(data)
	if ct == "" {
		return nil, &grid.InvalidError{Field: "photo", Reason: fmt.Sprintf("not a JPEG, PNG or WebP image (the bytes look like %s)", http.DetectContentType(data))}
	}
	cfg, err := decodeConfig(ct, data)
	if err != nil {
		return nil, &grid.InvalidError{Field: "photo", Reason: fmt.Sprintf("the %s does not decode: %v", ct, err)}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, &grid.InvalidError{Field: "photo", Reason: fmt.Sprintf("%d×%d pixels is outside the limit (%d megapixels)", cfg.Width, cfg.Height, MaxPixels/1_000_000)}
	}
	decoding <- struct{}{} // held until the thumbnail is made: the decoded image lives that long
	defer func() { <-decoding }()
	img, err := decodeImage(ct, data)
	if err != nil {
		return nil, &grid.InvalidError{Field: "photo", Reason: fmt.Sprintf("the %s does not decode: %v", ct, err)}
	}
	ev := ReadEvidence(ct, data)
	served, err := Strip(ct, data, ev.Orientation)
	if err != nil {
		return nil, &grid.InvalidError{Field: "photo", Reason: fmt.Sprintf("the %s is malformed: %v", ct, err)}
	}
	thumb, err := Thumbnail(img, ev.Orientation)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	return &Processed{ContentType: ct, Served: served, Thumb: thumb, Width: b.Dx(), Height: b.Dy(), Evidence: ev}, nil
}

// Sniff names the image type of data from its first bytes, or "" for none of the three.
func Sniff(data []byte) string {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return TypeJPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return TypePNG
	case len(data) >= 16 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP" && string(data[12:15]) == "VP8":
		return TypeWebP
	}
	return ""
}

func decodeConfig(ct string, data []byte) (image.Config, error) {
	r := bytes.NewReader(data)
	switch ct {
	case TypeJPEG:
		return jpeg.DecodeConfig(r)
	case TypePNG:
		return png.DecodeConfig(r)
	default:
		return webp.DecodeConfig(r)
	}
}

// decodeImage decodes a photo; a variable so that a test can watch the decodes at once.
var decodeImage = decode

func decode(ct string, data []byte) (image.Image, error) {
	r := bytes.NewReader(data)
	switch ct {
	case TypeJPEG:
		return jpeg.Decode(r)
	case TypePNG:
		return png.Decode(r)
	default:
		return webp.Decode(r)
	}
}

// Thumbnail scales img to ThumbSide on its long side (never up), turns it upright as the
// EXIF orientation (1–8) says, and encodes it as JPEG.
func Thumbnail(img image.Image, orientation int) ([]byte, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if long := max(w, h); long > ThumbSide {
		w, h = max(1, w*ThumbSide/long), max(1, h*ThumbSide/long)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	out := orient(dst, orientation)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: thumbQuality}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// orient applies an EXIF orientation to img: 2 mirrors, 3 turns 180°, 4 flips, 5–8 swap
// the axes (6: the camera was turned right, so the picture turns 90° clockwise).
func orient(img *image.RGBA, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var nx, ny int
			switch o {
			case 2:
				nx, ny = w-1-x, y
			case 3:
				nx, ny = w-1-x, h-1-y
			case 4:
				nx, ny = x, h-1-y
			case 5:
				nx, ny = y, x
			case 6:
				nx, ny = h-1-y, x
			case 7:
				nx, ny = h-1-y, w-1-x
			case 8:
				nx, ny = y, w-1-x
			}
			out.SetRGBA(nx, ny, img.RGBAAt(x, y))
		}
	}
	return out
}

// Evidence is what a photo's EXIF tells about where and when it was taken.
type Evidence struct {
	TakenAt     *time.Time   // DateTimeOriginal, with OffsetTimeOriginal or else in Shanghai time
	GPS         *grid.LonLat // GPSLatitude/GPSLongitude with their refs
	Orientation int          // 1–8, 0 when absent
}
