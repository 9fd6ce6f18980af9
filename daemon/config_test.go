package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestReadEnvFileChangesNoEnvironment: .env values come back as a map;
// the process environment is left alone.
func TestReadEnvFileChangesNoEnvironment(t *testing.T) {
	const k = "ROY_PROCWATCH_TEST_ONLY_SETTING"
	os.Unsetenv(k)
	vals, err := readEnvFile(strings.NewReader("# c\nexport " + k + "='a b'\nOTHER=x\nROY_PROCWATCH_PORT=\"9\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if vals[k] != "a b" || vals["ROY_PROCWATCH_PORT"] != "9" || len(vals) != 2 {
		t.Errorf("parsed %v", vals)
	}
	if _, set := os.LookupEnv(k); set {
		t.Error("readEnvFile set an environment variable")
	}
}

// TestDotEnvTrust (issue 8 item 13): a standalone daemon reads ./.env
// only when its own user (here root) owns it and group and others cannot
// write it; otherwise it warns and ignores the file (the token and the
// audit file it names are not used).
func TestDotEnvTrust(t *testing.T) {
	const envToken = "dotenv-token-0123456789abcdef0123456789"
	cases := []struct {
		name    string
		uid     int
		mode    os.FileMode
		trusted bool
		warn    string
	}{
		{"own 0600", os.Geteuid(), 0o600, true, ""},
		{"own 0644", os.Geteuid(), 0o644, true, ""},
		{"nobody 0600", 65534, 0o600, false, "owned by uid 65534"},
		{"own 0666", os.Geteuid(), 0o666, false, "writable by group or others"},
		{"own 0620", os.Geteuid(), 0o620, false, "writable by group or others"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.uid != os.Geteuid() && os.Geteuid() != 0 {
				t.Skip("needs root to give the file to another user")
			}
			dir := t.TempDir()
			audit := filepath.Join(dir, "audit-from-dotenv.log")
			envFile := filepath.Join(dir, ".env")
			if err := os.WriteFile(envFile, []byte("ROY_PROCWATCH_TOKEN="+envToken+"\nROY_PROCWATCH_AUDIT_FILE="+audit+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(envFile, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(envFile, tc.uid, -1); err != nil {
				t.Fatal(err)
			}
			port := testproc.FreePort(t)
			cmd := exec.Command(daemonBin)
			cmd.Env = baseEnv(t, "ROY_PROCWATCH_PORT="+strconv.Itoa(port))
			cmd.Dir = dir
			d := start(t, cmd, "127.0.0.1:"+strconv.Itoa(port), envToken)
			d.waitReady()
			code, _ := d.api("GET", "/api/signals", "")
			_, auditErr := os.Stat(audit)
			if tc.trusted {
				if code != 200 {
					t.Errorf("the .env token: %d, want 200", code)
				}
				if auditErr != nil {
					t.Errorf("the .env audit file was not used: %v", auditErr)
				}
				return
			}
			if code != 401 {
				t.Errorf("the token of an untrusted .env: %d, want 401", code)
			}
			if auditErr == nil {
				t.Error("the daemon created the audit file an untrusted .env named")
			}
			if !strings.Contains(d.stderr.String(), "level=WARN") || !strings.Contains(d.stderr.String(), tc.warn) {
				t.Errorf("no warning saying %q:\n%s", tc.warn, d.stderr)
			}
			if !strings.Contains(d.stdout.String(), "token: ") || strings.Contains(d.stdout.String(), envToken) {
				t.Errorf("console line %q: want a generated token", d.stdout)
			}
		})
	}
}
