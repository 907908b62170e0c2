package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
)

type loginRequest struct {
	Username string `json:"username" required:"true" maxLength:"64" pattern:"^[A-Za-z0-9_.-]{2,64}$" doc:"login name"`
	Password string `json:"password" required:"true" maxLength:"256"`
}

type loginResponse struct {
	Token     string    `json:"token" doc:"send it as Authorization: Bearer TOKEN"`
	ExpiresAt grid.Time `json:"expires_at"`
	Role      string    `json:"role" enum:"admin,planner,district,street,officer"`
}

// meResponse is the signed-in user.
type meResponse struct {
	ID           int64          `json:"id"`
	Username     string         `json:"username"`
	DisplayName  string         `json:"display_name"`
	Role         string         `json:"role" enum:"admin,planner,district,street,officer"`
	StreetCode   *string        `json:"street_code" doc:"the street a street office sees; null for other roles"`
	DistrictCode *string        `json:"district_code" doc:"the district a district bureau (区安监局) sees; null for other roles"`
	Units        []assignedUnit `json:"units" doc:"the grid units assigned to an officer; empty for other roles"`
}

type assignedUnit struct {
	Code       string `json:"code"`
	Name       string `json:"name"`
	StreetCode string `json:"street_code"`
	Cells      int    `json:"cells" doc:"resolution-9 H3 cells in the unit"`
}

func (s *Server) authRoutes() {
	s.route(fiber.MethodPost, "/api/v1/auth/login", Operation{
		Summary: "Sign in",
		Description: fmt.Sprintf("Returns a bearer token for the other endpoints, valid for %s. A wrong password and an "+
			"unknown user get the same 401. After %d failures within %s for one username from one address, or %d for any "+
			"usernames from one address: 429 with Retry-After. A username that breaks the users' rule (2 to 64 letters, "+
			"digits, _ . -) is a 422 naming it, checked before anything is counted, stored or logged: the rule is public, so "+
			"the answer tells nothing about which accounts exist.",
			s.cfg.TokenTTL, s.cfg.LoginAttempts, s.cfg.LoginWindow, addrFactor*s.cfg.LoginAttempts),
		Tags: []string{"auth"}, Auth: AuthPublic,
		Body: loginRequest{}, Response: loginResponse{}, BodyLimit: loginBodyLimit,
		Problems: []int{fiber.StatusUnauthorized, fiber.StatusTooManyRequests},
	}, s.login)
	s.route(fiber.MethodPost, "/api/v1/auth/logout", Operation{
		Summary: "Sign out", Description: "Revokes the bearer token of the request.",
		Tags: []string{"auth"}, Status: fiber.StatusNoContent,
	}, s.logout)
	s.route(fiber.MethodGet, "/api/v1/me", Operation{
		Summary: "The signed-in user", Description: "Who the token belongs to, their role and scope.",
		Tags: []string{"auth"}, Response: meResponse{},
	}, s.me)
}

func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var missing []FieldError
	if req.Username == "" {
		missing = append(missing, FieldError{Field: "username", Reason: "is required"})
	}
	if req.Password == "" {
		missing = append(missing, FieldError{Field: "password", Reason: "is required"})
	}
	if len(missing) > 0 {
		return FieldProblems(missing...)
	}
	// A name no account can have is refused before it is counted, stored or logged
	// (decodeJSON has refused NUL, bad UTF-8 and more than 64 characters already).
	if !usernameRule.MatchString(req.Username) {
		return FieldProblem("username", "must be 2 to 64 letters, digits, '_', '.' or '-'")
	}
	addr := c.IP()
	if wait := s.logins.retryAfter(req.Username, addr); wait > 0 {
		return tooManyLogins(wait)
	}
	sess, err := s.store.LoginFrom(c.UserContext(), c.IP(), req.Username, req.Password, s.cfg.TokenTTL)
	if errors.Is(err, grid.ErrBadCredentials) {
		s.logins.fail(req.Username, addr)
	}
	if err != nil {
		return err
	}
	s.logins.reset(req.Username, addr)
	return c.JSON(loginResponse{Token: sess.Token, ExpiresAt: grid.TimeOf(sess.ExpiresAt), Role: sess.Principal.Role})
}

func (s *Server) logout(c *fiber.Ctx) error {
	_, token, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if err := s.store.Logout(c.UserContext(), principal(c), strings.TrimSpace(token)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) me(c *fiber.Ctx) error {
	p := principal(c)
	ctx := c.UserContext()
	u, err := s.store.User(ctx, p.UserID)
	if err != nil {
		return err
	}
	units, err := s.store.OfficerUnits(ctx, p.UserID)
	if err != nil {
		return err
	}
	out := meResponse{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Units: []assignedUnit{}}
	if u.StreetCode != "" {
		out.StreetCode = &u.StreetCode
	}
	if u.DistrictCode != "" {
		out.DistrictCode = &u.DistrictCode
	}
	for _, un := range units {
		out.Units = append(out.Units, assignedUnit{Code: un.Code, Name: un.Name, StreetCode: un.StreetCode, Cells: un.Cells})
	}
	return c.JSON(out)
}
