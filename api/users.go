package api

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
)

// userInfo is a user as the admin API shows them (never a password or its hash).
type userInfo struct {
	Username     string   `json:"username"`
	DisplayName  string   `json:"display_name"`
	Role         string   `json:"role" enum:"admin,planner,district,street,officer"`
	StreetCode   string   `json:"street_code,omitempty" doc:"the street a street office user sees (9 digits); absent for other roles"`
	DistrictCode string   `json:"district_code,omitempty" doc:"the district a district bureau (区安监局) user sees (6 digits); absent for other roles"`
	Units        []string `json:"units" doc:"the codes of the grid units assigned to an officer (managed under /api/v1/grid/units); empty for other roles"`
	Disabled     bool     `json:"disabled" doc:"a disabled user cannot sign in"`
	CreatedAt    string   `json:"created_at" format:"date-time"`
	LastLoginAt  *string  `json:"last_login_at" format:"date-time" doc:"the last sign-in that gave a bearer token; null: never (HTTP Basic requests do not count)"`
	Sessions     int      `json:"sessions" doc:"live sessions: neither expired nor revoked"`
}

type userPage struct {
	Items []userInfo `json:"items"`
	Total int        `json:"total" doc:"users matching the filters, on all pages"`
}

// sessionInfo is a sign-in session; its token is never shown.
type sessionInfo struct {
	ID         int64   `json:"id" doc:"names the session for DELETE .../sessions/{id}"`
	CreatedAt  string  `json:"created_at" format:"date-time"`
	ExpiresAt  string  `json:"expires_at" format:"date-time"`
	LastSeenAt *string `json:"last_seen_at" format:"date-time" doc:"when the token was last used, to the minute; null: not since sign-in"`
	Revoked    bool    `json:"revoked" doc:"revoked by logout or an admin; the token is refused"`
}

type sessionPage struct {
	Items []sessionInfo `json:"items"`
	Total int           `json:"total" doc:"the user's unexpired sessions, on all pages"`
}

type createUserRequest struct {
	Username     string `json:"username" required:"true" doc:"2 to 64 letters, digits, '.', '_' or '-'; a removed user's name stays taken"`
	DisplayName  string `json:"display_name,omitempty" doc:"the name shown in the UI, at most 100 characters"`
	Role         string `json:"role" required:"true" enum:"admin,planner,district,street,officer"`
	StreetCode   string `json:"street_code,omitempty" doc:"required for the role street, refused for the others: a loaded 9-digit street"`
	DistrictCode string `json:"district_code,omitempty" doc:"required for the role district (区安监局), refused for the others: a loaded 6-digit district"`
	Password     string `json:"password,omitempty" doc:"absent: one is generated and returned once"`
}

type createUserResponse struct {
	User     userInfo `json:"user"`
	Password string   `json:"password,omitempty" doc:"the generated password, present only when the request had none; shown this once"`
}

type updateUserRequest struct {
	DisplayName  *string `json:"display_name,omitempty"`
	Role         *string `json:"role,omitempty" enum:"admin,planner,district,street,officer"`
	StreetCode   *string `json:"street_code,omitempty" doc:"for the role street; a role other than street clears it"`
	DistrictCode *string `json:"district_code,omitempty" doc:"for the role district; a role other than district clears it"`
}

type passwordRequest struct {
	Password string `json:"password,omitempty" doc:"the new password; absent (or an empty body): one is generated and returned once"`
}

type passwordResponse struct {
	Password string `json:"password,omitempty" doc:"the generated password, present only when the request had none"`
}

type changePasswordRequest struct {
	OldPassword string `json:"old_password" required:"true"`
	NewPassword string `json:"new_password" required:"true"`
}

// passwordRules is the password rules, for the OpenAPI document.
var passwordRules = fmt.Sprintf("Passwords have at least %d characters and at most 72 bytes, and are not the user name "+
	"or little more: with the name taken out (ignoring case), %d characters must remain.", grid.MinPasswordLength, grid.MinPasswordLength)

// userRoutes are the admin's 管理员 management of people and their sessions, and every
// user's own password change.
func (s *Server) userRoutes() {
	admin := []string{grid.RoleAdmin}
	tags := []string{"users"}
	name := PathParam("username", "the user's login name")
	notFound := []int{fiber.StatusNotFound}
	s.route(fiber.MethodGet, "/api/v1/admin/users", Operation{
		Summary: "Users", Description: "The users who are not removed, by username, filtered and paged. A filter that names " +
			"no loaded street or district is a 400, one that names no real role or grid unit a 422, each naming the parameter, not an empty list.",
		Tags: tags, Roles: admin, Response: userPage{},
		Params: []Param{
			{Name: "role", In: "query", Description: "only users of this role", Schema: Schema{"type": "string", "enum": grid.Roles()}},
			QueryParam("street", "string", "only this street's people (9-digit code): its street office users and the officers holding a grid unit in it"),
			QueryParam("district", "string", "only this district's people (6-digit code): its bureau users, the office users of its streets and the officers holding a grid unit in it"),
			QueryParam("unit", "string", "only the officer of this grid unit (its code)"),
			QueryParam("disabled", "boolean", "true: only disabled users; false: only enabled ones; absent: both"),
			QueryParam("q", "string", "a part of the username or display name, ignoring case"),
			LimitParam, OffsetParam,
		},
	}, s.listUsers)
	s.route(fiber.MethodPost, "/api/v1/admin/users", Operation{
		Summary: "Create a user",
		Description: "Without a password one is generated (26 random characters) and returned once in the answer. " +
			passwordRules + " A taken username is a 409.",
		Tags: tags, Roles: admin, Body: createUserRequest{}, Response: createUserResponse{}, Status: fiber.StatusCreated,
		Problems: []int{fiber.StatusConflict},
	}, s.createUser)
	s.route(fiber.MethodGet, "/api/v1/admin/users/:username", Operation{
		Summary: "One user", Tags: tags, Roles: admin, Response: userInfo{}, Params: []Param{name}, Problems: notFound,
	}, s.getUser)
	s.route(fiber.MethodPatch, "/api/v1/admin/users/:username", Operation{
		Summary: "Change a user's display name, role or street",
		Description: "Fields left out stay as they are. A role other than street clears the street; a role other than " +
			"officer leaves the user's grid units without an officer. You cannot change your own role, and the last " +
			"enabled admin keeps theirs (422).",
		Tags: tags, Roles: admin, Body: updateUserRequest{}, Response: userInfo{}, Params: []Param{name}, Problems: notFound,
	}, s.updateUser)
	s.route(fiber.MethodPost, "/api/v1/admin/users/:username/disable", Operation{
		Summary: "Disable a user",
		Description: "Revokes their sessions: neither their tokens nor their HTTP Basic credentials work from the next " +
			"request on. You cannot disable yourself, nor the last enabled admin (422).",
		Tags: tags, Roles: admin, Response: userInfo{}, Params: []Param{name}, Problems: notFound,
	}, s.disableUser)
	s.route(fiber.MethodPost, "/api/v1/admin/users/:username/enable", Operation{
		Summary: "Enable a user", Description: "They can sign in again; sessions revoked on disabling stay revoked.",
		Tags: tags, Roles: admin, Response: userInfo{}, Params: []Param{name}, Problems: notFound,
	}, s.enableUser)
	s.route(fiber.MethodPost, "/api/v1/admin/users/:username/password", Operation{
		Summary: "Reset a user's password",
		Description: "Sets the password given, or generates one and returns it once. Revokes all the user's sessions; " +
			"their old HTTP Basic credentials are refused from the next request on. " + passwordRules,
		Tags: tags, Roles: admin, Body: passwordRequest{}, Response: passwordResponse{}, Params: []Param{name}, Problems: notFound,
	}, s.resetPassword)
	s.route(fiber.MethodDelete, "/api/v1/admin/users/:username", Operation{
		Summary: "Remove a user",
		Description: "Keeps their history: the hazards they reported, their inspections and the audit log still name them. " +
			"They are disabled, their sessions revoked, their grid units left without an officer, and they are no " +
			"longer listed; their username stays taken. You cannot remove yourself, nor the last enabled admin (422).",
		Tags: tags, Roles: admin, Params: []Param{name}, Problems: notFound,
	}, s.removeUser)
	s.route(fiber.MethodGet, "/api/v1/admin/users/:username/sessions", Operation{
		Summary: "A user's sessions", Description: "The sessions that have not expired, live and revoked, newest first.",
		Tags: tags, Roles: admin, Response: sessionPage{}, Params: []Param{name, LimitParam, OffsetParam}, Problems: notFound,
	}, s.userSessions)
	s.route(fiber.MethodDelete, "/api/v1/admin/users/:username/sessions", Operation{
		Summary: "Revoke all of a user's sessions", Description: "Their tokens are refused from the next request on.",
		Tags: tags, Roles: admin, Params: []Param{name}, Problems: notFound,
	}, s.revokeSessions)
	s.route(fiber.MethodDelete, "/api/v1/admin/users/:username/sessions/:id", Operation{
		Summary: "Revoke one session", Description: "Its token is refused from the next request on. Revoking a revoked session again is a 204.",
		Tags: tags, Roles: admin, Params: []Param{name, PathParam("id", "the session's id (from the list)")}, Problems: notFound,
	}, s.revokeSession)
	s.route(fiber.MethodPost, "/api/v1/me/password", Operation{
		Summary: "Change your own password",
		Description: "old_password must be your current password: a wrong one is a 422 naming old_password (not a 401, so " +
			"you stay signed in); repeated wrong ones count towards the sign-in rate limit (429). Your other sessions are " +
			"revoked; this one stays. " + passwordRules,
		Tags: []string{"auth"}, Body: changePasswordRequest{}, Problems: []int{fiber.StatusTooManyRequests},
	}, s.changeOwnPassword)
}

// timeOrNull is grid.FormatTime of t, nil for nil.
func timeOrNull(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := grid.FormatTime(*t)
	return &s
}

func userOut(u *grid.User) userInfo {
	units := u.Units
	if units == nil {
		units = []string{}
	}
	return userInfo{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, StreetCode: u.StreetCode, DistrictCode: u.DistrictCode, Units: units,
		Disabled: u.Disabled, CreatedAt: grid.FormatTime(u.CreatedAt), LastLoginAt: timeOrNull(u.LastLoginAt), Sessions: u.Sessions}
}

func (s *Server) listUsers(c *fiber.Ctx) error {
	f := grid.UserFilter{Role: c.Query("role"), Unit: c.Query("unit"), Query: c.Query("q")}
	var err error
	// A street that is not loaded is a 400 like every admin filter's (areaFilter).
	if f.Street, err = s.areaFilter(c, "street", "street"); err != nil {
		return err
	}
	if f.District, err = s.areaFilter(c, "district", "district"); err != nil {
		return err
	}
	if raw := strings.TrimSpace(c.Query("disabled")); raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return FieldProblem("disabled", "must be true or false")
		}
		f.Disabled = &v
	}
	if f.Limit, f.Offset, err = s.page(c); err != nil {
		return err
	}
	users, total, err := s.store.Users(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := userPage{Items: make([]userInfo, len(users)), Total: total}
	for i := range users {
		out.Items[i] = userOut(&users[i])
	}
	return c.JSON(out)
}

func (s *Server) createUser(c *fiber.Ctx) error {
	var req createUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var out createUserResponse
	password := req.Password
	if password == "" {
		password = grid.GeneratePassword()
		out.Password = password
	}
	u := grid.User{Username: req.Username, DisplayName: req.DisplayName, Role: req.Role, StreetCode: req.StreetCode, DistrictCode: req.DistrictCode}
	if _, err := s.store.AddUser(c.UserContext(), principal(c).Actor(), u, password); err != nil {
		return err
	}
	made, err := s.store.UserByName(c.UserContext(), req.Username)
	if err != nil {
		return err
	}
	out.User = userOut(made)
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) getUser(c *fiber.Ctx) error {
	u, err := s.store.UserByName(c.UserContext(), c.Params("username"))
	if err != nil {
		return err
	}
	return c.JSON(userOut(u))
}

func (s *Server) updateUser(c *fiber.Ctx) error {
	var req updateUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ch := grid.UserChange{DisplayName: req.DisplayName, Role: req.Role, StreetCode: req.StreetCode, DistrictCode: req.DistrictCode}
	u, err := s.store.UpdateUser(c.UserContext(), principal(c).Actor(), c.Params("username"), ch)
	if err != nil {
		return err
	}
	return c.JSON(userOut(u))
}

func (s *Server) disableUser(c *fiber.Ctx) error { return s.setDisabled(c, true) }
func (s *Server) enableUser(c *fiber.Ctx) error  { return s.setDisabled(c, false) }

func (s *Server) setDisabled(c *fiber.Ctx, disabled bool) error {
	u, err := s.store.SetUserDisabled(c.UserContext(), principal(c).Actor(), c.Params("username"), disabled)
	if err != nil {
		return err
	}
	return c.JSON(userOut(u))
}

func (s *Server) resetPassword(c *fiber.Ctx) error {
	var req passwordRequest
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	var out passwordResponse
	if req.Password == "" {
		req.Password = grid.GeneratePassword()
		out.Password = req.Password
	}
	if err := s.store.SetPassword(c.UserContext(), principal(c).Actor(), c.Params("username"), req.Password); err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) removeUser(c *fiber.Ctx) error {
	if err := s.store.RemoveUser(c.UserContext(), principal(c).Actor(), c.Params("username")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) userSessions(c *fiber.Ctx) error {
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	sessions, total, err := s.store.UserSessions(c.UserContext(), c.Params("username"), limit, offset)
	if err != nil {
		return err
	}
	out := sessionPage{Items: make([]sessionInfo, len(sessions)), Total: total}
	for i, ss := range sessions {
		out.Items[i] = sessionInfo{ID: ss.ID, CreatedAt: grid.FormatTime(ss.CreatedAt), ExpiresAt: grid.FormatTime(ss.ExpiresAt),
			LastSeenAt: timeOrNull(ss.LastSeenAt), Revoked: ss.Revoked}
	}
	return c.JSON(out)
}

func (s *Server) revokeSessions(c *fiber.Ctx) error {
	if _, err := s.store.RevokeSessions(c.UserContext(), principal(c).Actor(), c.Params("username")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) revokeSession(c *fiber.Ctx) error {
	id, err := pathID(c, "session")
	if err != nil {
		return err
	}
	if err := s.store.RevokeSession(c.UserContext(), principal(c).Actor(), c.Params("username"), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) changeOwnPassword(c *fiber.Ctx) error {
	var req changePasswordRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	// A wrong old password is a guess at it: it counts like a failed sign-in.
	if wait := s.logins.retryAfter(p.Username, c.IP()); wait > 0 {
		return tooManyLogins(wait)
	}
	_, token, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	err := s.store.ChangePassword(c.UserContext(), p, strings.TrimSpace(token), req.OldPassword, req.NewPassword)
	if isOldPasswordWrong(err) {
		s.logins.fail(p.Username, c.IP())
	}
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func isOldPasswordWrong(err error) bool {
	var fe *grid.InvalidFieldsError
	return errors.As(err, &fe) && len(fe.Errors) == 1 && fe.Errors[0].Field == "old_password" && fe.Errors[0].Reason != "is required"
}
