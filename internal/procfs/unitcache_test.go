package procfs

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

func TestUnitOfCgroup(t *testing.T) {
	for in, want := range map[string]string{
		"0::/system.slice/nginx.service\n":                                         "nginx.service",
		"0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n": "foo.service",
		"0::/user.slice/user-1000.slice/session-3.scope\n":                         "session-3.scope",
		"0::/\n":             "",
		"0::/system.slice\n": "",
		"9:name=systemd:/system.slice/cron.service\n8:pids:/\n":                "cron.service",
		"1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n": "b.service",
		"": "",
	} {
		if got := unitOfCgroup([]byte(in)); got != want {
			t.Errorf("unitOfCgroup(%q) = %q, want %q", in, got, want)
		}
		if _, u := ParseCgroup([]byte(in)); u != unitOfCgroup([]byte(in)) {
			t.Errorf("ParseCgroup(%q) unit %q, the list's %q", in, u, unitOfCgroup([]byte(in)))
		}
	}
}

// The list's unit agrees with /proc/PID/cgroup for every process.
func TestListUnitMatchesCgroup(t *testing.T) {
	inv := newInv(t)
	kid := testproc.Sleeper(t)
	ps := listAll(t, inv)
	if find(t, ps, kid.PID) == nil {
		t.Fatal("the sleeper is not listed")
	}
	checked := 0
	for _, p := range ps {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.PID))
		if err != nil {
			continue // gone
		}
		if _, u := ParseCgroup(b); u != p.Unit && !p.KernelThread() {
			t.Errorf("pid %d (%s): unit %q, its cgroup says %q", p.PID, p.Name, p.Unit, u)
		}
		if p.KernelThread() && p.Unit != "" {
			t.Errorf("kernel thread %d: unit %q", p.PID, p.Unit)
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("only %d processes checked", checked)
	}
}

// cgroup2Mount is where the unified hierarchy is mounted ("" if nowhere).
func cgroup2Mount(t *testing.T) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fl := range fields {
			if fl == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" {
				return fields[4]
			}
		}
	}
	return ""
}

// The staleness rule of unitcache.go on real cgroup moves: a moved process
// keeps its cached unit until the next full build, or until an execve
// (comm changes); then it shows the cgroup it is in.
func TestUnitCacheFollowsMoves(t *testing.T) {
	requireRoot(t)
	mnt := cgroup2Mount(t)
	if mnt == "" {
		t.Skip("no cgroup2 mount")
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	here, ok := cgroupPath(b)
	if !ok {
		t.Skip("no unified cgroup line")
	}
	base := filepath.Join(mnt, string(here))
	unitA := fmt.Sprintf("roy-procwatch-test-a-%d.service", os.Getpid())
	unitB := fmt.Sprintf("roy-procwatch-test-b-%d.service", os.Getpid())
	for _, u := range []string{unitA, unitB} {
		dir := filepath.Join(base, u)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Skipf("cannot create a cgroup: %v", err)
		}
		// Runs after the child's kill (cleanups run last first).
		t.Cleanup(func() {
			testproc.Poll(t, 5*time.Second, "the test cgroup to empty", func() bool {
				return os.Remove(dir) == nil || os.IsNotExist(os.Remove(dir))
			})
		})
	}
	cmd := exec.Command("sh", "-c", "read x; exec sleep 3600")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	kid := testproc.Start(t, cmd)
	move := func(unit string) {
		t.Helper()
		err := os.WriteFile(filepath.Join(base, unit, "cgroup.procs"), []byte(strconv.Itoa(kid.PID)), 0)
		if err != nil {
			t.Skipf("cannot move a process between cgroups: %v", err)
		}
	}
	inv := newInv(t)
	unit := func() string {
		t.Helper()
		p := find(t, listAll(t, inv), kid.PID)
		if p == nil {
			t.Fatal("the child is not listed")
		}
		return p.Unit
	}
	move(unitA)
	if got := unit(); got != unitA {
		t.Fatalf("after the move to A: unit %q, want %q", got, unitA)
	}
	// Moved without an execve: the cached unit, until a full build.
	move(unitB)
	if got := unit(); got != unitA {
		t.Errorf("moved to B, before a full build: unit %q, want the cached %q", got, unitA)
	}
	inv.mu.Lock()
	inv.lastFull = time.Now().Add(-fdFullRescan - time.Second)
	inv.mu.Unlock()
	if got := unit(); got != unitB {
		t.Errorf("full build after the move to B: unit %q, want %q", got, unitB)
	}
	// Moved, then an execve (as systemd-run --scope does): read at once.
	move(unitA)
	if got := unit(); got != unitB {
		t.Errorf("moved to A, before a full build: unit %q, want the cached %q", got, unitB)
	}
	if _, err := in.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	testproc.Poll(t, 10*time.Second, "the child's execve", func() bool {
		c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", kid.PID))
		return strings.TrimSpace(string(c)) == "sleep"
	})
	if got := unit(); got != unitA {
		t.Errorf("after the execve: unit %q, want %q read afresh", got, unitA)
	}
}
