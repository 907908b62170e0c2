package supervise_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// The whole table of status pairs and roles against the lifecycle.
func TestCheckHazardStep(t *testing.T) {
	allowed := map[[2]string][]string{
		{"reported", "registered"}: {"admin", "street"},
		{"registered", "assigned"}: {"admin", "street"},
		{"assigned", "rectifying"}: {"admin", "street", "officer"},
		{"rectifying", "verified"}: {"admin", "street"},
		{"verified", "rectifying"}: {"admin", "street"},
		{"verified", "closed"}:     {"admin", "street"},
	}
	for _, from := range grid.HazardStatuses() {
		for _, to := range grid.HazardStatuses() {
			for _, role := range grid.Roles() {
				err := supervise.CheckHazardStep(from, to, role)
				roles, step := allowed[[2]string{from, to}]
				var inv *grid.InvalidError
				switch {
				case !step:
					if !errors.As(err, &inv) || inv.Field != "to" {
						t.Errorf("%s → %s as %s: %v, want an invalid step", from, to, role, err)
					}
				case slices.Contains(roles, role):
					if err != nil {
						t.Errorf("%s → %s as %s: %v", from, to, role, err)
					}
				default:
					if !errors.Is(err, grid.ErrForbidden) {
						t.Errorf("%s → %s as %s: %v, want forbidden", from, to, role, err)
					}
				}
			}
		}
	}
	if err := supervise.CheckHazardStep("reported", "done", "admin"); err == nil {
		t.Error("an unknown status passed")
	}
}

// Many callers with the same version at once: one step is made, the others get
// ErrConflict, and the history and audit log hold exactly one step.
func TestTransitionRace(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	id := testdb.AddHazard(t, st, "重大", testdb.WestSouth)
	admin := &grid.Principal{UserID: 1, Username: "ann", Role: grid.RoleAdmin}
	street := &grid.Principal{UserID: 2, Username: "zhou", Role: grid.RoleStreet, StreetCode: "310104003"}

	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = supervise.New(st).TransitionHazard(ctx, street, supervise.HazardTransition{HazardID: id, To: "registered", Version: 1})
		})
	}
	wg.Wait()
	var ok, conflict int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, grid.ErrConflict):
			conflict++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Errorf("%d made, %d conflicts", ok, conflict)
	}
	h, err := supervise.New(st).HazardDetailOf(ctx, admin, id)
	if err != nil || h.Version != 2 || len(h.History) != 1 || testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'hazard_registered'`) != 1 {
		t.Fatalf("after the race: %+v, %v", h, err)
	}

	// 挂牌督办: assigning a 重大 hazard needs the whole plan; a refused step writes nothing.
	resp := "王五"
	_, err = supervise.New(st).TransitionHazard(ctx, street, supervise.HazardTransition{HazardID: id, To: "assigned", Version: 2, Plan: supervise.HazardPlan{Responsible: &resp}})
	var fe *grid.InvalidFieldsError
	if !errors.As(err, &fe) || len(fe.Errors) != 3 {
		t.Fatalf("a 重大 hazard without a plan: %v", err)
	}
	deadline := time.Now().AddDate(0, 1, 0)
	measures, funds := "停产整改", 5000.0
	h, err = supervise.New(st).TransitionHazard(ctx, street, supervise.HazardTransition{HazardID: id, To: "assigned", Version: 2,
		Plan: supervise.HazardPlan{Responsible: &resp, Deadline: &deadline, Measures: &measures, Funds: &funds}})
	if err != nil || h.Status != "assigned" || h.Version != 3 || !h.Supervised {
		t.Fatalf("assigning with a plan: %+v, %v", h, err)
	}
	// Another street's office and an unknown hazard.
	other := &grid.Principal{UserID: 3, Username: "li", Role: grid.RoleStreet, StreetCode: "310104004"}
	var oos *grid.NotFoundError // out of scope is not found
	if _, err := supervise.New(st).TransitionHazard(ctx, other, supervise.HazardTransition{HazardID: id, To: "rectifying", Version: 3}); !errors.As(err, &oos) {
		t.Errorf("another street: %v", err)
	}
	var nf *grid.NotFoundError
	if _, err := supervise.New(st).TransitionHazard(ctx, admin, supervise.HazardTransition{HazardID: id + 100, To: "rectifying", Version: 1}); !errors.As(err, &nf) {
		t.Errorf("unknown hazard: %v", err)
	}
}

func TestSaveUnitChecks(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	west := geo.PointCell(testdb.WestSouth, 9).String()
	east := geo.PointCell(orb.Point{121.47, 31.12}, 9).String()
	if err := supervise.New(st).CreateUnit(ctx, "test", supervise.UnitSpec{Code: "W1", Name: "西一", StreetCode: "310104003", Cells: []string{west}}); err != nil {
		t.Fatal(err)
	}
	var fe *grid.InvalidFieldsError
	err := supervise.New(st).CreateUnit(ctx, "test", supervise.UnitSpec{Code: "W2", Name: "西二", StreetCode: "310104003", Cells: []string{east}})
	if !errors.As(err, &fe) || len(fe.Errors) != 1 {
		t.Errorf("a cell in the east street: %v", err)
	}
	err = supervise.New(st).CreateUnit(ctx, "test", supervise.UnitSpec{Code: "E1", Name: "东一", StreetCode: "310104004", Cells: []string{east, west}})
	if !errors.As(err, &fe) {
		t.Errorf("a west cell in an east unit (the street check comes first): %v", err)
	}
	err = supervise.New(st).CreateUnit(ctx, "test", supervise.UnitSpec{Code: "W2", Name: "西二", StreetCode: "310104003", Cells: []string{west}})
	if !errors.Is(err, grid.ErrConflict) {
		t.Errorf("a cell in two units: %v", err)
	}
	if err := supervise.New(st).UpdateUnit(ctx, "test", supervise.UnitSpec{Code: "W1", Name: "西一", StreetCode: "310104003", Cells: []string{west}}); err != nil {
		t.Errorf("updating a unit with its own cells: %v", err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM grid_cells`); n != 1 {
		t.Errorf("%d cells, want 1", n)
	}
}

// A day-to-day write that meets an import's lock on its table waits WriteLockTimeout, then
// fails with ErrBusy having written nothing; once the import commits it goes through.
func TestWriteWaitsForImportThenIsBusy(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	st.WriteLockTimeout = 300 * time.Millisecond
	ctx := context.Background()
	id := testdb.AddHazard(t, st, "一般", testdb.WestSouth)
	street := &grid.Principal{UserID: 2, Username: "zhou", Role: grid.RoleStreet, StreetCode: "310104003"}
	imp, err := testdb.DB(st).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Rollback(ctx)
	if _, err := imp.Exec(ctx, `LOCK TABLE hazards, hazard_history IN SHARE ROW EXCLUSIVE MODE`); err != nil { // as lockForWrite
		t.Fatal(err)
	}
	start := time.Now()
	_, err = supervise.New(st).TransitionHazard(ctx, street, supervise.HazardTransition{HazardID: id, To: "registered", Version: 1})
	if !errors.Is(err, grid.ErrBusy) || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("during the import: %v after %v", err, time.Since(start))
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM hazard_history`); n != 0 {
		t.Errorf("%d history rows written by the refused step", n)
	}
	if err := imp.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if h, err := supervise.New(st).TransitionHazard(ctx, street, supervise.HazardTransition{HazardID: id, To: "registered", Version: 1}); err != nil || h.Status != "registered" {
		t.Fatalf("after the import: %+v, %v", h, err)
	}
}
