package grid

import (
	"fmt"

	"github.com/uber/h3-go/v4"
)

// ParseCell reads an H3 cell id written in hex (the usual form, e.g. 8931aa42d2fffff).
func ParseCell(s string) (int64, error) {
	c := h3.Cell(h3.IndexFromString(s))
	if !c.IsValid() {
		return 0, fmt.Errorf("%q is not an H3 cell", s)
	}
	return int64(c), nil
}
