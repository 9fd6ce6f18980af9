package procfs

import (
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// cmdCached lists until pid's command line is in the cache, and returns it.
func cmdCached(t *testing.T, s *Inventory, pid int) []string {
	t.Helper()
	var got []string
	testproc.Poll(t, 10*time.Second, "the command line to be cached", func() bool {
		p := find(t, listAll(t, s), pid)
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.cmdCache[pid]
		if p != nil && ok {
			got = p.Cmdline
		}
		return ok
	})
	return got
}

// poisonCmd replaces pid's cached command line, changing its key with
// edit, so that the next list tells whether the cache was used.
func poisonCmd(s *Inventory, pid int, edit func(*cmdMemo)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cmdCache[pid]
	c.cmdline = []string{"poison"}
	edit(&c)
	s.cmdCache[pid] = c
}

// TestCmdCacheKey: a cached command line is used only for the same image
// and argv area (start time, stack start, arg_start, arg_end, comm), and
// never after fdFullRescan.
func TestCmdCacheKey(t *testing.T) {
	s := newInv(t)
	kid := testproc.Sleeper(t)
	want := cmdCached(t, s, kid.PID)
	if len(want) == 0 {
		t.Fatal("empty command line for the sleeper")
	}
	cmdline := func() []string { return find(t, listAll(t, s), kid.PID).Cmdline }

	// Control: the same key serves the cached value (poisoned here).
	poisonCmd(s, kid.PID, func(*cmdMemo) {})
	if got := cmdline(); !slices.Equal(got, []string{"poison"}) {
		t.Fatalf("unchanged process: command line %q, want the cached one", got)
	}
	for _, tc := range []struct {
		name string
		edit func(*cmdMemo)
	}{
		{"another start time (a reused PID)", func(c *cmdMemo) { c.startTicks++ }},
		{"another stack (an execve)", func(c *cmdMemo) { c.startStack += 4096 }},
		{"argv moved (PR_SET_MM_ARG_START)", func(c *cmdMemo) { c.argStart += 16 }},
		{"argv resized (PR_SET_MM_ARG_END)", func(c *cmdMemo) { c.argEnd += 16 }},
		{"another comm (PR_SET_NAME)", func(c *cmdMemo) { c.comm += "x" }},
	} {
		cmdCached(t, s, kid.PID)
		poisonCmd(s, kid.PID, tc.edit)
		if got := cmdline(); !slices.Equal(got, want) {
			t.Errorf("%s: command line %q, want %q read afresh", tc.name, got, want)
		}
	}
	// The bound: a build after fdFullRescan reads every command line.
	cmdCached(t, s, kid.PID)
	poisonCmd(s, kid.PID, func(*cmdMemo) {})
	s.mu.Lock()
	s.lastFull = time.Now().Add(-fdFullRescan - time.Second)
	s.mu.Unlock()
	if got := cmdline(); !slices.Equal(got, want) {
		t.Errorf("after fdFullRescan: command line %q, want %q read afresh", got, want)
	}
}

// TestCmdCacheExec: a process that execs the same program with other
// arguments (same PID, start time and comm) shows its new command line at
// once.
func TestCmdCacheExec(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	s := newInv(t)
	cmd := exec.Command(sh, "-c", `read x; exec "$0" -c 'echo again; read y' second-image`)
	kid, in, outp := testproc.StartPiped(t, cmd)
	if first := cmdCached(t, s, kid.PID); slices.Contains(first, "second-image") || !strings.Contains(strings.Join(first, " "), "read x") {
		t.Fatalf("first image's command line %q", first)
	}
	if _, err := io.WriteString(in, "\n"); err != nil {
		t.Fatal(err)
	}
	if l, _ := outp.ReadString('\n'); l != "again\n" {
		t.Fatalf("second shell said %q", l)
	}
	p := find(t, listAll(t, s), kid.PID)
	if p == nil || p.Name != "sh" {
		t.Fatalf("the exec'd shell: %+v", p)
	}
	if !slices.Contains(p.Cmdline, "second-image") {
		t.Errorf("command line %q after exec, want the new argv (stale cached one)", p.Cmdline)
	}
}

// TestCmdCacheRetitle: a process that retitles itself as perl's $0 does
// (argv rewritten, comm set) shows its new title at once.
func TestCmdCacheRetitle(t *testing.T) {
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("no perl")
	}
	s := newInv(t)
	cmd := exec.Command(perl, "-e", `$| = 1; print "up\n"; <STDIN>; $0 = "retitled worker"; print "done\n"; <STDIN>`)
	kid, in, out := testproc.StartPiped(t, cmd)
	if l, _ := out.ReadString('\n'); l != "up\n" {
		t.Fatalf("perl said %q", l)
	}
	if first := cmdCached(t, s, kid.PID); len(first) == 0 || first[0] != perl {
		t.Fatalf("before the retitle: %q", first)
	}
	if _, err := io.WriteString(in, "\n"); err != nil {
		t.Fatal(err)
	}
	if l, _ := out.ReadString('\n'); l != "done\n" {
		t.Fatalf("perl said %q", l)
	}
	if got := find(t, listAll(t, s), kid.PID).Cmdline; !slices.Equal(got, []string{"retitled worker"}) {
		t.Errorf("command line %q after $0 = ..., want [retitled worker]", got)
	}
}
