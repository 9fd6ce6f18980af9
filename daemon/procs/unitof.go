package procs

import (
	"os"
	"strconv"

	"github.com/roy/roy-procwatch/internal/procfs"
)

// UnitOf returns the systemd unit (service or scope) whose cgroup holds
// pid, or "" when there is none or the process is gone. It reads one small
// file (/proc/PID/cgroup), so callers label a bounded set of processes
// with it (the listeners and top processes of the metrics), never the whole
// inventory.
func (s *Service) UnitOf(pid int) string {
	if pid <= 0 {
		return ""
	}
	b, err := os.ReadFile(s.inv.ProcRoot() + "/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return ""
	}
	_, unit := procfs.ParseCgroup(b)
	return unit
}
