package grid

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// Versions are the data's versions: one counter per group of tables (the table
// data_versions, migrations 00006 and 00007), which a statement-level trigger bumps in the
// transaction of every statement that writes one of them. A reader that sees the same
// counters sees the same rows in those tables, so an answer computed from them may be
// kept until a counter moves.
type Versions map[string]int64

// versionGroups maps the tables that share a counter to its name; other tables' counters
// are named after the table.
var versionGroups = map[string]string{
	"area_parts": "areas", "grid_units": "grid", "grid_cells": "grid", "hazard_history": "hazards",
}

// VersionName is the name of the counter that table's writes bump.
func VersionName(table string) string {
	if g, ok := versionGroups[table]; ok {
		return g
	}
	return table
}

// DataVersions reads every counter in one statement.
func (s *Store) DataVersions(ctx context.Context) (Versions, error) {
	rows, err := s.Pool.Query(ctx, `SELECT name, version FROM data_versions`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	v := Versions{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		v[name] = n
	}
	return v, rows.Err()
}

// Key is the counters named (every counter when names is empty) as one string: two keys
// are equal only when no write to those tables committed between the two readings. ok is
// false when a name has no counter (a database without migration 00007): nothing read
// from it may be kept.
func (v Versions) Key(names ...string) (key string, ok bool) {
	if len(names) == 0 {
		for n := range v {
			names = append(names, n)
		}
	} else {
		names = slices.Clone(names)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('=')
		x, ok := v[n]
		if !ok {
			return "", false
		}
		b.WriteString(strconv.FormatInt(x, 10))
		b.WriteByte(';')
	}
	return b.String(), len(names) > 0
}

// TileLayerTables are the tables a tile of layer l is drawn from: its own, the grid (an
// officer's scope, and grid_cells' officer names), users and areas.
func TileLayerTables(l *TileLayer) []string {
	own := l.ID
	if l.Collection != nil {
		own = l.Collection.Kind.Table
	}
	return []string{VersionName(own), "grid", "users", "areas"}
}
