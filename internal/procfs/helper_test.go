package procfs

// Test helpers: an inventory with no snapshot caching, and small helpers
// over its list. The child processes (the test binary re-executed in a
// helper mode, or /bin/sleep and sh), killed and reaped by t.Cleanup, come
// from internal/testproc.

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

func TestMain(m *testing.M) {
	if os.Getenv(testproc.HelperEnv) == "swap" {
		runSwapHelper() // fdcache_test.go; exits
	}
	if os.Getenv(testproc.HelperEnv) == "uidswitch" {
		runUIDSwitchHelper() // handles_test.go; exits
	}
	testproc.RunHelperIfAsked()
	os.Exit(m.Run())
}

// newInv returns an inventory of /proc with no snapshot caching.
func newInv(t *testing.T) *Inventory {
	t.Helper()
	inv, err := NewInventory("/proc", time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inv.Close)
	return inv
}

// listAll is every process of a fresh snapshot, in PID order.
func listAll(t *testing.T, inv *Inventory) []Process {
	t.Helper()
	snap, err := inv.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap.Procs
}

func find(t *testing.T, ps []Process, pid int) *Process {
	t.Helper()
	for i := range ps {
		if ps[i].PID == pid {
			return &ps[i]
		}
	}
	return nil
}

func requireRoot(t *testing.T) { t.Helper(); testproc.RequireRoot(t) }
