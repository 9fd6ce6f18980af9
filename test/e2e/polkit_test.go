//go:build e2e

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkPolkitReal: the real polkitd decides for D-Bus callers (docs/security.md,
// cases A4, A6, A9). Three users: pwcarol owns the target, pwalice is
// granted org.roy.procwatch.signal by a rules.d file, pwbob is not. alice
// may signal carol's process, bob may not; alice's grant is for signal
// only; with polkit gone every non-root call is denied within a bounded
// time, and root still acts.
func checkPolkitReal(t *testing.T) {
	ct.must(t, `for u in pwalice pwbob pwcarol; do id -u $u >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin $u; done
mkdir -p /etc/polkit-1/rules.d
cat > /etc/polkit-1/rules.d/50-e2e-procwatch.rules <<'RULES'
polkit.addRule(function(action, subject) {
    if (action.id == "org.roy.procwatch.signal" && subject.user == "pwalice") {
        return polkit.Result.YES;
    }
});
RULES
systemctl restart polkit.service`)
	defer ct.run(60*time.Second, `rm -f /etc/polkit-1/rules.d/50-e2e-procwatch.rules
systemctl unmask --runtime polkit.service; systemctl restart polkit.service
pkill -KILL -u pwcarol || true`)

	target := func() int {
		t.Helper()
		out := ct.must(t, `setpriv --reuid=pwcarol --regid=pwcarol --clear-groups sh -c 'sleep 600 >/dev/null 2>&1 </dev/null & echo $!'`)
		return atoi(t, out)
	}
	alive := func(pid int) bool {
		_, err := ct.run(10*time.Second, fmt.Sprintf("test -d /proc/%d && ! grep -q '^State:.*Z' /proc/%d/status", pid, pid))
		return err == nil
	}
	// busctl as user, without interactive authorization (no agent here).
	call := func(user string, pid int, method, sig, arg string) (string, error) {
		return ct.run(60*time.Second, fmt.Sprintf(
			`setpriv --reuid=%s --regid=%s --clear-groups busctl call --allow-interactive-authorization=no org.roy.ProcWatch1 /org/roy/ProcWatch1 org.roy.ProcWatch1.Manager %s %s %d %s`,
			user, user, method, sig, pid, arg))
	}

	pid := target()
	if out, err := call("pwbob", pid, "Signal", "us", "TERM"); err == nil || !strings.Contains(out, "not authorized") {
		t.Errorf("pwbob signalling pwcarol's process: err=%v out=%q, want not authorized", err, out)
	}
	if !alive(pid) {
		t.Fatal("pwbob's refused call killed the target")
	}
	if out, err := call("pwalice", pid, "Renice", "ui", "10"); err == nil || !strings.Contains(out, "not authorized") {
		t.Errorf("pwalice renice (only signal granted): err=%v out=%q, want not authorized", err, out)
	}
	if out, err := call("pwalice", pid, "Signal", "us", "TERM"); err != nil {
		t.Fatalf("pwalice (granted org.roy.procwatch.signal) signalling pwcarol's process: %v %s", err, out)
	}
	waitFor(t, "pwcarol's process to exit after pwalice's TERM", 10*time.Second, func() bool { return !alive(pid) })

	// polkit gone: its activation fails, the daemon denies, quickly.
	ct.must(t, "systemctl mask --runtime polkit.service && systemctl stop polkit.service")
	pid = target()
	t0 := time.Now()
	out, err := call("pwalice", pid, "Signal", "us", "TERM")
	if err == nil || !strings.Contains(out, "not authorized") {
		t.Errorf("pwalice with polkit stopped: err=%v out=%q, want not authorized", err, out)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("denial with polkit stopped took %v", d)
	}
	if !alive(pid) {
		t.Fatal("target killed although polkit is gone")
	}
	// root needs no polkit.
	ct.must(t, "busctl call org.roy.ProcWatch1 /org/roy/ProcWatch1 org.roy.ProcWatch1.Manager Signal us "+strconv.Itoa(pid)+" KILL")
	waitFor(t, "pwcarol's process to exit after root's KILL", 10*time.Second, func() bool { return !alive(pid) })
}
