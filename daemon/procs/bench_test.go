package procs

// Benchmarks for the core's list path (filter and sort). The /proc reader's
// are in internal/procfs. Run them with
//
//	go test -run '^$' -bench . -benchmem ./daemon/procs/
//
// They time nothing that can fail the build: the figures go in the bench
// report (make bench prints the end-to-end ones).

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchProcesses returns n synthetic processes shaped like a busy host's.
func benchProcesses(n int) []Process {
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"sleep", "bash", "sshd", "nginx", "postgres", "python3", "systemd", "kworker/0:1", "node", "java"}
	users := []string{"root", "www-data", "postgres", "roy", "nobody"}
	out := make([]Process, n)
	for i := range out {
		name := names[r.IntN(len(names))]
		out[i] = Process{
			PID:            1000 + i,
			PPID:           1 + r.IntN(1000),
			Name:           name,
			Exe:            "/usr/bin/" + name,
			Username:       users[r.IntN(len(users))],
			Status:         "sleeping",
			CreateTime:     1.7e9 + float64(r.IntN(1e6)),
			CreateTimeISO:  "2026-11-29T01:02:03",
			CPUPercent:     float64(int64(r.Float64()*float64(r.IntN(3))*100+0.5)) / 100,
			MemoryRSS:      uint64(r.IntN(200<<20)) &^ 4095,
			Nice:           r.IntN(5),
			Threads:        1 + r.IntN(8),
			Cmdline:        []string{"/usr/bin/" + name, "--config", fmt.Sprintf("/etc/%s/%d.conf", name, i)},
			Ports:          []Port{},
			OpenFilesCount: r.IntN(20),
		}
		if i%4 == 0 {
			out[i].Ports = []Port{{Local: fmt.Sprintf("127.0.0.1:%d", 20000+i), Status: "LISTEN", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 20000 + i}}
		}
	}
	return out
}

func BenchmarkFilterSort(b *testing.B) {
	all := benchProcesses(2000)
	for _, tc := range []struct{ name, q, sort, order string }{
		{"default", "", "cpu", "desc"},
		{"name", "", "name", "asc"},
		{"query", "post", "cpu", "desc"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o, err := ListOptions{Query: tc.q, Sort: tc.sort, Order: tc.order}.normalize()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				filterSort(all, o)
			}
		})
	}
}
