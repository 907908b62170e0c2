package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/uber/h3-go/v4"

	"safegrid/api"
	"safegrid/grid"
	"safegrid/grid/demo"
	"safegrid/grid/layers"
	"safegrid/grid/supervise"
	"safegrid/internal/cql2"
	"safegrid/internal/loadgen"
)

// benchAPIOptions are the flags of `safegrid bench api`.
type benchAPIOptions struct {
	server         string
	password       string
	workers        int
	maxConns       int32
	duration       time.Duration
	warmup         time.Duration
	rounds         int
	users          int
	cellsPerUser   int
	tileZoom       int
	p99Target      time.Duration
	ratioTarget    float64
	only           string
	seed           uint64
	defaultLimit   int
	requestTimeout time.Duration
}

// benchEndpoint is one endpoint under load: its requests over HTTP and the same store
// calls its handler makes (the floor), cycled through in the same order.
type benchEndpoint struct {
	name  string
	reqs  []benchRequest
	floor []func(ctx context.Context) error
}

type benchRequest struct {
	path, token string
}

// newBenchAPICmd measures three read endpoints (a street's hazard list, an officer's cell,
// a zoom-12 enterprise tile) under concurrent load against their floor: the same store
// calls the handlers make, run straight through pgx over a pool like the server's, in the
// same process run.
func newBenchAPICmd(o *options) *cobra.Command {
	var b benchAPIOptions
	cmd := &cobra.Command{
		Use:   "api --server URL",
		Short: "Load three API endpoints and their queries straight through pgx; print req/s, p50, p99 and ratios",
		Long: `Load three read endpoints of a running server (--server) with --workers concurrent
keep-alive connections for --duration each, after --warmup, and then the same store calls
their handlers make, run with as many goroutines over a pool configured like the server's
(--max-conns, the service's pool options) against the same database (DATABASE_URL): the
floor. Requests cycle through a shuffled list spread over the data set: --users street
offices' hazard lists, --users officers with --cells-per-user of their cells each, and every
zoom-12 tile holding enterprises (as a planner). Each round runs server and floor for each
endpoint (alternating which goes first); the table shows the medians over --rounds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchAPI(cmd, o, b) },
	}
	f := cmd.Flags()
	f.StringVar(&b.server, "server", "http://127.0.0.1:8080", "base URL of the running service")
	f.StringVar(&b.password, "password", DemoPassword, "password of the data set's users")
	f.IntVar(&b.workers, "workers", 64, "concurrent connections (and floor goroutines)")
	f.Int32Var(&b.maxConns, "max-conns", 0, "the floor's pool size: the server's --max-conns (0: pgxpool's default, as the server)")
	f.DurationVar(&b.duration, "duration", 10*time.Second, "measuring time per endpoint, server and floor each")
	f.DurationVar(&b.warmup, "warmup", 2*time.Second, "unrecorded load before each measurement")
	f.IntVar(&b.rounds, "rounds", 3, "rounds; the table shows medians")
	f.IntVar(&b.users, "users", 32, "street offices and officers to sign in as")
	f.IntVar(&b.cellsPerUser, "cells-per-user", 8, "cells per officer")
	f.IntVar(&b.tileZoom, "zoom", 12, "tile zoom")
	f.DurationVar(&b.p99Target, "p99-target", 25*time.Millisecond, "p99 target of the server")
	f.Float64Var(&b.ratioTarget, "ratio-target", 0.70, "target of server throughput ÷ floor throughput")
	f.StringVar(&b.only, "only", "", "comma-separated endpoints to run (street, cell, tile; and the OGC reads items, filter, sorted, run only when named); default street, cell, tile")
	f.Uint64Var(&b.seed, "seed", 1, "shuffle seed")
	f.IntVar(&b.defaultLimit, "limit", api.DefaultConfig().DefaultLimit, "the hazard list's page size: the server's default limit")
	f.DurationVar(&b.requestTimeout, "request-timeout", 30*time.Second, "client timeout of one request")
	return cmd
}

func runBenchAPI(cmd *cobra.Command, o *options, b benchAPIOptions) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	st, err := grid.Open(ctx, o.databaseURL, append(api.DefaultConfig().StoreOptions(), grid.WithMaxConns(b.maxConns))...)
	if err != nil {
		return err
	}
	defer st.Close()
	client := &http.Client{
		Timeout: b.requestTimeout,
		Transport: &http.Transport{
			MaxIdleConns: b.workers, MaxIdleConnsPerHost: b.workers, MaxConnsPerHost: b.workers,
			IdleConnTimeout: time.Minute,
		},
	}
	base := strings.TrimSuffix(b.server, "/")
	login := func(user string) (string, *grid.Principal, error) {
		tok, err := benchLogin(ctx, client, base, user, b.password)
		if err != nil {
			return "", nil, err
		}
		p, err := st.Authenticate(ctx, tok)
		return tok, p, err
	}
	rng := rand.New(rand.NewPCG(b.seed, 2))
	var eps []*benchEndpoint
	want := func(name string) bool { return b.only == "" || strings.Contains(","+b.only+",", ","+name+",") }
	if want("street") {
		ep, err := streetEndpoint(ctx, st, b, login)
		if err != nil {
			return err
		}
		eps = append(eps, ep)
	}
	if want("cell") {
		ep, err := cellEndpoint(ctx, st, b, login)
		if err != nil {
			return err
		}
		eps = append(eps, ep)
	}
	if want("tile") {
		ep, err := tileEndpoint(ctx, st, b, login)
		if err != nil {
			return err
		}
		eps = append(eps, ep)
	}
	for _, name := range []string{"items", "filter", "sorted"} {
		if b.only != "" && want(name) { // OGC reads run only when asked for
			ep, err := ogcEndpoint(ctx, st, name, login)
			if err != nil {
				return err
			}
			eps = append(eps, ep)
		}
	}
	for _, ep := range eps {
		rng.Shuffle(len(ep.reqs), func(i, j int) {
			ep.reqs[i], ep.reqs[j] = ep.reqs[j], ep.reqs[i]
			ep.floor[i], ep.floor[j] = ep.floor[j], ep.floor[i]
		})
		fmt.Fprintf(out, "%-7s %d distinct requests, e.g. GET %s\n", ep.name, len(ep.reqs), ep.reqs[0].path)
	}
	fmt.Fprintf(out, "%d workers, floor pool %d connections, %v per measurement after %v warm-up, %d rounds\n",
		b.workers, st.PoolStats().Max, b.duration, b.warmup, b.rounds)

	lo := loadgen.Options{Workers: b.workers, Duration: b.duration, Warmup: b.warmup}
	results := make(map[string][][2]loadgen.Result)
	for r := range b.rounds {
		for _, ep := range eps {
			server := func() loadgen.Result {
				return loadgen.Run(ctx, lo, func(ctx context.Context, i int) error {
					return benchGet(ctx, client, base, ep.reqs[i%len(ep.reqs)])
				})
			}
			floor := func() loadgen.Result {
				return loadgen.Run(ctx, lo, func(ctx context.Context, i int) error {
					return ep.floor[i%len(ep.floor)](ctx)
				})
			}
			var pair [2]loadgen.Result
			if r%2 == 0 {
				pair[0], pair[1] = server(), floor()
			} else {
				pair[1], pair[0] = floor(), server()
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			for i, res := range pair {
				if res.Errors > 0 {
					return fmt.Errorf("%s (%s): %d of %d requests failed; first: %w", ep.name, []string{"server", "floor"}[i], res.Errors, res.Errors+res.Requests, res.FirstErr)
				}
			}
			results[ep.name] = append(results[ep.name], pair)
			fmt.Fprintf(out, "round %d %-7s server %8.1f req/s p50 %7s p99 %7s | floor %8.1f req/s p50 %7s p99 %7s | ratio %.2f\n",
				r+1, ep.name, pair[0].Rate(), fmtMS(pair[0].Percentile(50)), fmtMS(pair[0].Percentile(99)),
				pair[1].Rate(), fmtMS(pair[1].Percentile(50)), fmtMS(pair[1].Percentile(99)), pair[0].Rate()/pair[1].Rate())
		}
	}
	printBenchTable(out, b, eps, results)
	return nil
}

// printBenchTable prints the medians over the rounds as a Markdown table, and the verdicts.
func printBenchTable(w io.Writer, b benchAPIOptions, eps []*benchEndpoint, results map[string][][2]loadgen.Result) {
	fmt.Fprintf(w, "\nmedians of %d rounds (%d connections, %v each):\n\n", b.rounds, b.workers, b.duration)
	fmt.Fprintln(w, "| endpoint | server req/s | p50 ms | p99 ms | floor req/s | p50 ms | p99 ms | ratio | p99 ≤ target | ratio ≥ target |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, ep := range eps {
		var m [2][3][]float64 // server/floor × rate/p50/p99
		var ratios []float64
		for _, pair := range results[ep.name] {
			for i, res := range pair {
				m[i][0] = append(m[i][0], res.Rate())
				m[i][1] = append(m[i][1], ms(res.Percentile(50)))
				m[i][2] = append(m[i][2], ms(res.Percentile(99)))
			}
			ratios = append(ratios, pair[0].Rate()/pair[1].Rate())
		}
		med := func(i, j int) float64 { return loadgen.Median(m[i][j]) }
		ratio := loadgen.Median(ratios)
		p99ok := med(0, 2) <= ms(b.p99Target)
		fmt.Fprintf(w, "| %s | %.0f | %.1f | %.1f | %.0f | %.1f | %.1f | %.2f | %s | %s |\n", ep.name,
			med(0, 0), med(0, 1), med(0, 2), med(1, 0), med(1, 1), med(1, 2), ratio,
			verdict(p99ok, fmt.Sprintf("%.0f ms", ms(b.p99Target))), verdict(ratio >= b.ratioTarget, fmt.Sprintf("%.0f%%", b.ratioTarget*100)))
	}
}

func verdict(ok bool, target string) string {
	if ok {
		return "met (" + target + ")"
	}
	return "**not met** (" + target + ")"
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fmtMS(d time.Duration) string { return fmt.Sprintf("%.1fms", ms(d)) }

// benchGet sends one request and reads the whole body; anything but 200 is an error.
func benchGet(ctx context.Context, c *http.Client, base string, r benchRequest) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+r.path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %.200s", r.path, resp.Status, body)
	}
	_, err = io.Copy(io.Discard, resp.Body) // the whole body, without keeping it
	return err
}

func benchLogin(ctx context.Context, c *http.Client, base, user, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/auth/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var lr struct {
		Token string `json:"token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &lr) != nil || lr.Token == "" {
		return "", fmt.Errorf("login %s: %s: %.200s", user, resp.Status, b)
	}
	return lr.Token, nil
}

type loginFunc func(user string) (string, *grid.Principal, error)

// spread picks n of xs evenly (all when there are fewer).
func spread[T any](xs []T, n int) []T {
	if len(xs) <= n {
		return xs
	}
	out := make([]T, n)
	for i := range n {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}

// streetEndpoint: GET /api/v1/streets/{code}/hazards (first page, default sort) as the
// street office of each of b.users streets that have hazards.
func streetEndpoint(ctx context.Context, st *grid.Store, b benchAPIOptions, login loginFunc) (*benchEndpoint, error) {
	all, err := demo.StreetOfficesWithHazards(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no street office with hazards: load the data set first")
	}
	ep := &benchEndpoint{name: "street"}
	sv := supervise.New(st)
	for _, s := range spread(all, b.users) {
		tok, _, err := login(s.User)
		if err != nil {
			return nil, err
		}
		street := s.Street
		ep.reqs = append(ep.reqs, benchRequest{path: "/api/v1/streets/" + street + "/hazards", token: tok})
		ep.floor = append(ep.floor, func(ctx context.Context) error {
			if err := sv.CheckStreet(ctx, street); err != nil {
				return err
			}
			_, _, err := sv.StreetHazards(ctx, supervise.StreetHazardFilter{Street: street, Limit: b.defaultLimit})
			return err
		})
	}
	return ep, nil
}

// cellEndpoint: GET /api/v1/cells/{cell} as b.users officers, each over b.cellsPerUser of
// their own cells.
func cellEndpoint(ctx context.Context, st *grid.Store, b benchAPIOptions, login loginFunc) (*benchEndpoint, error) {
	all, err := demo.OfficersWithCells(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no officer with grid cells: load the data set first")
	}
	ep := &benchEndpoint{name: "cell"}
	sv := supervise.New(st)
	for _, o := range spread(all, b.users) {
		tok, p, err := login(o.User)
		if err != nil {
			return nil, err
		}
		for _, c := range spread(o.Cells, b.cellsPerUser) {
			ep.reqs = append(ep.reqs, benchRequest{path: "/api/v1/cells/" + h3.Cell(c).String(), token: tok})
			ep.floor = append(ep.floor, func(ctx context.Context) error {
				if err := sv.CellInScope(ctx, p, c); err != nil {
					return err
				}
				_, err := sv.Cell(ctx, c)
				return err
			})
		}
	}
	return ep, nil
}

// tileEndpoint: GET /tiles/enterprises/{z}/{x}/{y}.mvt as a planner (the whole city) for
// every tile at zoom b.tileZoom that holds an enterprise.
func tileEndpoint(ctx context.Context, st *grid.Store, b benchAPIOptions, login loginFunc) (*benchEndpoint, error) {
	user, err := demo.Planner(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("a planner to read tiles as: %w", err)
	}
	tok, p, err := login(user)
	if err != nil {
		return nil, err
	}
	layer, err := layers.TileLayerByID("enterprises")
	if err != nil {
		return nil, err
	}
	z := b.tileZoom
	tiles, err := demo.EnterpriseTiles(ctx, st, z)
	if err != nil {
		return nil, err
	}
	ep := &benchEndpoint{name: "tile"}
	ly := layers.New(st)
	for _, t := range tiles {
		x, y := t[0], t[1]
		ep.reqs = append(ep.reqs, benchRequest{path: fmt.Sprintf("/tiles/enterprises/%d/%d/%d.mvt", z, x, y), token: tok})
		ep.floor = append(ep.floor, func(ctx context.Context) error {
			_, err := ly.Tile(ctx, layer, p, z, x, y)
			return err
		})
	}
	if len(ep.reqs) == 0 {
		return nil, fmt.Errorf("no enterprises: load the data set first")
	}
	return ep, nil
}

// ogcEndpoint: OGC API Features items of enterprises as a planner, one district at a time,
// first page of 100 with numberMatched:
//   - items: the district's bounding box (bbox=), no filter;
//   - filter: filter=risk_level='重大' AND S_INTERSECTS(geom, <the district's boundary>);
//   - sorted: the same filter with sortby=-employees.
//
// The floor is layers.Features with the same query (the filter parsed once, as the
// handler parses it per request).
func ogcEndpoint(ctx context.Context, st *grid.Store, name string, login loginFunc) (*benchEndpoint, error) {
	user, err := demo.Planner(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("a planner to read items as: %w", err)
	}
	tok, p, err := login(user)
	if err != nil {
		return nil, err
	}
	col, err := layers.CollectionByID("enterprises")
	if err != nil {
		return nil, err
	}
	districts, err := demo.Districts(ctx, st)
	if err != nil {
		return nil, err
	}
	ep := &benchEndpoint{name: name}
	ly := layers.New(st)
	for _, d := range districts {
		v := url.Values{"limit": {"100"}}
		q := layers.FeatureQuery{Principal: p, Limit: 100}
		if name == "items" {
			v.Set("bbox", fmt.Sprintf("%g,%g,%g,%g", d.BBox[0], d.BBox[1], d.BBox[2], d.BBox[3]))
			q.BBox = &d.BBox
		} else {
			filter := "risk_level='重大' AND S_INTERSECTS(geom, " + d.WKT + ")"
			v.Set("filter", filter)
			if q.Filter, err = cql2.ParseText(filter); err != nil {
				return nil, fmt.Errorf("district %s: %w", d.Code, err)
			}
		}
		if name == "sorted" {
			v.Set("sortby", "-employees")
			q.SortBy = []layers.SortKey{{Property: "employees", Desc: true}}
		}
		ep.reqs = append(ep.reqs, benchRequest{path: "/ogc/collections/enterprises/items?" + v.Encode(), token: tok})
		ep.floor = append(ep.floor, func(ctx context.Context) error {
			_, err := ly.Features(ctx, col, q)
			return err
		})
	}
	if len(ep.reqs) == 0 {
		return nil, fmt.Errorf("no district holds enterprises: load the data set first")
	}
	return ep, nil
}
