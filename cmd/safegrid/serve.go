package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"safegrid/api"
)

func newServeCmd(o *options) *cobra.Command {
	cfg := api.Config{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := o.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "safegrid serving on http://%s\n", cfg.Listen)
			return api.New(st, cfg).Run(cmd.Context())
		},
	}
	listen := os.Getenv("SAFEGRID_LISTEN")
	if listen == "" {
		listen = "127.0.0.1:8080"
	}
	cmd.Flags().StringVar(&cfg.Listen, "listen", listen, "address to listen on (env SAFEGRID_LISTEN)")
	cmd.Flags().DurationVar(&cfg.ReadTimeout, "read-timeout", 30*time.Second, "request read timeout")
	cmd.Flags().DurationVar(&cfg.WriteTimeout, "write-timeout", 60*time.Second, "response write timeout")
	cmd.Flags().IntVar(&cfg.BodyLimit, "body-limit", 64<<20, "largest request body, bytes")
	return cmd
}
