package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"safegrid/grid"
	"safegrid/grid/evidence"
)

// photoDirHelp is --photo-dir's help.
const photoDirHelp = "directory of the photo evidence files, created when needed (default $XDG_DATA_HOME/safegrid/photos, else ~/.local/share/safegrid/photos)"

// photoDir is dir, or where photo files are kept when --photo-dir (SAFEGRID_PHOTO_DIR)
// says nothing: safegrid/photos in the user's data directory ($XDG_DATA_HOME, else
// ~/.local/share), or in the temporary directory when there is no home.
func photoDir(dir string) string {
	if dir != "" {
		return dir
	}
	if d := os.Getenv("SAFEGRID_PHOTO_DIR"); d != "" {
		return d
	}
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		if home, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(home, ".local", "share")
		} else {
			base = os.TempDir()
		}
	}
	return filepath.Join(base, "safegrid", "photos")
}

func newPhotosCmd(o *options) *cobra.Command {
	p := &cobra.Command{Use: "photos", Short: "Photo evidence 照片取证: the stored files"}
	var dir string
	opts := evidence.SweepOptions{Grace: time.Hour, StagedFor: 24 * time.Hour}
	sweep := &cobra.Command{
		Use:   "sweep",
		Short: "Remove staged uploads never attached, and photo files no row names",
		Long: `Remove the staged photo uploads older than --staged-for (never sent with a step), and every
file in --photo-dir that no photo names and that was stored longer ago than --grace (an
upload whose row never committed). safegrid serve runs the same sweep every hour.`,
		Args: cobra.NoArgs,
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			opts.Actor = cliActor()
			res, err := evidence.New(st, evidence.NewDir(photoDir(dir))).Sweep(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d staged uploads and %d files; kept %d files\n", res.Uploads, res.Files, res.Kept)
			return nil
		}),
	}
	sweep.Flags().StringVar(&dir, "photo-dir", "", photoDirHelp+" (env SAFEGRID_PHOTO_DIR)")
	sweep.Flags().DurationVar(&opts.Grace, "grace", opts.Grace, "keep files stored more recently than this, named or not")
	sweep.Flags().DurationVar(&opts.StagedFor, "staged-for", opts.StagedFor, "remove staged uploads older than this")
	p.AddCommand(sweep)
	return p
}

// sweepPhotos runs the photo sweep every interval until ctx ends.
func sweepPhotos(ctx context.Context, st *grid.Store, dir string, every time.Duration, log *slog.Logger) {
	svc := evidence.New(st, evidence.NewDir(dir))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := svc.Sweep(ctx, evidence.SweepOptions{})
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("photo sweep failed", "error", err.Error())
		case res.Uploads > 0 || res.Files > 0:
			log.Info("photo sweep", "uploads", res.Uploads, "files", res.Files, "kept", res.Kept)
		}
	}
}
