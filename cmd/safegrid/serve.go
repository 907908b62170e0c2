package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"safegrid/api"
	"safegrid/grid"
	"safegrid/grid/notify"
	"safegrid/grid/risk"
)

// serveEnv maps serve's flags to the environment variables that set them when the flag is
// not given (flags win, so a one-off run can override the unit file's environment).
var serveEnv = map[string]string{
	"listen":                "SAFEGRID_LISTEN",
	"read-timeout":          "SAFEGRID_READ_TIMEOUT",
	"write-timeout":         "SAFEGRID_WRITE_TIMEOUT",
	"idle-timeout":          "SAFEGRID_IDLE_TIMEOUT",
	"request-timeout":       "SAFEGRID_REQUEST_TIMEOUT",
	"statement-timeout":     "SAFEGRID_STATEMENT_TIMEOUT",
	"shutdown-timeout":      "SAFEGRID_SHUTDOWN_TIMEOUT",
	"body-limit":            "SAFEGRID_BODY_LIMIT",
	"token-ttl":             "SAFEGRID_TOKEN_TTL",
	"max-conns":             "SAFEGRID_MAX_CONNS",
	"response-cache-mb":     "SAFEGRID_RESPONSE_CACHE_MB",
	"proxy-header":          "SAFEGRID_PROXY_HEADER",
	"public-url":            "SAFEGRID_PUBLIC_URL",
	"trusted-proxies":       "SAFEGRID_TRUSTED_PROXIES",
	"log-level":             "SAFEGRID_LOG_LEVEL",
	"notify-interval":       "SAFEGRID_NOTIFY_INTERVAL",
	"webhook-allow-private": "SAFEGRID_WEBHOOK_ALLOW_PRIVATE",
	"reminder-days":         "SAFEGRID_REMINDER_DAYS",
	"escalate-days":         "SAFEGRID_ESCALATE_DAYS",
	"major-reminder-days":   "SAFEGRID_MAJOR_REMINDER_DAYS",
	"major-escalate-days":   "SAFEGRID_MAJOR_ESCALATE_DAYS",
	// photos
	"photo-dir":            "SAFEGRID_PHOTO_DIR",
	"photo-max-distance":   "SAFEGRID_PHOTO_MAX_DISTANCE",
	"photo-sweep-interval": "SAFEGRID_PHOTO_SWEEP_INTERVAL",
	"checkin-max-distance": "SAFEGRID_CHECKIN_MAX_DISTANCE",
	"checkin-max-accuracy": "SAFEGRID_CHECKIN_MAX_ACCURACY",
	// risk assessment
	"risk-daily-at": "SAFEGRID_RISK_DAILY_AT",
}

func newServeCmd(o *options) *cobra.Command {
	cfg := api.DefaultConfig()
	var maxConns int32
	var pprofAddr string
	var level slog.Level
	rules := notify.DefaultRules()
	var notifyInterval = time.Minute
	photoFar := float64(grid.DefaultPhotoFarM)
	photoSweep := time.Hour
	riskAt := risk.DefaultDailyAt.String()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP service",
		Long: `Run the HTTP service until SIGTERM or Ctrl-C, then finish the requests in flight and
stop. Every flag can also be set by the environment variable named in its help; the flag
wins when both are given. Logs are JSON lines on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd.Flags()); err != nil {
				return err
			}
			if cfg.ResponseCacheMB == 0 {
				cfg.ResponseCacheMB = -1 // 0 on the command line turns it off
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if err := rules.Validate(); err != nil {
				return err
			}
			if photoFar <= 0 {
				return fmt.Errorf("--photo-max-distance must be more than 0 metres")
			}
			if err := cfg.Checkin.Validate(); err != nil {
				return err
			}
			daily, err := risk.ParseDailyAt(riskAt)
			if err != nil {
				return fmt.Errorf("--risk-daily-at: %w", err)
			}
			cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			st, err := o.open(cmd.Context(), append(cfg.StoreOptions(), grid.WithMaxConns(maxConns))...)
			if err != nil {
				return err
			}
			// Deferred, so the pool closes only after Run has drained the requests in flight.
			defer st.Close()
			warnAuditGuard(cmd.Context(), st, cfg.Logger)
			if pprofAddr != "" {
				if err := servePprof(cmd.Context(), pprofAddr); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "pprof on http://%s/debug/pprof/\n", pprofAddr)
			}
			// The notification scheduler (docs/NOTIFY.md): reminders, the outbox, webhooks.
			// Deferred in this order, the scheduler is stopped (also when Run fails, say on a
			// taken port), then waited for, then the pool closes.
			var sched sync.WaitGroup
			defer sched.Wait()
			nctx, stopNotify := context.WithCancel(cmd.Context())
			defer stopNotify()
			if notifyInterval > 0 {
				svc := notify.New(st)
				svc.Options.AllowPrivate = cfg.WebhookAllowPrivate
				sc := &notify.Scheduler{Service: svc, Interval: notifyInterval, Rules: rules, Log: cfg.Logger}
				sched.Go(func() { sc.Run(nctx) })
				// Early warnings' hazard rules at the same pace (cmd/safegrid/riskwarnings.go).
				sched.Go(func() { raiseRiskWarnings(nctx, st, notifyInterval, cfg.Logger) })
			}
			// Photos: their directory, the far flag's distance, and the hourly sweep.
			cfg.PhotoDir = photoDir(cfg.PhotoDir)
			st.PhotoFarM = photoFar
			if photoSweep > 0 {
				sched.Go(func() { sweepPhotos(nctx, st, cfg.PhotoDir, photoSweep, cfg.Logger) })
			}
			// The risk index's daily recompute (docs/RISK.md "Snapshots").
			if !daily.Off {
				rs := &risk.Scheduler{Service: risk.New(st), At: daily, Log: cfg.Logger}
				sched.Go(func() { rs.Run(nctx) })
			}
			fmt.Fprintf(cmd.OutOrStdout(), "safegrid serving on http://%s\n", cfg.Listen)
			return api.New(st, cfg).Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to listen on")
	f.StringVar(&riskAt, "risk-daily-at", riskAt, "time of day (HH:MM, Asia/Shanghai) of the daily risk recompute, caught up after it when the day has no scheduled snapshot; off turns it off")
	f.DurationVar(&cfg.ReadTimeout, "read-timeout", cfg.ReadTimeout, "time to read one request")
	f.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout, "time to write one response")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "idle keep-alive connections are closed after this")
	f.DurationVar(&cfg.RequestTimeout, "request-timeout", cfg.RequestTimeout, "each request's queries are cancelled after this (503)")
	f.DurationVar(&cfg.StatementTimeout, "statement-timeout", cfg.StatementTimeout, "PostgreSQL statement_timeout of the service's connections")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long SIGTERM waits for requests in flight")
	f.IntVar(&cfg.BodyLimit, "body-limit", cfg.BodyLimit, "largest request body of an import in bytes (413 above); sign-in takes 4 KB, other routes 1 MB")
	f.DurationVar(&cfg.TokenTTL, "token-ttl", cfg.TokenTTL, "life of a sign-in token")
	f.IntVar(&cfg.ResponseCacheMB, "response-cache-mb", cfg.ResponseCacheMB, "memory for answers of read routes (tiles, cells, street lists) kept until their data changes; 0 turns it off")
	f.Int32Var(&maxConns, "max-conns", 0, "largest number of database connections (0: pgxpool's default, or pool_max_conns in the URL)")
	f.StringVar(&cfg.ProxyHeader, "proxy-header", "", "header with the client address, read only from --trusted-proxies, e.g. X-Forwarded-For")
	f.StringVar(&cfg.PublicURL, "public-url", "", "base of the absolute links in OGC answers and TileJSON, e.g. https://grid.example.org (default http://<listen>)")
	f.StringSliceVar(&cfg.TrustedProxies, "trusted-proxies", nil, "addresses or CIDR ranges of reverse proxies whose X-Forwarded-Host, X-Forwarded-Proto and --proxy-header are believed (default none)")
	f.StringVar(&pprofAddr, "pprof", "", "serve Go's net/http/pprof profiles on this address (a loopback one: they are not authenticated); off when empty")
	f.DurationVar(&notifyInterval, "notify-interval", notifyInterval, "how often the notification scheduler raises deadline reminders and the risk warnings' hazard rules and sends the outbox (in-app, webhooks); 0 turns it off")
	f.BoolVar(&cfg.WebhookAllowPrivate, "webhook-allow-private", false, "let webhooks point at loopback, private and link-local addresses (refused by default, when saved and when sending)")
	f.IntSliceVar(&rules.BeforeDays, "reminder-days", rules.BeforeDays, "remind the officer and street office this many days before a hazard's rectification deadline")
	f.IntVar(&rules.EscalateDays, "escalate-days", rules.EscalateDays, "escalate a hazard to its district after this many days overdue")
	f.IntSliceVar(&rules.MajorBeforeDays, "major-reminder-days", rules.MajorBeforeDays, "--reminder-days for 重大 (挂牌督办) hazards")
	f.IntVar(&rules.MajorEscalateDays, "major-escalate-days", rules.MajorEscalateDays, "--escalate-days for 重大 (挂牌督办) hazards")
	f.IntVar(&rules.CatchUpDays, "reminder-catch-up-days", rules.CatchUpDays, "a reminder raised more than this many days after its day (a backlog) goes out in one digest per recipient and kind")
	f.StringVar(&cfg.PhotoDir, "photo-dir", "", photoDirHelp)
	f.Float64Var(&photoFar, "photo-max-distance", photoFar, "metres from the hazard or inspected enterprise beyond which a photo's EXIF position flags it as far")
	f.DurationVar(&photoSweep, "photo-sweep-interval", photoSweep, "how often staged uploads older than a day and photo files no row names are removed; 0 turns it off")
	f.Float64Var(&cfg.Checkin.MaxDistanceM, "checkin-max-distance", cfg.Checkin.MaxDistanceM, "an inspection's check-in is flagged far when the officer's phone was more than this many metres from the enterprise")
	f.Float64Var(&cfg.Checkin.MaxAccuracyM, "checkin-max-accuracy", cfg.Checkin.MaxAccuracyM, "an inspection's check-in is flagged inaccurate when the phone's reported accuracy was worse than this many metres")
	f.TextVar(&level, "log-level", slog.LevelInfo, "debug, info, warn or error")
	for name, env := range serveEnv {
		fl := f.Lookup(name)
		fl.Usage += " (env " + env + ")"
	}
	return cmd
}

// flagsFromEnv sets each flag the command line left alone from its environment variable,
// through the flag's own parser so a bad value fails the same way.
func flagsFromEnv(fs *pflag.FlagSet) error {
	for name, env := range serveEnv {
		v, ok := os.LookupEnv(env)
		if !ok || fs.Changed(name) {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("%s=%q: %w", env, v, err)
		}
	}
	return nil
}

// servePprof serves the runtime profiles on their own listener, apart from the API (and
// its auth), until ctx ends.
func servePprof(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return nil
}

// warnAuditGuard logs, at start, when the database role could take the audit log's
// append-only trigger away (a superuser, or the owner of audit_log): the trigger still
// refuses UPDATE, DELETE and TRUNCATE, but DDL could disable it. docs/SECURITY.md says how
// to run the service as a role that cannot. A database that does not answer yet is not
// this check's business.
func warnAuditGuard(ctx context.Context, st *grid.Store, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	g, err := st.AuditGuard(ctx)
	if err != nil || (!g.Superuser && !g.Owner) {
		return
	}
	log.Warn("the database role can disable the audit log's append-only trigger (it is a superuser or owns audit_log); "+
		"in production run the service as a role that is neither: see docs/SECURITY.md",
		"superuser", g.Superuser, "owner", g.Owner)
}
