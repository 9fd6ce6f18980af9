package host

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// readPressure reads /proc/pressure/{cpu,memory,io} (gopsutil has no PSI
// reader). Lines look like
//
//	some avg10=0.12 avg60=0.05 avg300=0.01 total=123456
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//
// A missing file (kernel without PSI) leaves its resource out.
func readPressure(procRoot string) map[string]Pressure {
	out := map[string]Pressure{}
	for _, res := range []string{"cpu", "memory", "io"} {
		b, err := os.ReadFile(filepath.Join(procRoot, "pressure", res))
		if err != nil {
			continue
		}
		var p Pressure
		ok := false
		for _, line := range strings.Split(string(b), "\n") {
			kind, rest, found := strings.Cut(line, " ")
			if !found {
				continue
			}
			pl, good := parsePressureLine(rest)
			if !good {
				continue
			}
			switch kind {
			case "some":
				p.Some, ok = pl, true
			case "full":
				full := pl
				p.Full = &full
			}
		}
		if ok {
			out[res] = p
		}
	}
	return out
}

func parsePressureLine(s string) (PressureLine, bool) {
	var pl PressureLine
	n := 0
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "avg10":
			pl.Avg10, err = strconv.ParseFloat(v, 64)
		case "avg60":
			pl.Avg60, err = strconv.ParseFloat(v, 64)
		case "avg300":
			pl.Avg300, err = strconv.ParseFloat(v, 64)
		case "total":
			pl.Total, err = strconv.ParseUint(v, 10, 64)
		default:
			continue
		}
		if err != nil {
			return PressureLine{}, false
		}
		n++
	}
	return pl, n == 4
}
