package ingest

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// tracer prints how long each step of an import takes when SAFEGRID_TRACE is set, for
// profiling imports without a debugger.
type tracer struct {
	on    bool
	start time.Time
	last  time.Time
	name  string
}

func newTracer() *tracer {
	now := time.Now()
	return &tracer{on: os.Getenv("SAFEGRID_TRACE") != "", start: now, last: now}
}

func (t *tracer) step(name string) {
	if !t.on {
		return
	}
	now := time.Now()
	if t.name != "" {
		fmt.Fprintf(os.Stderr, "trace: %-60s %7.2f s\n", t.name, now.Sub(t.last).Seconds())
	}
	t.name, t.last = name, now
}

func (t *tracer) done() { t.step("") }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}
