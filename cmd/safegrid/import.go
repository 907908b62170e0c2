package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/ingest"
)

func newImportCmd(o *options) *cobra.Command {
	var (
		kind, crs, format                  string
		skipInvalid, repair, ignoreUnknown bool
	)
	cmd := &cobra.Command{
		Use:   "import --kind KIND [--crs wgs84|cgcs2000|gcj02|bd09] [--skip-invalid] FILE",
		Short: "Load a GeoJSON FeatureCollection or CSV file of one kind",
		Long: `Load a GeoJSON FeatureCollection or a CSV file (points as lon,lat columns, other
geometries as a wkt column) of one kind: ` + kindNames() + `.

Every row is checked; one bad row fails the import and nothing is written, unless
--skip-invalid is given: then the good rows load and the rejected ones are written to
FILE.rejects.csv (row, field, reason). Re-importing a file updates rows by their code.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := geo.ParseCRS(crs)
			if err != nil {
				return err
			}
			// An import allocates a little per row and keeps little: collecting garbage
			// less often saves a tenth of the CPU of a million-row file for ~300 MB more.
			debug.SetGCPercent(400)
			path := args[0]
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			info, err := f.Stat()
			if err != nil {
				return err
			}
			fmtt := ingest.Format(format)
			if format == "" {
				head := make([]byte, 512)
				n, _ := io.ReadFull(f, head)
				fmtt = ingest.DetectFormat(path, head[:n])
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return err
				}
			}
			st, err := o.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()

			var r io.Reader = f
			var bar *progressbar.ProgressBar
			if term.IsTerminal(int(os.Stderr.Fd())) {
				bar = progressbar.DefaultBytes(info.Size(), "importing "+kind)
				pr := progressbar.NewReader(f, bar)
				r = &pr
			}
			res, err := ingest.New(st).Import(cmd.Context(), r, ingest.ImportOptions{
				Kind: kind, Format: fmtt, CRS: c, SkipInvalid: skipInvalid, Repair: repair,
				IgnoreUnknown: ignoreUnknown, Actor: cliActor(),
			})
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(os.Stderr)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s: %d rows read, %d inserted, %d updated, %d rejected\n",
				path, res.Kind, res.Read, res.Inserted, res.Updated, res.Rejected)
			for _, table := range slices.Sorted(maps.Keys(res.Retagged)) {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d re-tagged with the new areas\n", table, res.Retagged[table])
			}
			if len(res.Rejections) > 0 {
				report := path + ".rejects.csv"
				if err := writeRejects(report, res.Rejections); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rejected rows are listed in %s\n", report)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "what the file holds: "+kindNames())
	cmd.Flags().StringVar(&crs, "crs", "wgs84", "coordinate system of the file: wgs84, cgcs2000, gcj02 (Amap, Tencent) or bd09 (Baidu)")
	cmd.Flags().StringVar(&format, "format", "", "geojson or csv (default: from the file name)")
	cmd.Flags().BoolVar(&skipInvalid, "skip-invalid", false, "load the good rows and report the bad ones beside the file")
	cmd.Flags().BoolVar(&repair, "repair", false, "repair invalid polygons (ST_MakeValid) instead of refusing them")
	cmd.Flags().BoolVar(&ignoreUnknown, "ignore-unknown", false, "drop properties the kind does not know instead of refusing the row")
	_ = cmd.MarkFlagRequired("kind")
	return cmd
}

func kindNames() string {
	names := grid.KindNames()
	return strings.Join(names, ", ")
}

func writeRejects(path string, rs []ingest.Rejection) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"row", "field", "reason"})
	for _, r := range rs {
		// A reason quotes the file's value, which may be a formula: neutralise it.
		_ = w.Write([]string{strconv.Itoa(r.Row), grid.CSVSafe(r.Field), grid.CSVSafe(r.Reason)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func currentUser() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
