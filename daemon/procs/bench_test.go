package procs

// Benchmarks for the core's list path (filter and sort). The /proc reader's
// are in internal/procfs. Run them with
//
//	go test -run '^$' -bench . -benchmem ./daemon/procs/
//
// They time nothing that can fail the build: the figures go in the bench
// report (make bench prints the end-to-end ones).

import (
	"testing"

	"github.com/roy/roy-procwatch/internal/procfs/procfstest"
)

func BenchmarkFilterSort(b *testing.B) {
	all := procfstest.Processes(2000)
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
