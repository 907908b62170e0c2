package grid

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// TimeLayout is how SafeGrid writes every timestamp (时间戳): RFC 3339 in UTC with
// milliseconds, 2026-12-02T10:14:19.778Z. Fractions below the millisecond are dropped,
// never rounded, so Go and PostgreSQL (TimeSQL) write the same instant the same way.
// Calendar dates (deadlines) are not timestamps: they are YYYY-MM-DD Shanghai dates.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t as TimeLayout says, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// TimeSQL is the SQL expression that writes the timestamptz expression expr as FormatTime
// does, for JSON that PostgreSQL builds (GeoJSON features) and for tile attributes; NULL
// stays NULL. expr is SQL text from the caller's own code, never client input.
func TimeSQL(expr string) string {
	return `to_char((` + expr + `) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
}

// Time is an instant as the service's JSON carries it: encoded as FormatTime writes it,
// decoded from any RFC 3339 time. It scans from a timestamptz column; a nullable column
// scans into a *Time.
type Time struct{ time.Time }

// TimeOf is t as a Time.
func TimeOf(t time.Time) Time { return Time{t} }

// MarshalJSON writes the time as a JSON string in TimeLayout.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// MarshalText writes the time in TimeLayout.
func (t Time) MarshalText() ([]byte, error) { return []byte(FormatTime(t.Time)), nil }

// String is the time in TimeLayout.
func (t Time) String() string { return FormatTime(t.Time) }

// ScanTimestamptz lets pgx scan a timestamptz into a Time. An infinite timestamp has no
// instant to write, so it is an error rather than a made-up time.
func (t *Time) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*t = Time{}
		return nil
	}
	if v.InfinityModifier != pgtype.Finite {
		return errInfiniteTime
	}
	t.Time = v.Time
	return nil
}

// TimestamptzValue lets a Time be bound as a timestamptz parameter.
func (t Time) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: t.Time, Valid: true}, nil
}

var errInfiniteTime = errors.New("grid: an infinite timestamp has no instant to write")
