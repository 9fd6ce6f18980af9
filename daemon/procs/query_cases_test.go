package procs

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// The server's ?q= and the UI's search are one syntax: the cases of
// test/js/query-cases.json, which test/js/logic.test.mjs runs on the UI's
// logic, give the same processes here.
func TestQueryCasesShared(t *testing.T) {
	b, err := os.ReadFile("../../test/js/query-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Processes []Process
		Cases     []struct {
			Q    string
			PIDs []int
		}
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 10 || len(f.Processes) < 3 {
		t.Fatalf("%d cases on %d processes", len(f.Cases), len(f.Processes))
	}
	for _, c := range f.Cases {
		q := parseQuery(strings.ToLower(strings.TrimSpace(c.Q)))
		got := []int{}
		for i := range f.Processes {
			if q.empty() || matches(&f.Processes[i], q) {
				got = append(got, f.Processes[i].PID)
			}
		}
		if !slices.Equal(got, c.PIDs) {
			t.Errorf("q=%q: pids %v, want %v", c.Q, got, c.PIDs)
		}
	}
}
