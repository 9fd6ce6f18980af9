package procs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readLines returns the lines of path; every line must be whole (end in \n).
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("%s ends in a partial line: %q", path, b[len(b)-min(len(b), 40):])
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestAuditFileRotation: past the cap the file becomes <path>.1 and a new
// one starts; no line is lost, split or duplicated among the kept ones,
// both files stay under the cap and 0600, and only one old file is kept.
func TestAuditFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	const max = 1000
	a, err := openAuditFile(path, max)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := 0; i < n; i++ {
		line := fmt.Sprintf("{\"n\":%d,\"pad\":%q}\n", i, strings.Repeat("x", 40+i%30))
		if w, err := a.Write([]byte(line)); err != nil || w != len(line) {
			t.Fatalf("write %d: %d %v", i, w, err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("want audit.log and audit.log.1, got %v", entries)
	}
	var kept []string
	for _, p := range []string{path + ".1", path} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > max {
			t.Errorf("%s is %d bytes, over the cap %d", p, fi.Size(), max)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
		}
		kept = append(kept, readLines(t, p)...)
	}
	// The kept lines are the last ones written, in order, without a gap.
	for i, l := range kept {
		var rec struct{ N int }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("kept line %d is not JSON: %v: %s", i, err, l)
		}
		if want := n - len(kept) + i; rec.N != want {
			t.Fatalf("kept line %d is record %d, want %d (lost or reordered lines)", i, rec.N, want)
		}
	}
	total := 0
	for _, l := range kept {
		total += len(l) + 1
	}
	if total < max {
		t.Errorf("only %d bytes kept, want at least the last %d", total, max)
	}
}

// TestAuditFileRotationCountsExistingSize: a daemon restarted on a nearly
// full file rotates on its first line instead of starting from zero.
func TestAuditFileRotationCountsExistingSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	old := strings.Repeat("{\"old\":true}\n", 70) // 910 bytes
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := openAuditFile(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte(strings.Repeat("y", 99) + "\n")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if b, _ := os.ReadFile(path + ".1"); string(b) != old {
		t.Errorf("audit.log.1 is not the old file (%d bytes)", len(b))
	}
	if l := readLines(t, path); len(l) != 1 {
		t.Errorf("new audit.log has %d lines, want 1", len(l))
	}
}

// TestAuditFileNoRotation: a negative cap never rotates.
func TestAuditFileNoRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := openAuditFile(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := a.Write([]byte(strings.Repeat("z", 99) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Errorf("rotated without a cap: %v", err)
	}
	if l := readLines(t, path); len(l) != 50 {
		t.Errorf("%d lines, want 50", len(l))
	}
}

// TestAuditFileRotationThroughTheCore: the core's audit lines (here refused
// signals to PID 1) rotate under Options.AuditMaxSize, each kept line whole.
func TestAuditFileRotationThroughTheCore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s := newCore(t, Options{AuditFile: path, AuditMaxSize: 2000})
	t.Cleanup(func() { s.Close() })
	for i := 0; i < 40; i++ {
		_, err := s.Signal(context.Background(), root, Target{PID: 1}, "CONT")
		wantKind(t, "signal PID 1", err, ErrAccessDenied)
	}
	var kept []string
	for _, p := range []string{path + ".1", path} {
		if fi, err := os.Stat(p); err != nil || fi.Size() > 2000 {
			t.Fatalf("%s: %v (size over 2000?)", p, err)
		}
		kept = append(kept, readLines(t, p)...)
	}
	if len(kept) == 0 || len(kept) >= 40 {
		t.Fatalf("%d lines kept of 40 with a 2000-byte cap: no rotation?", len(kept))
	}
	for i, l := range kept {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["action"] != "signal" || rec["result"] != "AccessDenied" {
			t.Errorf("kept line %d: %v %s", i, err, l)
		}
	}
}
