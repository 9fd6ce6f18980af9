//go:build e2e

package e2e

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// checkHostOverview: the host overview under the service's sandbox
// (PrivateNetwork=, ProtectSystem=strict, the seccomp filter): every CPU
// of the container has its entry, the memory total is /proc/meminfo's,
// the interfaces are those of PID 1's network namespace (not the
// daemon's private one), the history and GetSystem answer.
func checkHostOverview(t *testing.T) {
	tok := token(t)
	code, b, err := api("GET", "/api/system", tok, "")
	if err != nil || code != 200 {
		t.Fatalf("GET /api/system: %d %v %.300s", code, err, b)
	}
	var sys struct {
		Hostname string `json:"hostname"`
		Kernel   string `json:"kernel"`
		CPU      struct {
			PerCore []map[string]float64 `json:"per_core"`
		} `json:"cpu"`
		Memory struct {
			Total uint64 `json:"total"`
		} `json:"memory"`
		Tasks struct {
			Total int `json:"total"`
		} `json:"tasks"`
		Net []struct {
			Iface string `json:"iface"`
		} `json:"net"`
	}
	if err := json.Unmarshal(b, &sys); err != nil {
		t.Fatalf("/api/system JSON: %v: %.300s", err, b)
	}
	if n := atoi(t, ct.must(t, "grep -c '^cpu[0-9]' /proc/stat")); len(sys.CPU.PerCore) != n {
		t.Errorf("per_core has %d entries, /proc/stat %d CPUs", len(sys.CPU.PerCore), n)
	}
	if kb := ct.must(t, "awk '/^MemTotal:/ {print $2}' /proc/meminfo"); strconv.FormatUint(sys.Memory.Total>>10, 10) != kb {
		t.Errorf("memory.total %d, MemTotal %s kB", sys.Memory.Total, kb)
	}
	if sys.Hostname == "" || sys.Kernel == "" || sys.Tasks.Total == 0 {
		t.Errorf("figures missing: %.300s", b)
	}
	var got []string
	for _, n := range sys.Net {
		got = append(got, n.Iface)
	}
	var want []string
	for _, n := range strings.Fields(ct.must(t, "ls /sys/class/net")) {
		if n != "lo" {
			want = append(want, n)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("net lists %q, PID 1's namespace has %q", got, want)
	}
	if code, b, err := api("GET", "/api/system/history", tok, ""); err != nil || code != 200 || !strings.Contains(string(b), `"points":[{`) {
		t.Errorf("GET /api/system/history: %d %v %.300s", code, err, b)
	}
	out := ct.must(t, "busctl --timeout=15 call org.roy.ProcWatch1 /org/roy/ProcWatch1 org.roy.ProcWatch1.Manager GetSystem")
	if !strings.HasPrefix(out, "a{sv} ") || !strings.Contains(out, `"per_core"`) {
		t.Errorf("busctl GetSystem: %.300s", out)
	}
}
