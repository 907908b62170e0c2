package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"safegrid/grid"
	"safegrid/grid/evidence"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// photoServer is the lifecycle server with its photos in a directory of the test's own.
func photoServer(t *testing.T) *lifecycleServer {
	t.Helper()
	ls := newLifecycleServer(t)
	ls.evidence = evidence.New(ls.st, evidence.NewDir(t.TempDir()))
	return ls
}

// upload posts data as user's photo; the Content-Type is deliberately wrong, the type
// is sniffed.
func (ls *lifecycleServer) upload(t *testing.T, user string, data []byte) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/photos", bytes.NewReader(data))
	req.Header.Set("Authorization", ls.auth[user])
	req.Header.Set("Content-Type", "text/plain")
	resp, err := ls.app.Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

func (ls *lifecycleServer) mustUpload(t *testing.T, user string, gps *orb.Point) grid.Photo {
	t.Helper()
	resp, body := ls.upload(t, user, testdb.PhotoJPEG(t, testdb.TestPhoto{GPS: gps, TakenAt: "2026:12:01 09:30:00"}))
	if resp.StatusCode != 201 {
		t.Fatalf("upload as %s: %d %s", user, resp.StatusCode, body)
	}
	var ph grid.Photo
	if err := json.Unmarshal(body, &ph); err != nil {
		t.Fatal(err)
	}
	return ph
}

// notFoundBody is a 404's body without its request id, with key replaced by KEY.
func notFoundBody(t *testing.T, resp *http.Response, body []byte, key string) string {
	t.Helper()
	problemOf(t, resp, body, 404)
	return strings.ReplaceAll(requestIDField.ReplaceAllString(string(body), ""), key, "KEY")
}

// Photo evidence end to end: an officer uploads a photo with EXIF GPS (the type sniffed
// whatever the Content-Type says), sends it with a report, and whoever may see the hazard
// sees the stripped photo, its thumbnail, the list and the history with it; another
// street's office gets exactly the 404 of a photo that does not exist.
func TestPhotoEvidenceAPI(t *testing.T) {
	ls := photoServer(t)
	ph := ls.mustUpload(t, "wang", &orb.Point{westSouth[0] + 0.0003, westSouth[1]})
	if ph.Attached || ph.GPS == nil || ph.TakenAt == nil || ph.TakenAt.UTC().Format("15:04") != "01:30" ||
		ph.ContentType != "image/jpeg" || ph.URL != fmt.Sprintf("/api/v1/photos/%d", ph.ID) || ph.ThumbURL != ph.URL+"/thumb" {
		t.Fatalf("upload %+v", ph)
	}
	// Staged: the uploader's alone.
	if resp, body := ls.as(t, "wang", "GET", ph.URL, ""); resp.StatusCode != 200 {
		t.Fatalf("uploader: %d %s", resp.StatusCode, body)
	}
	resp, body := ls.as(t, "zhou", "GET", ph.URL, "")
	staged := notFoundBody(t, resp, body, fmt.Sprint(ph.ID))

	resp, body = ls.as(t, "wang", "POST", "/api/v1/hazards", fmt.Sprintf(`{"level":"一般","category":"消防","description":"灭火器过期","lon":%v,"lat":%v,"photos":[%d]}`,
		westSouth[0], westSouth[1], ph.ID))
	if resp.StatusCode != 201 {
		t.Fatalf("report: %d %s", resp.StatusCode, body)
	}
	var h supervise.HazardDetail
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	if got := h.History[0].Photos; len(got) != 1 || got[0].ID != ph.ID || !got[0].Attached || *got[0].Step != "reported" ||
		got[0].DistanceM == nil || *got[0].DistanceM > 40 || got[0].Far {
		t.Fatalf("report's photos %+v", got)
	}

	var served []byte
	for _, user := range []string{"wang", "zhou", "ann", "pei"} {
		resp, body := ls.as(t, user, "GET", ph.URL, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" ||
			!strings.HasPrefix(resp.Header.Get("Cache-Control"), "private") || resp.Header.Get("ETag") == "" {
			t.Fatalf("%s: %d %v %s", user, resp.StatusCode, resp.Header, body)
		}
		served = body
		req := httptest.NewRequest("GET", ph.URL, nil)
		req.Header.Set("Authorization", ls.auth[user])
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		if r, _ := ls.app.Test(req); r.StatusCode != 304 {
			t.Errorf("%s: If-None-Match gave %d", user, r.StatusCode)
		}
	}
	for _, s := range []string{"Exif", "SafeGridTestCam", "xmpmeta"} {
		if bytes.Contains(served, []byte(s)) {
			t.Errorf("the served photo holds %q", s)
		}
	}
	if ev := evidence.ReadEvidence(evidence.TypeJPEG, served); ev.GPS != nil || ev.TakenAt != nil {
		t.Errorf("the served photo has evidence %+v", ev)
	}
	resp, body = ls.as(t, "zhou", "GET", ph.ThumbURL, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("thumb: %d %s", resp.StatusCode, body)
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(body)); err != nil || cfg.Width != 320 || cfg.Height != 240 {
		t.Errorf("thumb %dx%d %v", cfg.Width, cfg.Height, err)
	}

	list := fmt.Sprintf("/api/v1/hazards/%d/photos", h.ID)
	resp, body = ls.as(t, "zhou", "GET", list, "")
	var pl photoList
	if resp.StatusCode != 200 || json.Unmarshal(body, &pl) != nil || len(pl.Items) != 1 || pl.Items[0].ID != ph.ID {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	resp, body = ls.as(t, "zhou", "GET", fmt.Sprintf("/api/v1/hazards/%d/history", h.ID), "")
	var hist historyPage
	if resp.StatusCode != 200 || json.Unmarshal(body, &hist) != nil || len(hist.Items[0].Photos) != 1 || hist.Items[0].Photos[0].ID != ph.ID {
		t.Fatalf("history: %d %s", resp.StatusCode, body)
	}

	// Out of scope reads exactly like missing: the east street's office, and the officer
	// without units, for the photo, its thumbnail and the hazard's list.
	missing := fmt.Sprint(ph.ID + 1000)
	for _, user := range []string{"li", "zhao"} {
		for _, c := range []struct{ outside, missing, key, missingKey string }{
			{ph.URL, "/api/v1/photos/" + missing, fmt.Sprint(ph.ID), missing},
			{ph.ThumbURL, "/api/v1/photos/" + missing + "/thumb", fmt.Sprint(ph.ID), missing},
			{list, fmt.Sprintf("/api/v1/hazards/%d/photos", h.ID+1000), fmt.Sprint(h.ID), fmt.Sprint(h.ID + 1000)},
		} {
			r1, b1 := ls.as(t, user, "GET", c.outside, "")
			r2, b2 := ls.as(t, user, "GET", c.missing, "")
			if a, b := notFoundBody(t, r1, b1, c.key), notFoundBody(t, r2, b2, c.missingKey); a != b {
				t.Errorf("%s %s: %s, missing: %s", user, c.outside, a, b)
			}
		}
	}
	r, b := ls.as(t, "zhou", "GET", "/api/v1/photos/"+missing, "")
	if got := notFoundBody(t, r, b, missing); got != staged {
		t.Errorf("another's staged upload %s, missing %s", staged, got)
	}
}

// The rectification and verification steps take photos through the transition body.
func TestPhotoTransitionsAPI(t *testing.T) {
	ls := photoServer(t)
	id := addHazard(t, ls.st, "一般", westSouth)
	v := ls.mustStep(t, "zhou", id, "registered", 1, "")
	v = ls.mustStep(t, "zhou", id, "assigned", v, `,"responsible":"李四","deadline":"2099-01-01"`)
	rect := ls.mustUpload(t, "wang", &westSouth)
	v = ls.mustStep(t, "wang", id, "rectifying", v, fmt.Sprintf(`,"photos":[%d]`, rect.ID))
	far := ls.mustUpload(t, "zhou", &westNorth) // 6.7 km away
	ls.mustStep(t, "zhou", id, "verified", v, fmt.Sprintf(`,"photos":[%d]`, far.ID))
	h := ls.hazard(t, "ann", id)
	var got []string
	for _, e := range h.History {
		for _, p := range e.Photos {
			got = append(got, fmt.Sprintf("%s:%d:%v", e.To, p.ID, p.Far))
		}
	}
	want := []string{fmt.Sprintf("rectifying:%d:false", rect.ID), fmt.Sprintf("verified:%d:true", far.ID)}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("photos %v, want %v", got, want)
	}
}

// Bad input is refused naming the reason, and leaves nothing half-stored.
func TestPhotoBadInput(t *testing.T) {
	ls := photoServer(t)
	good := testdb.PhotoJPEG(t, testdb.TestPhoto{GPS: &westSouth})
	for name, c := range map[string]struct {
		data   []byte
		status int
		want   string
	}{
		"a text file named .jpg": {[]byte("not a photo at all"), 422, "not a JPEG, PNG or WebP"},
		"a truncated JPEG":       {good[:len(good)/2], 422, "does not decode"},
		"an empty body":          {nil, 422, "empty"},
	} {
		resp, body := ls.upload(t, "wang", c.data)
		p := problemOf(t, resp, body, c.status)
		if len(p.Errors) != 1 || p.Errors[0].Field != "photo" || !strings.Contains(p.Detail, c.want) {
			t.Errorf("%s: %s", name, body)
		}
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM photo_uploads`); n != 0 {
		t.Errorf("%d uploads stored from bad input", n)
	}
	if resp, body := ls.upload(t, "pei", good); resp.StatusCode != 403 {
		t.Errorf("planner uploads: %d %s", resp.StatusCode, body)
	}

	report := func(user string, ids ...int64) (*http.Response, []byte) {
		js, _ := json.Marshal(ids)
		return ls.as(t, user, "POST", "/api/v1/hazards", fmt.Sprintf(`{"level":"一般","category":"消防","description":"d","lon":%v,"lat":%v,"photos":%s}`,
			westSouth[0], westSouth[1], js))
	}
	var ten []int64
	for range 10 {
		ten = append(ten, ls.mustUpload(t, "wang", nil).ID)
	}
	resp, body := report("wang", ten...)
	if p := problemOf(t, resp, body, 400); !strings.Contains(p.Detail, "9 photos per step") || p.Errors[0].Field != "photos" {
		t.Errorf("ten photos: %s", body)
	}
	others := ls.mustUpload(t, "ann", nil)
	resp, body = report("wang", ten[0], others.ID)
	if p := problemOf(t, resp, body, 422); !strings.Contains(p.Detail, "no upload") {
		t.Errorf("someone else's upload: %s", body)
	}
	if resp, body := report("wang", ten[0]); resp.StatusCode != 201 {
		t.Fatalf("report: %d %s", resp.StatusCode, body)
	}
	resp, body = report("wang", ten[1], ten[0])
	if p := problemOf(t, resp, body, 422); !strings.Contains(p.Detail, "already attached") {
		t.Errorf("already attached: %s", body)
	}
	// A step on a hazard the caller may not see is a 404, and its photos stay staged.
	east := addHazard(t, ls.st, "一般", eastPoint)
	resp, body = ls.step(t, "zhou", east, "registered", 1, fmt.Sprintf(`,"photos":[%d]`, others.ID))
	problemOf(t, resp, body, 404)
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM hazards`); n != 2 {
		t.Errorf("%d hazards, want the one good report and the east one", n)
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM photo_uploads WHERE id = ANY($1)`, append(ten[1:], others.ID)); n != 10 {
		t.Errorf("%d of the 10 unattached uploads are still staged", n)
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM photos`); n != 1 {
		t.Errorf("%d photos attached, want 1", n)
	}
}

// A photo over 10 MB is refused with a 413 naming the limit as soon as its headers
// arrive.
func TestPhotoOversizeIs413(t *testing.T) {
	ls := photoServer(t)
	addr, _ := servedOn(t, ls.testServer)
	resp, body := rawRequest(t, addr, fmt.Sprintf("POST /api/v1/photos HTTP/1.1\r\nHost: safegrid\r\nContent-Type: image/jpeg\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n\xff\xd8\xff",
		ls.auth["wang"], grid.MaxPhotoBytes+1))
	p := problemOf(t, resp, body, 413)
	if !strings.Contains(p.Detail, "10 MB") {
		t.Errorf("413 detail %q does not name the limit", p.Detail)
	}
}
