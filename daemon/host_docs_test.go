package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHostDocExamples runs the curl examples of docs/host.md as written
// against a standalone daemon: its address for 127.0.0.1:8088, its token
// for $TOKEN. Each must succeed and print JSON.
func TestHostDocExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/test-deps.sh installs it)", tool)
		}
	}
	b, err := os.ReadFile("../docs/host.md")
	if err != nil {
		t.Fatal(err)
	}
	d := startStandalone(t)
	var n int
	for _, m := range regexp.MustCompile("(?ms)^```bash\n(.*?)^```").FindAllStringSubmatch(string(b), -1) {
		blk := strings.TrimSpace(m[1])
		if !strings.Contains(blk, "curl ") {
			continue // the token line, the busctl example (run by dbusiface's TestBusctl)
		}
		n++
		script := strings.ReplaceAll(blk, "http://127.0.0.1:8088", "http://"+d.addr)
		cmd := exec.Command("bash", "-o", "pipefail", "-c", script)
		cmd.Env = append(os.Environ(), "TOKEN="+d.token)
		out, err := cmd.Output()
		t.Logf("%s\n-> %.300s", blk, out)
		if err != nil {
			t.Errorf("docs/host.md example failed: %v\n%s", err, blk)
			continue
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Errorf("docs/host.md example did not print JSON: %v\n%s", err, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n < 3 {
		t.Errorf("only %d curl examples found in docs/host.md", n)
	}
}

// TestIdleExitWhileSampling: a request for the host overview starts the
// 1 s sampling, and the daemon still exits when idle (the sampling is not
// activity).
func TestIdleExitWhileSampling(t *testing.T) {
	ln, f := passedSocket(t)
	token := "idle-sampling-token-0123456789abcdef"
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0"`, daemonBin)
	cmd.Env = baseEnv(t, "LISTEN_FDS=1", "ROY_PROCWATCH_TOKEN="+token, "ROY_PROCWATCH_IDLE_EXIT=2s")
	cmd.ExtraFiles = []*os.File{f}
	d := start(t, cmd, ln.Addr().String(), token)
	d.waitReady()
	if code, body := d.api("GET", "/api/system", ""); code != 200 || body["cpu"] == nil {
		t.Fatalf("/api/system: %d %v", code, body)
	}
	if code := d.waitExit(20 * time.Second); code != 0 {
		t.Fatalf("idle exit code %d", code)
	}
	if !strings.Contains(d.stderr.String(), "reason=idle") {
		t.Errorf("log does not say it stopped for idleness:\n%s", d.stderr)
	}
}
