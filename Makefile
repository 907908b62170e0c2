# SafeGrid. `make run` serves the demo; `make test` runs every test. Both set up what they
# need: PostGIS from apt, a project-private PostgreSQL cluster on 127.0.0.1:55432 (data under
# /var/tmp), the schema and the demo data. Set DATABASE_URL to use your own PostGIS instead.

SHELL := /bin/bash
BIN := bin/safegrid
GO ?= go
export CGO_ENABLED := 1

.PHONY: run test build web db db-stop demo bench-import bench-analysis bench-api fuzz clean

# build bundles the map page (web/dist, embedded by web/embed.go) and then the binary.
build: web
	$(GO) build -o $(BIN) ./cmd/safegrid

# web: npm ci only when node_modules is missing or older than the lock file, then the
# esbuild bundle (web/build.mjs); the bundle is cheap, so it always runs.
web: web/node_modules/.package-lock.json
	cd web && npm run --silent build

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

# db starts (or reuses) the private cluster and prints its DATABASE_URL.
db:
	@url=$$(scripts/db.sh start) && echo "DATABASE_URL=$$url"

db-stop:
	@scripts/db.sh stop

demo: build
	@url=$$(scripts/db.sh start) && DATABASE_URL=$$url $(BIN) demo

run: build
	@url=$$(scripts/db.sh start) && export DATABASE_URL=$$url && \
	  $(BIN) migrate && $(BIN) demo && \
	  exec $(BIN) serve --listen $${SAFEGRID_LISTEN:-127.0.0.1:8080}

test: build
	@if [ -x scripts/test-deps.sh ]; then scripts/test-deps.sh; fi; \
	  url=$$(scripts/db.sh start) && export DATABASE_URL=$$url && \
	  $(GO) vet ./... && \
	  SAFEGRID_BROWSER=1 $(GO) test -count=1 -timeout 30m ./...

# fuzz: the parsers' targets for 30 s each, then FuzzHTTP (api/fuzz_test.go: any request to the
# running service against a test database answers no 5xx) for FUZZTIME with FUZZPARALLEL
# workers, each with its own database. A failing input is written to the package's
# testdata/fuzz/<target>/; `go test ./api -run FuzzHTTP` (in make test) replays the corpus.
FUZZTIME ?= 60s
FUZZPARALLEL ?= 2
fuzz: build
	$(GO) test ./grid/ingest -run '^$$' -fuzz FuzzReadGeoJSON -fuzztime 30s
	$(GO) test ./grid/ingest -run '^$$' -fuzz FuzzReadCSV -fuzztime 30s
	$(GO) test ./internal/cql2 -run '^$$' -fuzz FuzzParseText -fuzztime 30s
	$(GO) test ./internal/cql2 -run '^$$' -fuzz FuzzParseJSON -fuzztime 30s
	@url=$$(scripts/db.sh start) && export DATABASE_URL=$$url && \
	  $(GO) test ./api -run '^$$' -fuzz FuzzHTTP -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL)

# bench-import: 1,000,000 enterprises, 2,000,000 hazards and 167,000 pipelines loaded three ways; see BENCHMARKS.md.
bench-import: build
	@url=$$(scripts/db.sh start) && DATABASE_URL=$$url scripts/bench-import.sh

# bench-analysis: coverage (median of 5) and siting k=20 against CBC's optimum on the scaled set;
# scripts/bench-clusters.sh times partitioned against plain DBSCAN.
bench-analysis: build
	@url=$$(scripts/db.sh start) && DATABASE_URL=$$url scripts/bench-analysis.sh && DATABASE_URL=$$url scripts/bench-clusters.sh

# bench-api: the street hazard list, the officer's cell and a zoom-12 enterprise tile under 64
# connections, against the same queries straight through pgx; see BENCHMARKS.md.
bench-api: build
	@url=$$(scripts/db.sh start) && DATABASE_URL=$$url scripts/bench-api.sh

clean:
	rm -rf bin web/node_modules
	find web/dist -mindepth 1 ! -name .gitkeep -delete
