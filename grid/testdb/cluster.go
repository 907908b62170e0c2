package testdb

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Cluster is a PostgreSQL cluster of one test's own, for tests that stop and restart the
// database server: restarting the shared one would break the tests running beside them.
// It is scripts/db.sh with another data directory and a free port.
type Cluster struct {
	// URL is the cluster's safegrid database (empty, not migrated).
	URL string
	t   testing.TB
	env []string
}

// NewCluster initialises and starts a cluster in a temporary directory; it is stopped and
// removed when the test ends. Without the PostgreSQL and PostGIS binaries (or, as root,
// runuser and a postgres user) the test is skipped, or fails when CI=true.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	if missing := clusterToolsMissing(); missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("a private PostgreSQL cluster needs %s", missing)
		}
		t.Skipf("a private PostgreSQL cluster needs %s", missing)
	}
	dir, err := os.MkdirTemp("/var/tmp", "safegrid-cluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // the postgres user must reach the data directory inside
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c := &Cluster{t: t}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") { // db.sh would only echo it back
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env, "SAFEGRID_PGDATA="+dir+"/data", "SAFEGRID_PGPORT="+strconv.Itoa(port))
	t.Cleanup(func() {
		c.Stop()
		os.RemoveAll(dir)
	})
	c.URL = c.db("start")
	return c
}

// Stop stops the server (pg_ctl stop -m fast: sessions are terminated, open transactions
// roll back).
func (c *Cluster) Stop() {
	c.t.Helper()
	c.db("stop")
}

// Start starts the stopped server again.
func (c *Cluster) Start() {
	c.t.Helper()
	c.db("start")
}

// db runs scripts/db.sh cmd on the cluster and returns what it printed.
func (c *Cluster) db(cmd string) string {
	c.t.Helper()
	x := exec.Command("bash", dbScript(), cmd)
	x.Env = c.env
	var stderr strings.Builder
	x.Stderr = &stderr
	out, err := x.Output()
	if err != nil {
		c.t.Fatalf("db.sh %s: %v\n%s", cmd, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func dbScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "db.sh")
}

// clusterToolsMissing names what db.sh needs to start a cluster that is not here.
func clusterToolsMissing() string {
	bin := os.Getenv("SAFEGRID_PGBIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			return filepath.Join(bin, p)
		}
	}
	if _, err := os.Stat("/usr/share/postgresql/15/extension/postgis.control"); err != nil {
		return "PostGIS for PostgreSQL 15 (postgresql-15-postgis-3)"
	}
	if _, err := exec.LookPath("psql"); err != nil {
		return "psql"
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err != nil {
			return "runuser (initdb does not run as root)"
		}
		if _, err := user.Lookup("postgres"); err != nil {
			return "a postgres user (initdb does not run as root)"
		}
	}
	return ""
}
