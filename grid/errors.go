package grid

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Errors the HTTP layer maps to status codes in one place (api/errors.go). Return them
// (wrapped with %w if you like) instead of choosing a status in a handler.
var (
	// ErrBadCredentials: unknown user, wrong password or disabled account. One error for
	// all three, so a caller cannot tell which usernames exist (401).
	ErrBadCredentials = errors.New("wrong username or password")
	// ErrInvalidToken: a bearer token that is unknown, expired or revoked (401).
	ErrInvalidToken = errors.New("the token is invalid, expired or revoked")
	// ErrForbidden: the caller is signed in but the thing is outside their role or scope (403).
	ErrForbidden = errors.New("outside the caller's role or scope")
	// ErrConflict: the row changed since the caller read it, or the write collides with
	// another row (409). Wrap it to say what collided.
	ErrConflict = errors.New("conflict")
	// ErrDuplicate: a write collides with an existing row's unique key (409); see Typed.
	ErrDuplicate = errors.New("this conflicts with an existing record")
	// ErrTimeout: a statement ran past its time limit (503: try again, or ask for less);
	// see Typed.
	ErrTimeout = errors.New("the request took too long")
	// ErrTooLong: a value is longer than the database can store or index (a text past a
	// btree entry's 2,704 bytes); 422. The fields' own limits (Field.MaxLen, the API's
	// maxLength) keep values far below it: this is the backstop. See Typed.
	ErrTooLong = errors.New("a value is too long to be stored: shorten it")
)

// Typed returns err as the typed error above that it stands for when it came from the
// database, wrapping it: a statement timeout is ErrTimeout, a unique violation
// ErrDuplicate. Anything else comes back as it is. The HTTP layer passes every error
// through it, so SQLSTATEs stay inside grid.
func Typed(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57014": // query_canceled: statement_timeout
			return fmt.Errorf("%w: %w", ErrTimeout, err)
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", ErrDuplicate, err)
		case "54000": // program_limit_exceeded: an index row too large
			return fmt.Errorf("%w: %w", ErrTooLong, err)
		}
	}
	return err
}

// NotFoundError says which thing was asked for and is not there (404 from the API; the
// CLI prints it as is).
type NotFoundError struct {
	What string // "officer", "grid unit", "hazard", ...
	Key  string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.What, e.Key) }

// InvalidError is a value the caller sent that cannot be accepted, naming the field
// (422 from the API, with the field in the problem's errors).
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// TooBroadError is an analysis that did not finish in time over everything the request
// selects (422 from the API): retrying will not help, a narrower request will.
type TooBroadError struct {
	What string // "hazard clustering"
	Hint string // how to narrow the request
	Err  error
}

func (e *TooBroadError) Error() string {
	return fmt.Sprintf("%s did not finish in time: the request selects too much; %s", e.What, e.Hint)
}

func (e *TooBroadError) Unwrap() error { return e.Err }

// InvalidFieldsError is several refused fields at once (422 naming each).
type InvalidFieldsError struct{ Errors []InvalidError }

func (e *InvalidFieldsError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

// UnknownKindError names a kind that does not exist (404 from the API).
type UnknownKindError struct{ Name string }

func (e *UnknownKindError) Error() string {
	names := KindNames()
	return fmt.Sprintf("unknown kind %q (known: %s)", e.Name, strings.Join(names, ", "))
}
