// Package procfstest makes process lists for the benchmarks of the
// packages above the /proc reader: synthetic, so that a figure does not
// depend on the host the bench runs on. For tests only.
package procfstest

import (
	"fmt"
	"math/rand/v2"

	"github.com/roy/roy-procwatch/internal/procfs"
)

// Processes returns n synthetic processes shaped like a busy host's list,
// the same n for the same call: one in four has a listening port and an
// established connection.
func Processes(n int) []procfs.Process {
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"sleep", "bash", "sshd", "nginx", "postgres", "python3", "systemd", "kworker/0:1", "node", "java"}
	users := []string{"root", "www-data", "postgres", "roy", "nobody"}
	out := make([]procfs.Process, n)
	for i := range out {
		name := names[r.IntN(len(names))]
		out[i] = procfs.Process{
			PID:            1000 + i,
			PPID:           1 + r.IntN(1000),
			Name:           name,
			Exe:            "/usr/bin/" + name,
			Username:       users[r.IntN(len(users))],
			Status:         "sleeping",
			CreateTime:     1.7e9 + float64(r.IntN(1e6)) + 0.37,
			CreateTimeISO:  "2026-11-29T01:02:03",
			CPUPercent:     float64(r.IntN(300)) / 100,
			MemoryRSS:      uint64(r.IntN(200<<20)) &^ 4095,
			Nice:           r.IntN(5),
			Threads:        1 + r.IntN(8),
			Cmdline:        []string{"/usr/bin/" + name, "--config", fmt.Sprintf("/etc/%s/%d.conf", name, i)},
			Ports:          []procfs.Port{},
			OpenFilesCount: r.IntN(20),
		}
		if i%4 == 0 {
			remote := fmt.Sprintf("127.0.0.1:%d", 40000+i)
			out[i].Ports = []procfs.Port{
				{Local: fmt.Sprintf("127.0.0.1:%d", 20000+i), Status: "LISTEN", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 20000 + i},
				{Local: fmt.Sprintf("127.0.0.1:%d", 20000+i), Remote: &remote, Status: "ESTABLISHED", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 20000 + i},
			}
		}
	}
	return out
}
