package evidence_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/evidence"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

type fixture struct {
	st    *grid.Store
	svc   *evidence.Service
	sup   *supervise.Service
	dir   *evidence.Dir
	admin *grid.Principal
	west  *grid.Principal // the west street's office
	east  *grid.Principal
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := testdb.New(t, testdb.TwoStreets)
	dir := evidence.NewDir(t.TempDir())
	f := &fixture{st: st, svc: evidence.New(st, dir), sup: supervise.New(st), dir: dir}
	user := func(name, role, street string) *grid.Principal {
		id, err := st.AddUser(context.Background(), "test", grid.User{Username: name, Role: role, StreetCode: street}, "password-"+name)
		if err != nil {
			t.Fatal(err)
		}
		return &grid.Principal{UserID: id, Username: name, Role: role, StreetCode: street}
	}
	f.admin = user("ann", grid.RoleAdmin, "")
	f.west = user("wang", grid.RoleStreet, testdb.WestStreet)
	f.east = user("dong", grid.RoleStreet, testdb.EastStreet)
	return f
}

// upload stores a photo taken at gps (nil: no GPS) as p's staged upload.
func (f *fixture) upload(t *testing.T, p *grid.Principal, gps *orb.Point, w int) int64 {
	t.Helper()
	ph, err := f.svc.Upload(context.Background(), p, testdb.PhotoJPEG(t, testdb.TestPhoto{W: w, H: 240, GPS: gps, TakenAt: "2026:12:01 09:30:00"}))
	if err != nil {
		t.Fatal(err)
	}
	if ph.Attached || ph.TakenAt == nil || (gps != nil) != (ph.GPS != nil) {
		t.Fatalf("upload %+v", ph)
	}
	return ph.ID
}

func fptr(v float64) *float64 { return &v }

// east of p by m metres (near enough on Shanghai's latitude).
func east(p orb.Point, m float64) *orb.Point {
	return &orb.Point{p[0] + m/(111320*math.Cos(p[1]*math.Pi/180)), p[1]}
}

// Photos sent with a report become evidence of its first step in its transaction: the
// history carries them, with their distance from the hazard and the far flag past 500 m;
// the upload is no longer staged. Who may see the hazard may see its photos; another
// street's office gets not found, for the photo and the hazard's list alike.
func TestPhotosOfAReport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	near := f.upload(t, f.admin, east(testdb.WestSouth, 50), 320)
	far := f.upload(t, f.admin, east(testdb.WestSouth, 800), 330)
	none := f.upload(t, f.admin, nil, 340)
	h, err := f.sup.ReportHazard(ctx, f.admin, supervise.HazardReport{Level: "一般", Category: "消防", Description: "灭火器过期",
		Lon: fptr(testdb.WestSouth[0]), Lat: fptr(testdb.WestSouth[1]), Photos: []int64{near, far, none}})
	if err != nil {
		t.Fatal(err)
	}
	got := h.History[0].Photos
	if len(got) != 3 {
		t.Fatalf("report's photos %+v", got)
	}
	byID := map[int64]grid.Photo{}
	for _, ph := range got {
		byID[ph.ID] = ph
		if !ph.Attached || ph.Step == nil || *ph.Step != "reported" || ph.HazardID == nil || *ph.HazardID != h.ID {
			t.Errorf("photo %+v", ph)
		}
	}
	if d := byID[near].DistanceM; d == nil || math.Abs(*d-50) > 2 || byID[near].Far {
		t.Errorf("near photo: %v m, far %v", d, byID[near].Far)
	}
	if d := byID[far].DistanceM; d == nil || math.Abs(*d-800) > 5 || !byID[far].Far {
		t.Errorf("far photo: %v m, far %v", d, byID[far].Far)
	}
	if byID[none].DistanceM != nil || byID[none].Far {
		t.Errorf("photo without GPS: %+v", byID[none])
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM photo_uploads`); n != 0 {
		t.Errorf("%d uploads still staged", n)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM audit_log WHERE action = 'hazard_report' AND details->'photos' = $1::jsonb`, `[`+itoa(near)+`,`+itoa(far)+`,`+itoa(none)+`]`); n != 1 {
		t.Errorf("the report's audit record names its photos %d times", n)
	}
	events, err := f.sup.HazardHistoryOf(ctx, f.west, h.ID)
	if err != nil || len(events[0].Photos) != 3 {
		t.Errorf("history as the street office: %v, %+v", err, events)
	}

	for _, p := range []*grid.Principal{f.admin, f.west} {
		ph, file, err := f.svc.Open(ctx, p, far, false)
		if err != nil {
			t.Fatalf("%s: %v", p.Username, err)
		}
		file.Close()
		if ph.SHA256 == "" || ph.ContentType != evidence.TypeJPEG {
			t.Errorf("%+v", ph)
		}
		if list, err := f.svc.HazardPhotos(ctx, p, h.ID); err != nil || len(list) != 3 {
			t.Errorf("%s lists %v %v", p.Username, list, err)
		}
	}
	var nf *grid.NotFoundError
	if _, err := f.svc.Photo(ctx, f.east, far); !errors.As(err, &nf) || nf.What != "photo" {
		t.Errorf("east street sees the photo: %v", err)
	}
	if _, err := f.svc.Photo(ctx, f.east, 999999); !errors.As(err, &nf) || nf.What != "photo" {
		t.Errorf("missing photo: %v", err)
	}
	if _, err := f.svc.HazardPhotos(ctx, f.east, h.ID); !errors.As(err, &nf) || nf.What != "hazard" {
		t.Errorf("east street lists the hazard's photos: %v", err)
	}
	// A district bureau of the hazard's district sees it; of another district, nothing.
	district := &grid.Principal{UserID: 77, Username: "qu", Role: grid.RoleDistrict, DistrictCode: "310104"}
	if _, err := f.svc.Photo(ctx, district, far); err != nil {
		t.Errorf("district: %v", err)
	}
	district.DistrictCode = "310105"
	if _, err := f.svc.Photo(ctx, district, far); !errors.As(err, &nf) {
		t.Errorf("another district: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Every refusal leaves nothing half-done: no hazard, no step, and the uploads still
// staged for another try.
func TestAttachRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	report := func(p *grid.Principal, ids ...int64) error {
		_, err := f.sup.ReportHazard(ctx, p, supervise.HazardReport{Level: "一般", Category: "消防", Description: "通道堵塞",
			Lon: fptr(testdb.WestSouth[0]), Lat: fptr(testdb.WestSouth[1]), Photos: ids})
		return err
	}
	mine := f.upload(t, f.west, nil, 320)
	theirs := f.upload(t, f.admin, nil, 321)
	if err := report(f.west, mine); err != nil {
		t.Fatal(err)
	}
	good := f.upload(t, f.west, nil, 322)
	var inv *grid.InvalidError
	for name, tc := range map[string]struct {
		ids  []int64
		want string
	}{
		"someone else's upload": {[]int64{good, theirs}, "no upload"},
		"already attached":      {[]int64{good, mine}, "already attached"},
		"missing":               {[]int64{good, 987654}, "no upload"},
		"twice":                 {[]int64{good, good}, "listed twice"},
	} {
		err := report(f.west, tc.ids...)
		if !errors.As(err, &inv) || !strings.HasPrefix(inv.Field, "photos") || !strings.Contains(inv.Reason, tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	var ids []int64
	for i := range grid.MaxPhotosPerStep + 1 {
		ids = append(ids, f.upload(t, f.west, nil, 330+i))
	}
	var le *grid.LimitError
	if err := report(f.west, ids...); !errors.As(err, &le) || le.Limit != "9 photos per step" {
		t.Errorf("ten photos: %v", err)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM hazards`); n != 1 {
		t.Errorf("%d hazards, want the one good report", n)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM photos`); n != 1 {
		t.Errorf("%d photos attached, want 1", n)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM photo_uploads WHERE id = $1 AND owner_id = $2`, good, f.west.UserID); n != 1 {
		t.Error("a failed report took the good upload")
	}
	if err := report(f.west, ids[:grid.MaxPhotosPerStep]...); err != nil {
		t.Errorf("nine photos: %v", err)
	}
}

// The rectification and verification steps carry photos; other steps refuse them and
// stay unmade, the upload still staged.
func TestPhotosOfTransitions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := testdb.AddHazard(t, f.st, "一般", testdb.WestSouth)
	step := func(to string, version int, photos ...int64) (*supervise.HazardDetail, error) {
		tr := supervise.HazardTransition{HazardID: id, To: to, Version: version, Photos: photos}
		if to == supervise.HazardAssigned {
			d := time.Now().AddDate(0, 0, 7)
			r := "李四"
			tr.Plan = supervise.HazardPlan{Responsible: &r, Deadline: &d}
		}
		return f.sup.TransitionHazard(ctx, f.west, tr)
	}
	ph := f.upload(t, f.west, east(testdb.WestSouth, 10), 320)
	var inv *grid.InvalidError
	if _, err := step("registered", 1, ph); !errors.As(err, &inv) || inv.Field != "photos" {
		t.Fatalf("photos with registering: %v", err)
	}
	if _, err := step("registered", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := step("assigned", 2); err != nil {
		t.Fatal(err)
	}
	// A stale version fails the step; the photo stays staged.
	if _, err := step("rectifying", 2, ph); !errors.Is(err, grid.ErrConflict) {
		t.Fatalf("stale: %v", err)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM photo_uploads WHERE id = $1`, ph); n != 1 {
		t.Fatal("a failed step attached its photo")
	}
	h, err := step("rectifying", 3, ph)
	if err != nil {
		t.Fatal(err)
	}
	ver := f.upload(t, f.west, nil, 321)
	h, err = step("verified", h.Version, ver)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, e := range h.History {
		for _, p := range e.Photos {
			steps = append(steps, e.To+":"+*p.Step+":"+itoa(p.ID))
		}
	}
	want := []string{"rectifying:rectifying:" + itoa(ph), "verified:verified:" + itoa(ver)}
	if strings.Join(steps, " ") != strings.Join(want, " ") {
		t.Errorf("history photos %v, want %v", steps, want)
	}
}

// An inspection's photos are measured from the enterprise and seen by who may see it.
func TestPhotosOfAnInspection(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ent := orb.Point{121.43, 31.13}
	if _, err := testdb.DB(f.st).Exec(ctx, `INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, street_code, community_code, h3, geom)
SELECT a.district_code, '91310104000000001X', '测试公司', '工贸', '一般', a.street_code, a.community_code, $1, q.p
  FROM (SELECT ST_SetSRID(ST_MakePoint($2::float8, $3::float8), 4326) AS p) q, LATERAL area_tag(q.p) a`,
		int64(geo.PointCell(ent, geo.SupervisionRes)), ent[0], ent[1]); err != nil {
		t.Fatal(err)
	}
	ph := f.upload(t, f.admin, east(ent, 1200), 320)
	in, err := f.sup.RecordInspection(ctx, f.admin, supervise.InspectionInput{Enterprise: "91310104000000001X", Result: "passed",
		Lon: fptr(ent[0]), Lat: fptr(ent[1]), Photos: []int64{ph}})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Photos) != 1 || in.Photos[0].InspectionID == nil || *in.Photos[0].InspectionID != in.ID || !in.Photos[0].Far ||
		math.Abs(*in.Photos[0].DistanceM-1200) > 5 {
		t.Fatalf("inspection photos %+v", in.Photos)
	}
	mine, _, err := f.sup.MyInspections(ctx, f.admin.UserID, "", 10, 0)
	if err != nil || len(mine) != 1 || len(mine[0].Photos) != 1 || mine[0].Photos[0].ID != ph {
		t.Errorf("my inspections: %+v %v", mine, err)
	}
	if list, err := f.svc.InspectionPhotos(ctx, f.west, in.ID); err != nil || len(list) != 1 {
		t.Errorf("west: %v %v", list, err)
	}
	var nf *grid.NotFoundError
	if _, err := f.svc.InspectionPhotos(ctx, f.east, in.ID); !errors.As(err, &nf) {
		t.Errorf("east lists: %v", err)
	}
	if _, err := f.svc.Photo(ctx, f.east, ph); !errors.As(err, &nf) {
		t.Errorf("east sees: %v", err)
	}
	if _, err := f.svc.Photo(ctx, f.west, ph); err != nil {
		t.Errorf("west sees: %v", err)
	}
}

// The same bytes are stored once; a staged upload is seen by its owner only.
func TestStorageAndStaged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	data := testdb.PhotoJPEG(t, testdb.TestPhoto{GPS: &testdb.WestSouth})
	a, err := f.svc.Upload(ctx, f.west, data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Upload(ctx, f.west, data)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || a.SHA256 != b.SHA256 {
		t.Errorf("uploads %d %d with %s %s", a.ID, b.ID, a.SHA256, b.SHA256)
	}
	var keys []string
	if err := f.dir.List(ctx, func(k string, _ time.Time) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 { // the photo and its thumbnail
		t.Errorf("stored %v", keys)
	}
	if _, err := f.svc.Photo(ctx, f.west, a.ID); err != nil {
		t.Errorf("owner: %v", err)
	}
	var nf *grid.NotFoundError
	for _, p := range []*grid.Principal{f.admin, f.east} {
		if _, err := f.svc.Photo(ctx, p, a.ID); !errors.As(err, &nf) {
			t.Errorf("%s sees another's staged upload: %v", p.Username, err)
		}
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM audit_log WHERE action = 'photo_upload' AND object_kind = 'photo' AND actor = 'wang'`); n != 2 {
		t.Errorf("%d upload audit records", n)
	}
}

// The sweep removes staged uploads older than a day with their files, and files no row
// names once their grace period is over, such as those of an upload whose row never
// committed; it keeps the rest.
func TestSweep(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	kept := f.upload(t, f.west, nil, 320)
	if _, err := f.sup.ReportHazard(ctx, f.west, supervise.HazardReport{Level: "一般", Category: "消防", Description: "x",
		Lon: fptr(testdb.WestSouth[0]), Lat: fptr(testdb.WestSouth[1]), Photos: []int64{kept}}); err != nil {
		t.Fatal(err)
	}
	staged := f.upload(t, f.west, nil, 330)
	old := f.upload(t, f.west, nil, 340)
	if _, err := testdb.DB(f.st).Exec(ctx, `UPDATE photo_uploads SET uploaded_at = now() - interval '2 days' WHERE id = $1`, old); err != nil {
		t.Fatal(err)
	}
	// An upload whose row cannot commit (its owner does not exist) leaves its files only.
	ghost := &grid.Principal{UserID: 999999, Username: "ghost", Role: grid.RoleAdmin}
	if _, err := f.svc.Upload(ctx, ghost, testdb.PhotoJPEG(t, testdb.TestPhoto{W: 350, H: 240})); err == nil {
		t.Fatal("an upload without its row succeeded")
	}
	fresh, err := f.dir.Put(ctx, []byte("stored a moment ago, its row on the way"))
	if err != nil {
		t.Fatal(err)
	}
	keys := func() map[string]bool {
		out := map[string]bool{}
		f.dir.List(ctx, func(k string, _ time.Time) error { out[k] = true; return nil })
		return out
	}
	if n := len(keys()); n != 9 { // three uploads and the ghost's, two files each, and fresh
		t.Fatalf("%d files before the sweep", n)
	}
	// Everything but fresh was stored two hours ago.
	past := time.Now().Add(-2 * time.Hour)
	for k := range keys() {
		if k != fresh {
			if err := os.Chtimes(filepath.Join(f.dir.Root(), k[:2], k), past, past); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := f.svc.Sweep(ctx, evidence.SweepOptions{Grace: time.Hour, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploads != 1 || res.Files != 4 || res.Kept != 5 {
		t.Errorf("sweep %+v, want 1 upload, 4 files removed (the old upload's and the ghost's), 5 kept", res)
	}
	left := keys()
	for _, id := range []int64{kept, staged} {
		var sha, thumb string
		if err := testdb.DB(f.st).QueryRow(ctx, `SELECT sha256, thumb_sha256 FROM photos WHERE id = $1
UNION ALL SELECT sha256, thumb_sha256 FROM photo_uploads WHERE id = $1`, id).Scan(&sha, &thumb); err != nil {
			t.Fatal(err)
		}
		if !left[sha] || !left[thumb] {
			t.Errorf("photo %d lost its files", id)
		}
	}
	if !left[fresh] {
		t.Error("the sweep removed a file within its grace period")
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM photo_uploads WHERE id = $1`, old); n != 0 {
		t.Error("the old staged upload is still there")
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM audit_log WHERE action = 'photo_sweep' AND actor = 'test'`); n != 1 {
		t.Errorf("%d sweep audit records", n)
	}
	// A second sweep finds nothing more to do.
	if res, err := f.svc.Sweep(ctx, evidence.SweepOptions{Grace: time.Hour}); err != nil || res.Uploads != 0 || res.Files != 0 {
		t.Errorf("second sweep %+v %v", res, err)
	}
}

// Two reports sending the same upload at once: one gets it, the other is refused as
// already attached and writes nothing.
func TestAttachRace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.upload(t, f.west, nil, 320)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = f.sup.ReportHazard(ctx, f.west, supervise.HazardReport{Level: "一般", Category: "消防", Description: "同时上报",
				Lon: fptr(testdb.WestSouth[0]), Lat: fptr(testdb.WestSouth[1]), Photos: []int64{id}})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var inv *grid.InvalidError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &inv) && strings.Contains(inv.Reason, "already attached"):
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d reports got the photo", ok)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM hazards`); n != 1 {
		t.Errorf("%d hazards, want 1", n)
	}
	if n := testdb.Count(t, f.st, `SELECT count(*) FROM photos WHERE id = $1`, id); n != 1 {
		t.Errorf("the photo is attached %d times", n)
	}
}
