package grid

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// Versions are the data's versions: one counter per group of tables (the table
// data_versions, migrations 00006 and 00007), which a statement-level trigger moves up in
// the transaction of every statement that writes one of them. A reader that sees the same
// counters sees the same rows in those tables, so an answer computed from them may be
// kept until a counter moves, or the date: Today is the database's date in Shanghai, with
// which overdue flags turn.
type Versions struct {
	Counts map[string]int64
	Today  string // YYYY-MM-DD
}

// versionsSQL reads Versions as three columns.
const versionsSQL = `SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date::text, array_agg(name), array_agg(version) FROM data_versions`

func versionsOf(today string, names []string, counts []int64) Versions {
	v := Versions{Counts: make(map[string]int64, len(names)), Today: today}
	for i, n := range names {
		v.Counts[n] = counts[i]
	}
	return v
}

// versionGroups maps the tables that share a counter to its name; other tables' counters
// are named after the table.
var versionGroups = map[string]string{
	"area_parts": "areas", "grid_units": "grid", "grid_cells": "grid", "hazard_history": "hazards",
}

// versionNames are the counters of data_versions (migrations 00006 and 00007).
var versionNames = []string{"areas", "enterprises", "fire_stations", "fishing_ports", "gas_occupancy_sites",
	"grid", "hazards", "inspections", "pipelines", "underground_spaces", "users"}

// SupervisedTables are the counters of what an officer's cells and a street's hazards
// are made of: areas, the grid, the supervised things and their hazards — all but
// inspections (the most frequent write) and users.
func SupervisedTables() []string {
	return slices.DeleteFunc(slices.Clone(versionNames), func(n string) bool { return n == "inspections" || n == "users" })
}

// VersionNames are the counters of data_versions (a copy).
func VersionNames() []string { return slices.Clone(versionNames) }

// VersionName is the name of the counter that table's writes bump.
func VersionName(table string) string {
	if g, ok := versionGroups[table]; ok {
		return g
	}
	return table
}

// DataVersions reads every counter, and the date, in one statement.
func (s *Store) DataVersions(ctx context.Context) (Versions, error) {
	var today string
	var names []string
	var counts []int64
	if err := s.pool.QueryRow(ctx, versionsSQL).Scan(&today, &names, &counts); err != nil {
		return Versions{}, err
	}
	return versionsOf(today, names, counts), nil
}

// Key is the counters named (every counter when names is empty) as one string: two keys
// are equal only when no write to those tables committed between the two readings. ok is
// false when a name has no counter (a database without migration 00007): nothing read
// from it may be kept.
func (v Versions) Key(names ...string) (key string, ok bool) {
	if len(names) == 0 {
		for n := range v.Counts {
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
		x, ok := v.Counts[n]
		if !ok {
			return "", false
		}
		b.WriteString(strconv.FormatInt(x, 10))
		b.WriteByte(';')
	}
	return b.String(), len(names) > 0
}
