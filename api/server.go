// Package api is SafeGrid's HTTP service (fiber).
package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
)

// Config is the service's configuration.
type Config struct {
	Listen       string
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	BodyLimit    int
}

// Server is the HTTP service over one store.
type Server struct {
	app   *fiber.App
	store *grid.Store
	cfg   Config
}

// New builds the service's routes.
func New(store *grid.Store, cfg Config) *Server {
	app := fiber.New(fiber.Config{
		AppName:               "safegrid",
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		BodyLimit:             cfg.BodyLimit,
		DisableStartupMessage: true,
	})
	s := &Server{app: app, store: store, cfg: cfg}
	app.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	app.Get("/readyz", s.ready)
	return s
}

// ready answers 200 only when the database answers.
func (s *Server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.store.Pool.Ping(ctx); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "database unavailable"})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// App returns the fiber app, for tests.
func (s *Server) App() *fiber.App { return s.app }

// Run serves until ctx ends, then drains in-flight requests.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listen(s.cfg.Listen) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return s.app.ShutdownWithTimeout(30 * time.Second)
	}
}
