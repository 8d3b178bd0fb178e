//go:build linux

package proc

import (
	"os"
	"strconv"
)

// ReadStat reads /proc/PID/stat of process pid. A process that is gone (reaped) gives an error
// for which errors.Is(err, fs.ErrNotExist) holds.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}
