// Package api is SafeGrid's HTTP service (fiber): routing, sign-in and scope, problem
// responses, metrics, the OpenAPI document, and the endpoint families built on them.
//
// Adding endpoints: write a method that registers them with s.route (see openapi.go) and
// add it to the list in New. Inside a handler:
//
//   - c.UserContext() is the request's context: bounded by Config.RequestTimeout and
//     cancelled when the client hangs up. Pass it to every query.
//   - principal(c) is the signed-in caller; scope SQL with grid.Scope (every role's
//     condition: a district's district_code, a street's street_code, an officer's cells).
//   - decodeJSON(c, &body) reads a JSON body strictly; return Problem / FieldProblem or a
//     typed grid error and handleError turns it into application/problem+json.
//   - writes go through a transaction that also calls s.store.Audit.
package api

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"safegrid/grid"
	"safegrid/grid/assess"
	"safegrid/grid/dossier"
	"safegrid/grid/evidence"
	"safegrid/grid/hazardstat"
	"safegrid/grid/ingest"
	"safegrid/grid/layers"
	"safegrid/grid/notify"
	"safegrid/grid/risk"
	"safegrid/grid/supervise"
)

// Config is the service's configuration; cmd/safegrid fills it from flags and environment.
// Zero fields take the values of DefaultConfig.
type Config struct {
	Listen       string
	ReadTimeout  time.Duration // reading one request, headers and body
	WriteTimeout time.Duration // writing one response
	IdleTimeout  time.Duration // an idle keep-alive connection is closed after this
	// RequestTimeout bounds each request's context, so every query it runs ends by then.
	RequestTimeout time.Duration
	// StatementTimeout is the pool's server-side statement_timeout (see StoreOptions): it
	// stops a query even if the service loses track of it.
	StatementTimeout time.Duration
	ShutdownTimeout  time.Duration // how long SIGTERM waits for in-flight requests
	// BodyLimit is the largest request body of an import, in bytes; larger gets 413.
	// Sign-in takes 4 KB and every other route 1 MB (bodylimit.go).
	BodyLimit int
	TokenTTL  time.Duration // life of a bearer token from login
	// LoginAttempts failed logins per username and client address within LoginWindow;
	// the next attempt gets 429 until the window ends.
	LoginAttempts int
	LoginWindow   time.Duration
	// DefaultLimit and MaxLimit are the page sizes of paged lists (OpenAPI
	// #/components/parameters/limit, which QGIS and GDAL read).
	DefaultLimit int
	MaxLimit     int
	// PublicURL is the base of every absolute link the service writes (OGC links,
	// TileJSON), e.g. https://grid.example.org; empty derives http://<Listen> (an
	// unspecified host is written as 127.0.0.1). Request headers never change it unless
	// the request comes from a TrustedProxies address.
	PublicURL string
	// TrustedProxies are the addresses and CIDR ranges of reverse proxies whose
	// X-Forwarded-Proto, X-Forwarded-Host and ProxyHeader are believed; empty (the
	// default) believes no one.
	TrustedProxies []string
	// ProxyHeader names the header holding the client address behind a trusted reverse
	// proxy (X-Forwarded-For); empty uses the peer address. Login rate limits key on it.
	// It is read only from TrustedProxies; elsewhere the peer address counts.
	ProxyHeader string
	// ResponseCacheMB is the memory for kept answers of read routes (api/respcache.go);
	// 0 takes DefaultConfig's, a negative number keeps none.
	ResponseCacheMB int
	// WebhookAllowPrivate lets admins save webhooks that point at loopback, private and
	// link-local addresses (a receiver on the same machine); the scheduler
	// (cmd/safegrid serve) takes the same setting for sending.
	WebhookAllowPrivate bool
	// Photos: the directory the photo files are kept in (serve --photo-dir); empty is
	// safegrid-photos in the system's temporary directory, for tests.
	PhotoDir string
	// Checkin are the limits of an inspection's check-in verdict (docs/FIELDWORK.md);
	// zero values take the defaults (200 m away, 100 m accuracy).
	Checkin supervise.CheckinLimits
	Logger  *slog.Logger // JSON to stderr when nil
}

// DefaultConfig is the configuration `safegrid serve` starts from.
func DefaultConfig() Config {
	return Config{
		Listen:           "127.0.0.1:8080",
		ReadTimeout:      30 * time.Second,
		WriteTimeout:     60 * time.Second,
		IdleTimeout:      120 * time.Second,
		RequestTimeout:   30 * time.Second,
		StatementTimeout: 30 * time.Second,
		ShutdownTimeout:  30 * time.Second,
		BodyLimit:        64 << 20,
		TokenTTL:         12 * time.Hour,
		LoginAttempts:    5,
		LoginWindow:      time.Minute,
		DefaultLimit:     100,
		MaxLimit:         10000,
		ResponseCacheMB:  256,
		Checkin:          supervise.DefaultCheckinLimits(),
	}
}

// StoreOptions are the pool settings the service needs from grid.Open.
func (c Config) StoreOptions() []grid.Option {
	return []grid.Option{
		grid.WithStatementTimeout(c.StatementTimeout),
		grid.WithConnectTimeout(5 * time.Second),
		grid.WithApplicationName("safegrid"),
		grid.WithClientCheck(time.Second),
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.ReadTimeout, d.ReadTimeout)
	set(&c.WriteTimeout, d.WriteTimeout)
	set(&c.IdleTimeout, d.IdleTimeout)
	set(&c.RequestTimeout, d.RequestTimeout)
	set(&c.StatementTimeout, d.StatementTimeout)
	set(&c.ShutdownTimeout, d.ShutdownTimeout)
	set(&c.TokenTTL, d.TokenTTL)
	set(&c.LoginWindow, d.LoginWindow)
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = d.BodyLimit
	}
	if c.ResponseCacheMB == 0 {
		c.ResponseCacheMB = d.ResponseCacheMB
	}
	if c.LoginAttempts <= 0 {
		c.LoginAttempts = d.LoginAttempts
	}
	if c.MaxLimit <= 0 {
		c.MaxLimit = d.MaxLimit
	}
	if c.DefaultLimit <= 0 || c.DefaultLimit > c.MaxLimit {
		c.DefaultLimit = min(d.DefaultLimit, c.MaxLimit)
	}
	if c.PhotoDir == "" {
		c.PhotoDir = filepath.Join(os.TempDir(), "safegrid-photos")
	}
	if c.Checkin.MaxDistanceM == 0 {
		c.Checkin.MaxDistanceM = d.Checkin.MaxDistanceM
	}
	if c.Checkin.MaxAccuracyM == 0 {
		c.Checkin.MaxAccuracyM = d.Checkin.MaxAccuracyM
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return c
}

// Server is the HTTP service over one store.
type Server struct {
	app   *fiber.App
	store *grid.Store // the core: sign-in, users, scope, data versions
	// The capabilities, each over the same store.
	ingest     *ingest.Service
	layers     *layers.Service
	supervise  *supervise.Service
	hazardstat *hazardstat.Service
	notify     *notify.Service
	dossier    *dossier.Service  // enterprise dossier
	evidence   *evidence.Service // photos
	assess     *assess.Service   // officer assessment (考核)
	risk       *risk.Service     // regional risk assessment (区域风险评估)
	cfg        Config
	public     publicBase // where absolute links point (PublicURL)
	log        *slog.Logger
	metrics    *metrics
	logins     *limiter    // failed logins per username+address
	basic      *basicCache // recent good Basic credentials, so QGIS's tile bursts skip bcrypt
	kept       *respCache  // kept answers of read routes; nil when turned off
	// routes are the documented endpoints, in registration order: the OpenAPI document.
	routes []routeSpec
	// undocumented are the few routes kept out of the document (probes, metrics).
	undocumented []string
	draining     atomic.Bool // set on shutdown, so /readyz turns traffic away first
	limits       *bodyLimits // the routes' body limits, named in a 413
}

// New builds the service and its routes.
func New(store *grid.Store, cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		store:      store,
		ingest:     ingest.New(store),
		layers:     layers.New(store),
		supervise:  supervise.New(store),
		hazardstat: hazardstat.New(store),
		notify:     notify.New(store),
		dossier:    dossier.New(store), // enterprise dossier
		evidence:   evidence.New(store, evidence.NewDir(cfg.PhotoDir)),
		assess:     assess.New(store), // officer assessment (考核)
		risk:       risk.New(store),   // regional risk assessment (区域风险评估)
		cfg:        cfg,
		public:     cfg.publicBase(),
		log:        cfg.Logger,
		metrics:    newMetrics(store),
		logins:     newLimiter(cfg.LoginAttempts, cfg.LoginWindow),
		basic:      newBasicCache(time.Minute),
	}
	s.notify.Options.AllowPrivate = cfg.WebhookAllowPrivate
	s.supervise.Checkin = cfg.Checkin // check-in
	if cfg.ResponseCacheMB > 0 {
		s.kept = newRespCache(int64(cfg.ResponseCacheMB) << 20)
		s.metrics.reg.MustRegister(s.kept.collectors()...)
	}
	// readBufferSize bounds a request's line and headers (fasthttp's default is 4 KB): an
	// OGC filter= with a district's boundary needs more. Longer is a 431.
	const readBufferSize = 32 << 10
	s.app = fiber.New(fiber.Config{
		AppName:        "safegrid",
		ReadTimeout:    cfg.ReadTimeout,
		WriteTimeout:   cfg.WriteTimeout,
		IdleTimeout:    cfg.IdleTimeout,
		BodyLimit:      cfg.BodyLimit,
		ReadBufferSize: readBufferSize,
		ProxyHeader:    cfg.ProxyHeader,
		// Forwarded headers and ProxyHeader count only from TrustedProxies (none by default).
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		ErrorHandler:            s.handleError,
		DisableStartupMessage:   true,
	})
	s.app.Use(s.observe)
	// Each endpoint family registers its routes with s.route; add yours to this list.
	for _, mount := range []func(){
		s.systemRoutes,
		s.authRoutes,
		s.officerRoutes,
		s.streetRoutes,
		s.districtRoutes, // district bureau (区安监局): api/district.go
		s.hazardRoutes,
		s.adminRoutes,
		s.auditRoutes,
		s.userRoutes,
		s.notifyRoutes,
		s.dossierRoutes, // enterprise dossier
		s.licenceRoutes, // licences: enterprise licences 证照 (api/licences.go)
		s.photoRoutes,
		s.assessRoutes,      // officer assessment (考核)
		s.riskAdminRoutes,   // risk index: configuration, snapshots, runs (api/risk_admin.go)
		s.riskReadRoutes,    // the risk map read from its snapshots: api/risk.go
		s.riskWarningRoutes, // early warnings 预警: api/risk_warnings.go
		s.riskZoneRoutes,    // joint-control zones 联动联控区: api/risk_zones.go
		s.importRoutes,
		s.hazardAnalysisRoutes,
		s.analysisRoutes,
		s.ogcRoutes,
		s.tileRoutes,
		s.webRoutes,
	} {
		mount()
	}
	limits := newBodyLimits(s.routes, cfg.BodyLimit)
	s.limits = limits
	s.app.Server().HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		return fasthttp.RequestConfig{MaxRequestBodySize: limits.limit(h)}
	}
	s.app.Server().Handler = s.refuseUnroutable(s.app.Server().Handler)
	return s
}

// App returns the fiber app, for tests.
func (s *Server) App() *fiber.App { return s.app }

// Run listens on Config.Listen and serves until ctx ends (SIGTERM), then drains.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends. Then /readyz answers 503, the listener closes, and
// in-flight requests finish (up to ShutdownTimeout) before Serve returns; the caller
// closes the store after that, so no request loses its pool mid-query.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(ln) }()
	s.log.Info("listening", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: draining in-flight requests", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.app.ShutdownWithContext(sctx)
	if lerr := <-errc; err == nil {
		err = lerr
	}
	s.log.Info("stopped")
	return err
}
