package dbusiface

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/daemon/units"
)

// ListServices and GetServiceJournal on a private bus with the project's
// policy, where systemd is not PID 1: anyone may call them (the policy lets
// them through), bad input is InvalidArgument, and the rest NoSystemd with
// the clear message. (Against a real systemd: the e2e test.)
func TestServicesMethodsWithoutSystemd(t *testing.T) {
	requireBus(t)
	if _, err := exec.LookPath("busctl"); err != nil {
		t.Skip("busctl not installed (systemd)")
	}
	b := startBus(t)
	b.srv.SetUnits(units.New(units.Options{Available: func() bool { return false }, Logger: testLogger(t)}))
	call := func(asNobody bool, args ...string) (string, error) {
		full := append([]string{"--address=" + b.addr, "call", BusName, string(ObjectPath), Interface}, args...)
		cmd := exec.Command("busctl", full...)
		if asNobody {
			cmd = exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "busctl"}, full...)...)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, nobody := range []bool{false, true} {
		out, err := call(nobody, "ListServices", "ss", "", "")
		if err == nil || !strings.Contains(out, "systemd is not running on this host") {
			t.Errorf("ListServices (nobody=%v): %v %s", nobody, err, out)
		}
		out, err = call(nobody, "GetServiceJournal", "su", "bad name", "10")
		if err == nil || !strings.Contains(out, "invalid unit name") {
			t.Errorf("GetServiceJournal bad name (nobody=%v): %v %s", nobody, err, out)
		}
	}
	// The error names, through godbus.
	obj := b.root.Object(BusName, ObjectPath)
	if err := obj.Call(Interface+".GetServiceJournal", 0, "nginx.service", uint32(5000)).Err; err == nil || !strings.Contains(err.Error(), "invalid lines") {
		t.Errorf("GetServiceJournal lines 5000: %v", err)
	}
	if n := nameOf(obj.Call(Interface+".ListServices", 0, "", "").Err); n != ErrNoSystemd {
		t.Errorf("ListServices error name %q, want %s", n, ErrNoSystemd)
	}
	if n := nameOf(obj.Call(Interface+".GetServiceJournal", 0, "x", uint32(1)).Err); n != ErrInvalidArgument {
		t.Errorf("GetServiceJournal error name %q, want %s", n, ErrInvalidArgument)
	}
}

func nameOf(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	return ""
}
