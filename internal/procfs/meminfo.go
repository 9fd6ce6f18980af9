package procfs

import (
	"bytes"
	"math"
)

// memPercent is RSS as a share of the host's memory, in percent (two
// decimals).
func memPercent(rss, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return math.Round(float64(rss)/float64(total)*10000) / 100
}

// readMemTotal is MemTotal of /proc/meminfo (its first line) in bytes, 0
// when unreadable.
func readMemTotal(procRoot string) uint64 {
	b, err := readFileInto(procRoot+"/meminfo", make([]byte, 0, 256), 256, true)
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	v, ok := bytes.CutPrefix(line, []byte("MemTotal:"))
	if !ok {
		return 0
	}
	kb, ok := atoiBytes(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB")))
	if !ok || kb <= 0 {
		return 0
	}
	return uint64(kb) << 10
}
