package grid

import "time"

// shanghaiZone is Asia/Shanghai. China keeps UTC+8 all year, so a fixed zone is exact and
// needs no time-zone database on the machine.
var shanghaiZone = time.FixedZone("CST", 8*3600)

// ShanghaiZone is the zone of every calendar date SafeGrid reads or writes (deadlines,
// report dates, "today" for overdue), and of times given without a zone.
func ShanghaiZone() *time.Location { return shanghaiZone }
