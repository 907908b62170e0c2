package grid_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"safegrid/grid"
)

// The tables are fixed: what a caller is handed can be changed without changing them.
func TestKindTablesCannotBeChanged(t *testing.T) {
	k, ok := grid.KindByName("fire_stations")
	if !ok {
		t.Fatal("no fire_stations kind")
	}
	i := k.FieldIndex("type")
	if i < 0 || len(k.Fields[i].Values) == 0 {
		t.Fatalf("fire_stations.type has no values: %+v", k.Fields)
	}
	first := k.Fields[i].Values[0]
	k.Fields[i].Values[0] = "changed"
	k.Fields[i].Name = "changed"
	k.Geoms[0] = "changed"
	again, _ := grid.KindByName("fire_stations")
	if again.Fields[i].Values[0] != first || again.Fields[i].Name != "type" || again.Geoms[0] == "changed" {
		t.Errorf("a change to a returned kind reached the table: %+v", again.Fields[i])
	}
	if !grid.IsStationType(first) || grid.IsStationType("changed") {
		t.Error("the station types moved with a returned kind")
	}
	types := grid.StationTypes()
	types[0] = "changed"
	if slices.Contains(grid.StationTypes(), "changed") {
		t.Error("StationTypes hands out the table itself")
	}
	names := grid.KindNames()
	names[0] = "changed"
	if grid.KindNames()[0] != "areas" {
		t.Error("KindNames hands out the table itself")
	}
}

// Typed turns the database's errors into the core's, keeping the original in the chain.
func TestTyped(t *testing.T) {
	timeout := &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}
	dup := &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"}
	other := &pgconn.PgError{Code: "22P02", Message: "invalid input syntax"}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("street list: %w", timeout), grid.ErrTimeout},
		{dup, grid.ErrDuplicate},
	} {
		got := grid.Typed(tc.err)
		if !errors.Is(got, tc.want) {
			t.Errorf("Typed(%v) = %v, want %v", tc.err, got, tc.want)
		}
		var pe *pgconn.PgError
		if !errors.As(got, &pe) {
			t.Errorf("Typed(%v) lost the database error", tc.err)
		}
		if errors.Is(got, grid.ErrConflict) {
			t.Errorf("Typed(%v) is ErrConflict", tc.err)
		}
	}
	for _, err := range []error{other, errors.New("plain"), nil} {
		if got := grid.Typed(err); got != err {
			t.Errorf("Typed(%v) = %v, want it unchanged", err, got)
		}
	}
}
