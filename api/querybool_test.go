package api

import (
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// queryBool is the one reader of boolean query parameters (imports' skip_invalid, repair,
// ignore_unknown; hot spots' weighted, fdr): absent is false, spaces around the value are
// ignored, anything but a boolean is a 422 naming the parameter.
func TestQueryBool(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(toProblem(c.UserContext(), err).Status).SendString(err.Error())
	}})
	app.Get("/", func(c *fiber.Ctx) error {
		v, err := queryBool(c, "flag")
		if err != nil {
			return err
		}
		if v {
			return c.SendString("true")
		}
		return c.SendString("false")
	})
	for _, tc := range []struct {
		query, want string
		status      int
	}{
		{"", "false", 200}, {"?flag=true", "true", 200}, {"?flag=1", "true", 200}, {"?flag=false", "false", 200},
		{"?flag=%20true%20", "true", 200}, {"?flag=maybe", "flag: must be true or false", 422}, {"?flag=2x", "flag: must be true or false", 422},
	} {
		resp, err := app.Test(httptest.NewRequest("GET", "/"+tc.query, nil))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 200)
		n, _ := resp.Body.Read(buf)
		if resp.StatusCode != tc.status || (tc.status == 200 && string(buf[:n]) != tc.want) {
			t.Errorf("%q: %d %q, want %d %q", tc.query, resp.StatusCode, buf[:n], tc.status, tc.want)
		}
	}
}
