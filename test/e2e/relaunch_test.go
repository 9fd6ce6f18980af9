//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The relaunch checks: Restart of a process in no service (a transient
// unit of the real systemd 252) must never lend privilege, must run the
// very same argv and must keep the resource controls. Each check starts
// its target from a shell in the container (nsenter): such a process sits
// in no service unit, so Restart takes the relaunch path.

// installRelaunchProbe builds test/e2e/relaunchprobe for the container
// (once per run) and installs it as /usr/local/bin/roy-e2e-relaunchprobe.
func installRelaunchProbe(t *testing.T) string {
	t.Helper()
	const dst = "/usr/local/bin/roy-e2e-relaunchprobe"
	if ct.exists(dst) {
		return dst
	}
	installProbe(t, "./relaunchprobe", dst)
	return dst
}

// rlAlive says whether pid runs (and is not a zombie) in the container.
func rlAlive(pid int) bool {
	_, err := ct.run(10*time.Second, fmt.Sprintf("test -d /proc/%d && ! grep -q '^State:.*Z' /proc/%d/status", pid, pid))
	return err == nil
}

// rlStatus returns the value of one /proc/PID/status line ("Gid", "Uid", …).
func rlStatus(t *testing.T, pid int, key string) string {
	t.Helper()
	return ct.must(t, fmt.Sprintf("sed -n 's/^%s:[[:space:]]*//p' /proc/%d/status | tr -s '[:space:]' ' '", key, pid))
}

// busRestart calls Restart over the system bus as user ("root" for root)
// and returns busctl's output.
func busRestart(user string, pid int) (string, error) {
	pre := ""
	if user != "root" {
		pre = fmt.Sprintf("setpriv --reuid=%s --regid=%s --init-groups ", user, user)
	}
	return ct.run(60*time.Second, fmt.Sprintf(
		"%sbusctl call --allow-interactive-authorization=no org.roy.ProcWatch1 /org/roy/ProcWatch1 org.roy.ProcWatch1.Manager Restart u %d", pre, pid))
}

// busNewPID parses busctl's `us NEWPID "unit"` reply.
func busNewPID(t *testing.T, out string) (int, string) {
	t.Helper()
	m := regexp.MustCompile(`us (\d+) "([^"]*)"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("Restart reply %q", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n, m[2]
}

// rlWaitArgv waits until pid's argv is the content of file.
func rlWaitArgv(t *testing.T, pid int, file string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		out, _ := ct.run(5*time.Second, fmt.Sprintf("cat /proc/%d/cmdline | cmp -s - %s && echo same", pid, file))
		if strings.TrimSpace(out) == "same" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, _ := ct.run(5*time.Second, fmt.Sprintf("cat /srv/e2e-relaunch/probe.err; ls -l %s; od -c /proc/%d/cmdline | head; od -c %s | head", file, pid, file))
	t.Fatalf("process %d did not start with the argv of %s:\n%s", pid, file, out)
}

// checkRelaunchNoGroupLending (issue 8 item 1): a setgid program that made
// its gid real (setresgid(egid, egid, egid)), started by an unprivileged
// user with LD_PRELOAD in its environment. Restart over D-Bus as that user
// must be refused (polkit has no rule for him): relaunched with the group
// and without secure-exec, the preloaded library would run as group shadow.
// The same user may still restart a plain process of his own, and the
// copy gets no group he does not have.
func checkRelaunchNoGroupLending(t *testing.T) {
	probe := installRelaunchProbe(t)
	ct.must(t, `id -u pwdave >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin pwdave
install -d -m 1777 /srv/e2e-relaunch`)
	shadow := ct.must(t, "getent group shadow | cut -d: -f3")
	dave := ct.must(t, "id -g pwdave")
	sgid := "/usr/local/bin/roy-e2e-sgid"
	ct.must(t, fmt.Sprintf("cp %s %s && chown root:shadow %s && chmod 2755 %s", probe, sgid, sgid, sgid))
	defer ct.run(30*time.Second, "pkill -KILL -u pwdave; rm -f "+sgid)

	pid := atoi(t, ct.must(t, fmt.Sprintf(
		`cd /srv/e2e-relaunch && setpriv --reuid=pwdave --regid=pwdave --init-groups env LD_PRELOAD=/srv/e2e-relaunch/evil.so %s sgid </dev/null >/dev/null 2>&1 & echo $!`, sgid)))
	want := strings.Repeat(shadow+" ", 4)
	waitFor(t, "the setgid probe to make its gid real", 10*time.Second, func() bool {
		out, _ := ct.run(5*time.Second, fmt.Sprintf("sed -n 's/^Gid:[[:space:]]*//p' /proc/%d/status | tr -s '[:space:]' ' '", pid))
		return out == want
	})
	t.Logf("target %d: Uid %s / Gid %s", pid, rlStatus(t, pid, "Uid"), rlStatus(t, pid, "Gid"))

	out, err := busRestart("pwdave", pid)
	t.Logf("Restart as pwdave -> %v %s", err, strings.TrimSpace(out))
	if err == nil || !strings.Contains(out, "not authorized") {
		t.Errorf("pwdave restarting his setgid-shadow process: err=%v out=%q, want not authorized", err, out)
	}
	if !rlAlive(pid) {
		t.Fatalf("the refused restart stopped the target %d", pid)
	}
	if lent := ct.must(t, fmt.Sprintf("pgrep -u pwdave -G %s | grep -vx %d || true", shadow, pid)); lent != "" {
		t.Errorf("a process of pwdave with group shadow appeared: %s", lent)
	}

	// Control: his own plain process restarts, with his groups only.
	own := atoi(t, ct.must(t, `cd /srv/e2e-relaunch && setpriv --reuid=pwdave --regid=pwdave --init-groups sleep 4343 </dev/null >/dev/null 2>&1 & echo $!`))
	out, err = busRestart("pwdave", own)
	if err != nil {
		t.Fatalf("pwdave restarting his own sleep: %v %s", err, out)
	}
	np, unit := busNewPID(t, out)
	defer ct.run(20*time.Second, "systemctl stop "+unit)
	uids, gids, groups := rlStatus(t, np, "Uid"), rlStatus(t, np, "Gid"), rlStatus(t, np, "Groups")
	t.Logf("relaunched %d in %s: Uid %s Gid %s Groups %q", np, unit, uids, gids, groups)
	uid := ct.must(t, "id -u pwdave")
	if uids != strings.TrimSpace(strings.Repeat(uid+" ", 4)) || gids != strings.TrimSpace(strings.Repeat(dave+" ", 4)) {
		t.Errorf("relaunched as Uid %q Gid %q, want pwdave's %s/%s", uids, gids, uid, dave)
	}
	for _, g := range strings.Fields(groups) {
		if g != dave {
			t.Errorf("relaunched process has supplementary group %s that pwdave does not have", g)
		}
	}
}

// checkRelaunchArgvVerbatim (issue 8 item 2, issue 10 item 6): systemd
// expands $VAR and ${VAR} in ExecStart=; the relaunched argv must be the
// same bytes ($, ${}, $$, %, \, quotes, newlines), the environment too, and
// the process is exec'd through its argv[0] path (sh, not dash). An argv
// systemd cannot carry (not UTF-8) is refused before anything is stopped.
func checkRelaunchArgvVerbatim(t *testing.T) {
	probe := installRelaunchProbe(t)
	ct.must(t, "install -d -m 1777 /srv/e2e-relaunch")
	argv := []string{"sh", "-c", `sleep 3600; : "$@"`, "argzero",
		"$HOME", "${WORKDIR}/cache", "$$", "$", "a$", "%n %% %h %i", `back\slash \n \\`,
		`"double"`, `'single'`, "line1\nline2", "  spaces  ", "", "tab\there", "ünïcode"}
	file := "/srv/e2e-relaunch/argv.bin"
	if err := os.WriteFile(filepath.Join(ct.dir, file), []byte(strings.Join(argv, "\x00")+"\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	envVal := `a$HOME ${WORKDIR} $$ %n \x`
	pid := atoi(t, ct.must(t, fmt.Sprintf(
		`cd /srv/e2e-relaunch && env -i PATH=/usr/bin:/bin WORKDIR=/srv/e2e-relaunch 'E2E_DOLLAR=%s' setsid %s exec %s </dev/null >/dev/null 2>/srv/e2e-relaunch/probe.err & echo $!`, envVal, probe, file)))
	rlWaitArgv(t, pid, file)
	comm := ct.must(t, fmt.Sprintf("cat /proc/%d/comm", pid))
	out, err := busRestart("root", pid)
	if err != nil {
		t.Fatalf("Restart: %v %s", err, out)
	}
	np, unit := busNewPID(t, out)
	defer ct.run(20*time.Second, "systemctl stop "+unit)
	if same, _ := ct.run(5*time.Second, fmt.Sprintf("cat /proc/%d/cmdline | cmp - %s && echo same", np, file)); strings.TrimSpace(same) != "same" {
		got, _ := ct.run(5*time.Second, fmt.Sprintf("od -c /proc/%d/cmdline | head -20", np))
		t.Errorf("relaunched argv differs from the original (%s):\n%s", strings.TrimSpace(same), got)
	}
	if env := ct.must(t, fmt.Sprintf("tr '\\0' '\\n' < /proc/%d/environ | grep '^E2E_DOLLAR=' || true", np)); env != "E2E_DOLLAR="+envVal {
		t.Errorf("environment entry %q, want %q", env, "E2E_DOLLAR="+envVal)
	}
	if got := ct.must(t, fmt.Sprintf("cat /proc/%d/comm", np)); got != comm {
		t.Errorf("relaunched process is named %q, was %q (exec'd through the resolved exe, not argv[0])", got, comm)
	}

	// Not UTF-8: systemd's D-Bus API carries only UTF-8 strings. Refused
	// with a clear reason, and the target keeps running.
	bad := []string{"sh", "-c", `sleep 3600; : "$@"`, "argzero", "bad\xff\xfeutf8"}
	file2 := "/srv/e2e-relaunch/argv-bad.bin"
	if err := os.WriteFile(filepath.Join(ct.dir, file2), []byte(strings.Join(bad, "\x00")+"\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	pid2 := atoi(t, ct.must(t, fmt.Sprintf(
		`cd /srv/e2e-relaunch && setsid %s exec %s </dev/null >/dev/null 2>/srv/e2e-relaunch/probe.err & echo $!`, probe, file2)))
	defer ct.run(10*time.Second, fmt.Sprintf("kill -9 %d", pid2))
	rlWaitArgv(t, pid2, file2)
	code, r := restart(t, token(t), pid2)
	if code == 200 {
		if same, _ := ct.run(5*time.Second, fmt.Sprintf("cat /proc/%d/cmdline | cmp - %s && echo same", r.NewPID, file2)); strings.TrimSpace(same) != "same" {
			t.Errorf("non-UTF-8 argv relaunched as different bytes (pid %d)", r.NewPID)
		}
		ct.run(10*time.Second, fmt.Sprintf("kill -9 %d", r.NewPID))
	} else {
		if code != 409 || !strings.Contains(r.Error, "UTF-8") {
			t.Errorf("restart with a non-UTF-8 argv: %d %q, want 409 naming UTF-8", code, r.Error)
		}
		if !rlAlive(pid2) {
			t.Errorf("the refused restart stopped the target %d", pid2)
		}
	}
}

// checkRelaunchKeepsResources (issue 8 item 3): nice 19, hard and soft
// limits, oom_score_adj 200 and the user-65534.slice come back with the
// relaunched process (they were reset to nice 0, the defaults and
// system.slice).
func checkRelaunchKeepsResources(t *testing.T) {
	ct.must(t, "install -d -m 1777 /srv/e2e-relaunch")
	pid := atoi(t, ct.must(t, `cd /srv/e2e-relaunch && systemd-run --quiet --scope --slice=user-65534.slice -- choom -n 200 -- prlimit --nproc=50:50 --cpu=100:100 --nofile=77:88 --core=0:1024 -- nice -n 19 setpriv --reuid=65534 --regid=65534 --clear-groups sleep 4545 </dev/null >/dev/null 2>&1 & echo $!`))
	waitFor(t, "the target to exec sleep", 10*time.Second, func() bool {
		out, _ := ct.run(5*time.Second, fmt.Sprintf("cat /proc/%d/comm", pid))
		return strings.TrimSpace(out) == "sleep"
	})
	limits := func(pid int) string {
		return ct.must(t, fmt.Sprintf("grep -E '^Max (cpu time|processes|open files|core file size)' /proc/%d/limits | tr -s ' '", pid))
	}
	before := limits(pid)
	oom := ct.must(t, fmt.Sprintf("cat /proc/%d/oom_score_adj", pid))
	nice := ct.must(t, fmt.Sprintf("ps -o ni= -p %d", pid))
	cg := ct.must(t, fmt.Sprintf("cat /proc/%d/cgroup", pid))
	t.Logf("target %d: nice %s oom_score_adj %s cgroup %s\n%s", pid, nice, oom, cg, before)
	if nice != "19" || oom != "200" || !strings.Contains(cg, "/user-65534.slice/") {
		t.Fatalf("target set-up failed: nice %s oom %s cgroup %s", nice, oom, cg)
	}

	out, err := busRestart("root", pid)
	if err != nil {
		t.Fatalf("Restart: %v %s", err, out)
	}
	np, unit := busNewPID(t, out)
	defer ct.run(20*time.Second, "systemctl stop "+unit)
	if got := limits(np); got != before {
		t.Errorf("limits after relaunch:\n%s\nwant\n%s", got, before)
	}
	if got := ct.must(t, fmt.Sprintf("cat /proc/%d/oom_score_adj", np)); got != oom {
		t.Errorf("oom_score_adj %s, want %s", got, oom)
	}
	if got := ct.must(t, fmt.Sprintf("ps -o ni= -p %d", np)); got != nice {
		t.Errorf("nice %s, want %s", got, nice)
	}
	if got := ct.must(t, fmt.Sprintf("cat /proc/%d/cgroup", np)); !strings.Contains(got, "/user-65534.slice/") {
		t.Errorf("relaunched process left user-65534.slice: %s", got)
	}
	if got := rlStatus(t, np, "Uid"); got != "65534 65534 65534 65534" {
		t.Errorf("relaunched as Uid %q", got)
	}
}

// checkRelaunchExecFailure (issue 8 item 15): a transient unit whose exec
// fails (here 203/EXEC: the program lost its execute bits after it
// started) is a failed restart naming systemd's result, not `ok` with
// new_pid 0.
func checkRelaunchExecFailure(t *testing.T) {
	ct.must(t, "install -d -m 1777 /srv/e2e-relaunch && cp /usr/bin/sleep /srv/e2e-relaunch/e2e-sleep && chmod 755 /srv/e2e-relaunch/e2e-sleep")
	pid := atoi(t, ct.must(t, `cd /srv/e2e-relaunch && setpriv --reuid=65534 --regid=65534 --clear-groups /srv/e2e-relaunch/e2e-sleep 4646 </dev/null >/dev/null 2>&1 & echo $!`))
	waitFor(t, "the target to run", 10*time.Second, func() bool {
		out, _ := ct.run(5*time.Second, fmt.Sprintf("cat /proc/%d/comm", pid))
		return strings.TrimSpace(out) == "e2e-sleep"
	})
	ct.must(t, "chmod 000 /srv/e2e-relaunch/e2e-sleep")
	code, r := restart(t, token(t), pid)
	if code == 200 || r.OK {
		t.Errorf("restart whose exec fails: %d %+v, want a failure", code, r)
		if r.NewPID > 0 {
			ct.run(10*time.Second, fmt.Sprintf("kill -9 %d", r.NewPID))
		}
	}
	if !strings.Contains(r.Error, "203") && !strings.Contains(r.Error, "EXEC") {
		t.Errorf("error %q does not give systemd's result (203/EXEC)", r.Error)
	}
}
