package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// update rewrites the golden files from what the code prints now: go test ./cmd/safegrid
// -run TestHelpGolden -update. Do it only in the commit that changes the CLI on purpose.
var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestHelpGolden pins the --help output of every command, hidden ones included, so a
// restructuring cannot change the command line by accident.
func TestHelpGolden(t *testing.T) {
	// Flag defaults come from the environment; pin them to empty.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "DATABASE_URL" || strings.HasPrefix(k, "SAFEGRID_") {
			t.Setenv(k, "")
		}
	}
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk(newRoot(), nil)
	var all bytes.Buffer
	for _, p := range paths {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append(append([]string{}, p...), "--help"))
		if err := root.Execute(); err != nil {
			t.Fatalf("%v --help: %v", p, err)
		}
		all.WriteString("==> safegrid " + strings.Join(p, " ") + " --help\n")
		all.Write(out.Bytes())
	}
	const path = "testdata/help.golden"
	if *update {
		if err := os.WriteFile(path, all.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(all.Bytes(), want) {
		t.Errorf("the CLI's --help differs from %s (-update rewrites it, on purpose only)", path)
	}
}
