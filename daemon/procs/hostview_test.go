package procs

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestExtrasFollowInspectRule: the detail's extras (I/O, limits, …) are
// there for callers who may inspect the process (root, its owner, the
// inspect authority) and absent for others.
func TestExtrasFollowInspectRule(t *testing.T) {
	hs := host.New(host.Options{})
	t.Cleanup(hs.Close)
	s := newCore(t, Options{Host: hs})
	ctx := context.Background()
	rootProc := testproc.Sleeper(t)
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	nobodyProc := testproc.Start(t, cmd).ReapInBackground()

	nobody := Caller{UID: 65534, Name: "nobody"}
	for _, tt := range []struct {
		name   string
		c      Caller
		pid    int
		extras bool
	}{
		{"root on root's", Caller{UID: 0, Name: "root"}, rootProc.PID, true},
		{"token on root's", Caller{Privileged: true, Name: "http"}, rootProc.PID, true},
		{"owner on its own", nobody, nobodyProc.PID, true},
		{"other uid on root's", nobody, rootProc.PID, false},
		{"authority says no", Caller{UID: 65534, Authorize: (&authorizer{ok: false}).fn}, rootProc.PID, false},
		{"authority says yes", Caller{UID: 65534, Authorize: (&authorizer{ok: true}).fn}, rootProc.PID, true},
	} {
		d, err := s.Get(ctx, tt.c, Target{PID: tt.pid})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (d.Extras != nil) != tt.extras {
			t.Errorf("%s: extras %v, want present=%v", tt.name, d.Extras, tt.extras)
		}
		if d.Extras != nil && len(d.Extras.Limits) == 0 {
			t.Errorf("%s: extras without limits", tt.name)
		}
	}
}

// TestProcessHistoryFromSnapshots: every snapshot adds a sample, an exited
// process's history is dropped, and a reused PID is another process.
func TestProcessHistoryFromSnapshots(t *testing.T) {
	hs := host.New(host.Options{})
	t.Cleanup(hs.Close)
	s := newCore(t, Options{Host: hs})
	ctx := context.Background()
	c := testproc.Sleeper(t)
	nobody := Caller{UID: 65534}
	for range 3 {
		if _, err := s.List(ctx, nobody, ListOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ser, err := s.ProcessHistory(ctx, nobody, Target{PID: c.PID})
	if err != nil || len(ser.Samples) < 3 || ser.PID != c.PID {
		t.Fatalf("history %+v %v", ser, err)
	}
	d, err := s.Get(ctx, nobody, Target{PID: c.PID})
	if err != nil || ser.CreateTime != d.CreateTime {
		t.Fatalf("create_time %v, detail %v (%v)", ser.CreateTime, d.CreateTime, err)
	}
	if _, err := s.ProcessHistory(ctx, nobody, Target{PID: c.PID, CreateTime: d.CreateTime + 100}); err == nil {
		t.Error("another create_time got this process's history")
	}
	ct := d.CreateTime
	_ = c.Kill()
	c.Wait()
	if _, err := s.List(ctx, nobody, ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := hs.ProcessHistory(c.PID, ct); ok {
		t.Error("the exited process's history was kept")
	}
	if _, err := s.ProcessHistory(ctx, nobody, Target{PID: c.PID}); KindOf(err) != KindNoSuchProcess {
		t.Errorf("history of an exited process: %v", err)
	}
}
