package procfs

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// CPUModes names the columns of the "cpu" line of /proc/stat, in order.
var CPUModes = []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

// CPUSeconds reads the host's CPU time by mode, summed over every CPU,
// since boot (the "cpu" line of /proc/stat; guest time is already in user
// and nice, so it is not counted twice).
func CPUSeconds(procRoot string) (map[string]float64, error) {
	b, err := os.ReadFile(procRoot + "/stat")
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 1+len(CPUModes) || f[0] != "cpu" {
		return nil, errors.New("malformed /proc/stat: no cpu line")
	}
	out := make(map[string]float64, len(CPUModes))
	for i, m := range CPUModes {
		v, err := strconv.ParseUint(f[1+i], 10, 64)
		if err != nil {
			return nil, errors.New("malformed /proc/stat cpu line")
		}
		out[m] = float64(v) / ClockTicks
	}
	return out, nil
}
