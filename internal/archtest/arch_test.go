package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const mod = "safegrid"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath     string
	Dir            string
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string // other platforms' files (disconnect_other.go): checked too
	Imports        []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", mod+"/...")
	cmd.Dir = "../.."
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

// role sorts a package into the layers of docs/ARCHITECTURE.md.
func role(path string) string {
	rel := strings.TrimPrefix(path, mod+"/")
	switch {
	case rel == "grid":
		return "core"
	case rel == "grid/internal/pg":
		return "plumbing"
	case rel == "grid/demo":
		return "demo"
	case rel == "grid/testdb":
		return "testdb"
	case strings.HasPrefix(rel, "grid/internal/"):
		return "plumbing"
	case strings.HasPrefix(rel, "grid/"):
		return "capability" // every other package under grid/, today's and tomorrow's
	case rel == "geo":
		return "geo"
	case rel == "api":
		return "api"
	case strings.HasPrefix(rel, "cmd/"):
		return "cmd"
	}
	return "other" // data, migrations, web, internal/...
}

// allowed is, for each role, the roles of the project's packages it may import.
var allowed = map[string][]string{
	"geo":        {"other"},
	"plumbing":   {"other"},
	"core":       {"geo", "plumbing", "other"},
	"capability": {"core", "geo", "plumbing", "other"},
	"demo":       {"core", "geo", "plumbing", "capability", "other"},
	"testdb":     {"core", "geo", "plumbing", "capability", "other"},
	"api":        {"core", "geo", "capability", "other"},
	"cmd":        {"api", "core", "geo", "capability", "demo", "other"},
	"other":      {"other"},
}

// isDatabaseDriver: pgx and its parts, pgx-geom, database/sql and the other drivers.
func isDatabaseDriver(path string) bool {
	for _, p := range []string{"github.com/jackc/", "github.com/twpayne/pgx-geom", "database/sql", "github.com/lib/pq", "gorm.io/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// imports are a package's imports on every platform: go list's for this one, and those of
// the files it leaves out (other platforms' build tags), read from their source.
func imports(t *testing.T, p pkg) []string {
	out := slices.Clone(p.Imports)
	for _, f := range p.IgnoredGoFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			out = append(out, strings.Trim(im.Path.Value, `"`))
		}
	}
	return out
}

func inGrid(path string) bool { return path == mod+"/grid" || strings.HasPrefix(path, mod+"/grid/") }

// TestPackageRules: dependencies point one way (cmd → api → grid packages → geo),
// capability packages never import each other, and only grid/... reaches the database.
func TestPackageRules(t *testing.T) {
	for _, p := range listPackages(t) {
		r := role(p.ImportPath)
		for _, imp := range imports(t, p) {
			if strings.HasPrefix(imp, mod+"/") {
				ir := role(imp)
				if !slices.Contains(allowed[r], ir) {
					t.Errorf("%s (%s) imports %s (%s): not allowed", p.ImportPath, r, imp, ir)
				}
				if ir == "testdb" {
					t.Errorf("%s imports %s outside its tests", p.ImportPath, imp)
				}
			}
			if isDatabaseDriver(imp) && !inGrid(p.ImportPath) {
				t.Errorf("%s imports %s: only the grid packages talk to the database", p.ImportPath, imp)
			}
		}
	}
}

// TestNoPackageTooBig: no package holds more than a quarter of the non-test Go lines.
func TestNoPackageTooBig(t *testing.T) {
	lines := map[string]int{}
	total := 0
	for _, p := range listPackages(t) {
		for _, f := range append(slices.Clone(p.GoFiles), p.CgoFiles...) {
			n := countLines(t, filepath.Join(p.Dir, f))
			lines[p.ImportPath] += n
			total += n
		}
	}
	for path, n := range lines {
		if 4*n > total {
			t.Errorf("%s holds %d of %d non-test Go lines (more than a quarter): split it", path, n, total)
		}
	}
}

func countLines(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
	}
	return n
}

// docRef is a document named in a comment or string (docs/DESIGN.md, README.md), or a
// source file named by its path from the repository's root (grid/layers/tiles.go).
var docRef = regexp.MustCompile(`\b(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_-]+\.md\b|\b(?:api|cmd|geo|grid|internal|web|scripts|migrations|data)/(?:[a-z0-9_]+/)*[a-z0-9_]+\.(?:go|sql|sh|js)\b`)

// TestCitedDocumentsExist: every document or source file the code cites is in the
// repository, at the path given from the repository's root or from the citing file's folder.
func TestCitedDocumentsExist(t *testing.T) {
	root := "../.."
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "dist", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".sql", ".sh", ".js", ".mjs", ".css", ".html":
		default:
			if d.Name() != "Makefile" {
				return nil
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, ref := range docRef.FindAllString(string(data), -1) {
			seen++
			if _, err := os.Stat(filepath.Join(root, ref)); err == nil {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), ref)); err == nil {
				continue
			}
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s cites %s, which is not in the repository", rel, ref)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("no document citations found: the walk is broken")
	}
}
