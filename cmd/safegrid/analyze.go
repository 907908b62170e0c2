package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"safegrid/grid"
	"safegrid/grid/coverage"
)

func newAnalyzeCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analyze",
		Short: "Run the planners' analyses: fire-station coverage and new-station siting",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newAnalyzeCoverageCmd(o), newAnalyzeSitingCmd(o))
	return cmd
}

// coverageFlags are the travel model and station set flags coverage and siting share.
type coverageFlags struct {
	p       coverage.CoverageParams
	add     []string
	without []string
}

func (f *coverageFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Float64Var(&f.p.Minutes, "minutes", 5, "travel time limit in minutes")
	fl.Float64Var(&f.p.SpeedKmh, "speed", 30, "speed in km/h")
	fl.Float64Var(&f.p.Detour, "detour", 1.4, "road distance ÷ straight-line distance")
	fl.IntVar(&f.p.Resolution, "resolution", 9, "H3 resolution of the area cells (6-10)")
	fl.BoolVar(&f.p.Planned, "planned", false, "count planned stations too")
	fl.StringArrayVar(&f.add, "add", nil, "what-if station LON,LAT,TYPE (repeatable), e.g. 121.5,31.2,一级普通")
	fl.StringArrayVar(&f.without, "without", nil, "leave out the station with this code (repeatable)")
}

func (f *coverageFlags) params() (coverage.CoverageParams, error) {
	p := f.p
	p.Without = f.without
	for _, a := range f.add {
		s, err := parseAddition(a)
		if err != nil {
			return p, fmt.Errorf("--add %q: %w", a, err)
		}
		p.Add = append(p.Add, s)
	}
	return p, nil
}

// analysisCmd is what coverage and siting share: the travel-model flags, --json, and a
// run that opens the store, writes the result to --json and prints it.
type analysisCmd struct {
	flags   coverageFlags
	jsonOut string
}

func (a *analysisCmd) register(cmd *cobra.Command, jsonDoc string) {
	a.flags.register(cmd)
	cmd.Flags().StringVar(&a.jsonOut, "json", "", jsonDoc)
}

// runE parses the flags, then gives run an Analyst; run returns the result for --json and
// prints it once the file is written.
func (a *analysisCmd) runE(o *options, run func(cmd *cobra.Command, an *coverage.Analyst, p coverage.CoverageParams) (any, func(io.Writer), error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		p, err := a.flags.params()
		if err != nil {
			return err
		}
		return o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			res, show, err := run(cmd, coverage.NewAnalyst(st), p)
			if err != nil {
				return err
			}
			if a.jsonOut != "" {
				if err := writeJSONFile(a.jsonOut, res); err != nil {
					return err
				}
			}
			show(cmd.OutOrStdout())
			return nil
		})(cmd, args)
	}
}

// parseAddition reads LON,LAT,TYPE.
func parseAddition(s string) (coverage.StationAddition, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return coverage.StationAddition{}, fmt.Errorf("want LON,LAT,TYPE")
	}
	lon, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
	lat, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
	if err1 != nil || err2 != nil {
		return coverage.StationAddition{}, fmt.Errorf("lon and lat must be numbers")
	}
	return coverage.StationAddition{Lon: lon, Lat: lat, Type: strings.TrimSpace(parts[2])}, nil
}

func newAnalyzeCoverageCmd(o *options) *cobra.Command {
	var a analysisCmd
	var geojsonOut string
	var repeat int
	cmd := &cobra.Command{
		Use:   "coverage",
		Short: "Share of enterprises, high-risk enterprises, underground spaces, occupancy sites and area within reach of a fire station",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = a.runE(o, func(cmd *cobra.Command, an *coverage.Analyst, p coverage.CoverageParams) (any, func(io.Writer), error) {
		ctx := cmd.Context()
		var res *coverage.CoverageResult
		var elapsed time.Duration
		for i := 1; i <= max(1, repeat); i++ {
			start := time.Now()
			var err error
			if res, err = an.Coverage(ctx, p); err != nil {
				return nil, nil, err
			}
			elapsed = time.Since(start)
			if repeat > 1 {
				fmt.Fprintf(cmd.OutOrStdout(), "run %d: %.3f s\n", i, elapsed.Seconds())
			}
		}
		if geojsonOut != "" {
			cells, err := an.CoverageCells(ctx, p, "")
			if err != nil {
				return nil, nil, err
			}
			if err := writeJSONFile(geojsonOut, coverage.CellsGeoJSON(cells)); err != nil {
				return nil, nil, err
			}
		}
		return res, func(w io.Writer) {
			printCoverage(w, res)
			fmt.Fprintf(w, "computed in %.3f s\n", elapsed.Seconds())
		}, nil
	})
	a.register(cmd, "write the full result (districts, streets, stations) as JSON to this file")
	cmd.Flags().StringVar(&geojsonOut, "geojson", "", "write the cells with covered true/false as GeoJSON to this file")
	cmd.Flags().IntVar(&repeat, "repeat", 1, "run the analysis this many times in one process and print each time (benchmarks)")
	_ = cmd.Flags().MarkHidden("repeat")
	return cmd
}

func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func pct(s coverage.Share) string {
	if s.Total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*s.Share)
}

func printCoverage(w io.Writer, res *coverage.CoverageResult) {
	fmt.Fprintf(w, "reach: %.0f min at %.0f km/h, detour %.2f = %.0f m straight (UTM 51N); %d stations counted\n\n",
		res.Params.Minutes, res.Params.SpeedKmh, res.Params.Detour, res.RadiusM, len(res.Stations))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "area\tenterprises\tweighted\thigh-risk\tunderground\tocc. sites\tarea km²\tarea\t")
	row := func(name string, c coverage.CoverageCounts) {
		fmt.Fprintf(tw, "%s\t%.0f/%.0f %s\t%s\t%s\t%s\t%s\t%.1f/%.1f\t%s\t\n", name,
			c.Enterprises.Covered, c.Enterprises.Total, pct(c.Enterprises), pct(c.EnterprisesWeighted), pct(c.HighRisk),
			pct(c.Underground), pct(c.GasSites), c.AreaKm2.Covered, c.AreaKm2.Total, pct(c.AreaKm2))
	}
	row("overall", res.Overall)
	for _, d := range res.Districts {
		row(d.Code+" "+d.Name, d.CoverageCounts)
	}
	tw.Flush()
	over := 0
	for _, s := range res.Stations {
		if s.OverCap {
			over++
		}
	}
	fmt.Fprintf(w, "\n%d of %d stations serve more than their cap (service area: cells nearer to them than to any other station)\n", over, len(res.Stations))
}

func newAnalyzeSitingCmd(o *options) *cobra.Command {
	var a analysisCmd
	var sp coverage.SitingParams
	var lpOut string
	cmd := &cobra.Command{
		Use:   "siting",
		Short: "Where k new fire stations cover the most risk-weighted demand (MCLP), or the fewest that reach a target share (LSCP)",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = a.runE(o, func(cmd *cobra.Command, an *coverage.Analyst, p coverage.CoverageParams) (any, func(io.Writer), error) {
		sp.CoverageParams = p
		if lpOut != "" {
			if err := writeSitingLP(cmd, an, sp, lpOut); err != nil {
				return nil, nil, err
			}
		}
		res, err := an.Siting(cmd.Context(), sp)
		if err != nil {
			return nil, nil, err
		}
		return res, func(w io.Writer) { printSiting(w, res) }, nil
	})
	a.register(cmd, "write the result as JSON to this file")
	cmd.Flags().IntVar(&sp.K, "k", 10, "MCLP: number of new stations")
	cmd.Flags().Float64Var(&sp.TargetShare, "target-share", 0, "LSCP: reach this covered share of risk-weighted demand with the fewest stations (e.g. 0.95)")
	cmd.Flags().IntVar(&sp.CandidateRes, "candidate-resolution", 8, "H3 resolution of the candidate cells (7-9)")
	cmd.Flags().Float64Var(&sp.TimeLimitS, "time-limit", 2, "seconds for the improvement phase")
	cmd.Flags().Uint64Var(&sp.Seed, "seed", 1, "random seed of the multistart")
	cmd.Flags().StringVar(&lpOut, "lp", "", "also write the MCLP instance as an LP file (for cbc or glpsol)")
	return cmd
}

// writeSitingLP writes the MCLP instance of sp as an LP file for an exact solver.
func writeSitingLP(cmd *cobra.Command, an *coverage.Analyst, sp coverage.SitingParams, path string) error {
	m, err := an.BuildSiting(cmd.Context(), sp)
	if err != nil {
		return err
	}
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := coverage.WriteLP(fh, &m.Instance, sp.K); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote the MCLP (k %d, %d uncovered demand points, %d candidates) to %s; already covered weight %.0f of %.0f\n",
		sp.K, len(m.Instance.Weight), len(m.Instance.Sets), path, m.Before, m.TotalWeight)
	return nil
}

func printSiting(w io.Writer, res *coverage.SitingResult) {
	fmt.Fprintf(w, "%s: %d demand cells, %d candidates, %d stations, reach %.0f m\n", strings.ToUpper(res.Mode), res.DemandPoints, res.Candidates, res.Stations, res.RadiusM)
	if res.Excluded > 0 {
		fmt.Fprintf(w, "%d of your candidates left out: within 200 m of a 危化品 enterprise (GB 51080 §4.1.5)\n", res.Excluded)
	}
	fmt.Fprintf(w, "covered risk-weighted demand: before %.0f (%.2f%%), after %.0f (%.2f%%)", res.Before.Weight, 100*res.Before.Share, res.After.Weight, 100*res.After.Share)
	if res.Mode == "mclp" {
		fmt.Fprintf(w, "; no %d sites cover more than %.0f (%.2f%%)", res.K, res.UpperBound.Weight, 100*res.UpperBound.Share)
	}
	fmt.Fprintln(w)
	if res.Mode == "lscp" {
		fmt.Fprintf(w, "target reached: %v with %d stations (proved minimal: %v)\n", res.Reachable, res.K, res.ProvedMinimum)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tcell\tlon\tlat\tdistrict\tstreet\tgain\tshare")
	for _, s := range res.Sites {
		fmt.Fprintf(tw, "%d\t%s\t%.5f\t%.5f\t%s\t%s\t%.0f\t+%.2f%%\n", s.Rank, s.Cell, s.Lon, s.Lat, s.District, s.Street, s.GainWeight, 100*s.GainShare)
	}
	tw.Flush()
	fmt.Fprintf(w, "objective %.0f in %.2f s\n", res.After.Weight-res.Before.Weight, res.Seconds)
}
