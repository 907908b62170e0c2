package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

type healthResponse struct {
	Status string `json:"status"`
}

func (s *Server) systemRoutes() {
	s.plain(fiber.MethodGet, "/healthz", func(c *fiber.Ctx) error {
		return c.JSON(healthResponse{Status: "ok"})
	})
	s.plain(fiber.MethodGet, "/readyz", s.ready)
	s.plain(fiber.MethodGet, "/metrics", s.metrics.handler())
	s.route(fiber.MethodGet, "/api/openapi.json", Operation{
		Summary: "This OpenAPI document", Tags: []string{"meta"}, Auth: AuthPublic,
		Response: Schema{"type": "object", "description": "OpenAPI 3.0"},
		Produces: []string{fiber.MIMEApplicationJSON, "application/vnd.oai.openapi+json;version=3.0"},
	}, s.openAPIHandler)
}

// ready answers 200 only when the database answers, and 503 once shutdown has begun so
// a load balancer stops sending new requests while the in-flight ones drain.
func (s *Server) ready(c *fiber.Ctx) error {
	if s.draining.Load() {
		return Problem(fiber.StatusServiceUnavailable, "", "shutting down")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger(c).Warn("readiness: database does not answer", "error", err.Error())
		return Problem(fiber.StatusServiceUnavailable, "", "the database does not answer")
	}
	return c.JSON(healthResponse{Status: "ready"})
}
