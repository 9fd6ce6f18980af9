package procfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemTotalAndPercent(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "meminfo"), []byte("MemTotal:        8000000 kB\nMemFree: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	total := readMemTotal(dir)
	if total != 8000000<<10 {
		t.Fatalf("MemTotal %d", total)
	}
	if p := memPercent(2000000<<10, total); p != 25 {
		t.Errorf("memPercent = %v, want 25", p)
	}
	if p := memPercent(1, 0); p != 0 {
		t.Errorf("memPercent with no total = %v", p)
	}
	if readMemTotal(filepath.Join(dir, "missing")) != 0 {
		t.Error("MemTotal from a missing file")
	}
	if err := os.WriteFile(filepath.Join(dir, "meminfo"), []byte("MemFree: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if readMemTotal(dir) != 0 {
		t.Error("MemTotal from a file without it")
	}
}
