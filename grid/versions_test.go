package grid_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
	"safegrid/internal/testdb"
)

// Every table an answer may be kept from bumps its counter with each statement that
// writes it, in the writing transaction: a rolled-back write leaves the counter alone.
func TestEveryTableBumpsItsVersion(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	var tables []string
	for _, k := range grid.Kinds {
		tables = append(tables, k.Table)
	}
	tables = append(tables, "areas", "area_parts", "users", "grid_units", "grid_cells", "hazard_history", "inspections")
	for _, table := range tables {
		name := grid.VersionName(table)
		before, err := st.DataVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := before[name]; !ok {
			t.Errorf("%s: no counter %q", table, name)
			continue
		}
		// A statement that writes no row still runs the statement-level trigger.
		if _, err := st.Pool.Exec(ctx, `DELETE FROM `+table+` WHERE false`); err != nil {
			t.Fatal(err)
		}
		after, err := st.DataVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for n, v := range after {
			want := before[n]
			if n == name {
				want++
			}
			if v != want {
				t.Errorf("after writing %s: %s = %d, want %d", table, n, v, want)
			}
		}
		k0, _ := before.Key(name)
		k1, _ := after.Key(name)
		if k0 == k1 {
			t.Errorf("%s: key %q did not change", table, k0)
		}
		errRollback := errors.New("roll back")
		err = pgx.BeginFunc(ctx, st.Pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE false`); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		again, _ := st.DataVersions(ctx)
		if again[name] != after[name] {
			t.Errorf("%s: a rolled-back write moved %s from %d to %d", table, name, after[name], again[name])
		}
	}
}

func TestVersionsKey(t *testing.T) {
	v := grid.Versions{"hazards": 3, "enterprises": 7, "grid": 1}
	k, ok := v.Key("grid", "enterprises", "grid")
	if !ok || k != "enterprises=7;grid=1;" {
		t.Errorf("Key = %q, %v", k, ok)
	}
	all, ok := v.Key()
	if !ok || all != "enterprises=7;grid=1;hazards=3;" {
		t.Errorf("Key() = %q, %v", all, ok)
	}
	if _, ok := v.Key("enterprises", "pipelines"); ok {
		t.Error("a name without a counter gave a key")
	}
	if _, ok := (grid.Versions{}).Key(); ok {
		t.Error("no counters gave a key")
	}
}
