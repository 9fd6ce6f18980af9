package dbusiface

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

// refusedCounts sums the count of the summary lines of refusals made by
// the D-Bus adapter, by reason, and counts the core's own audit lines of
// refused actions, by result.
func refusedCounts(recs []map[string]any) (summaries, refused map[string]int) {
	summaries, refused = map[string]int{}, map[string]int{}
	for _, r := range recs {
		switch r["msg"] {
		case "calls refused", "authentication refused":
			if r["caller"] == "dbus" {
				summaries[r["arg"].(string)] += int(r["count"].(float64))
			}
		case "action refused or failed":
			refused[r["result"].(string)]++
		}
	}
	return summaries, refused
}

// waitAudit polls the audit file after off until the D-Bus refusal
// summaries add up to want (they are written when their window ends).
func (b *testBus) waitAudit(t *testing.T, off int, want int) (summaries, refused map[string]int) {
	t.Helper()
	testproc.Poll(t, 5*time.Second, fmt.Sprintf("summary audit lines of %d refused calls", want), func() bool {
		recs, _ := testproc.JSONLines(t, b.audit, off)
		summaries, refused = refusedCounts(recs)
		n := 0
		for _, c := range summaries {
			n += c
		}
		return n >= want
	})
	return summaries, refused
}

// TestUnknownCallerAudited: a call whose sender the bus cannot name is
// refused before the core, and counted into a summary audit line.
func TestUnknownCallerAudited(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	svc, err := procs.New(procs.Options{SnapshotTTL: time.Millisecond, AuditFile: path, RefusalWindow: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s := New(svc, testLogger(t), "v")
	defer s.Close()
	s.lookupUID = func(context.Context, *dbus.Conn, string) (uint32, error) {
		return 0, errors.New("the name has gone")
	}
	m := &manager{s: s}
	for range 3 {
		if err := m.Signal(":1.77", dbus.Message{}, uint32(os.Getpid()), "CONT"); err == nil || err.Name != ErrAccessDenied {
			t.Fatalf("Signal from an unknown caller: %v, want AccessDenied", err)
		}
	}
	svc.Close() // writes the pending summary
	recs, _ := testproc.JSONLines(t, path, 0)
	if len(recs) != 1 {
		t.Fatalf("%d audit lines, want the one summary: %v", len(recs), recs)
	}
	r := recs[0]
	if r["msg"] != "authentication refused" || r["caller"] != "dbus" || r["arg"] != "cannot identify the caller" ||
		r["remote"] != ":1.77" || r["count"] != float64(3) || r["result"] != "AccessDenied" {
		t.Errorf("summary line %v", r)
	}
}
