package ptrace

import (
	"fmt"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

// fmtSscanf parses the address range at the start of a /proc/PID/maps line.
func fmtSscanf(line string, lo, hi *uint64) (int, error) {
	return fmt.Sscanf(line, "%x-%x", lo, hi)
}
