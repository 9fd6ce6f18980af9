//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// container is a Debian rootfs booted with systemd-nspawn. It shares the
// host network namespace, so 127.0.0.1:8088 inside is 127.0.0.1:8088 here.
type container struct {
	dir    string // rootfs
	nspawn *exec.Cmd
	pid1   int // the container's systemd, as seen from the host
	log    *os.File
	done   chan struct{}
}

// bootContainer extracts the cached rootfs tarball and boots it.
func bootContainer(rootfsTar, pidfile string) (*container, error) {
	base := os.Getenv("E2E_WORKDIR")
	if base == "" {
		base = "/var/tmp"
	}
	dir, err := os.MkdirTemp(base, "roy-e2e-")
	if err != nil {
		return nil, err
	}
	c := &container{dir: dir, done: make(chan struct{})}
	t0 := time.Now()
	if out, err := exec.Command("tar", "-C", dir, "--numeric-owner", "-I", "zstd", "-xf", rootfsTar).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("extract %s: %v: %s", rootfsTar, err, out)
	}
	logf("rootfs extracted in %v", time.Since(t0).Round(time.Millisecond))
	c.log, err = os.Create(dir + ".console.log")
	if err != nil {
		return nil, err
	}
	// --keep-unit: these hosts have no systemd as PID 1 (nspawn exits at once
	// without it); --register=no: no machined. The console is passive: the
	// tests enter the container with nsenter.
	c.nspawn = exec.Command("systemd-nspawn", "-D", dir, "--boot", "--register=no", "--keep-unit",
		"--console=passive", "--quiet")
	c.nspawn.Stdout, c.nspawn.Stderr = c.log, c.log
	if err := c.nspawn.Start(); err != nil {
		c.cleanup()
		return nil, err
	}
	go func() { _ = c.nspawn.Wait(); close(c.done) }()
	if pidfile != "" {
		_ = os.WriteFile(pidfile, []byte(strconv.Itoa(c.nspawn.Process.Pid)), 0o644)
	}
	// The container's PID 1 is nspawn's child running systemd.
	deadline := time.Now().Add(30 * time.Second)
	for c.pid1 == 0 {
		if time.Now().After(deadline) {
			c.shutdown()
			return nil, fmt.Errorf("container init did not appear; console log: %s", c.log.Name())
		}
		select {
		case <-c.done:
			c.cleanup()
			b, _ := os.ReadFile(c.log.Name())
			return nil, fmt.Errorf("systemd-nspawn exited: %s", b)
		case <-time.After(100 * time.Millisecond):
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", c.nspawn.Process.Pid, c.nspawn.Process.Pid))
		for _, f := range strings.Fields(string(b)) {
			p, _ := strconv.Atoi(f)
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(comm)) == "systemd" {
				c.pid1 = p
			}
		}
	}
	// systemctl needs PID 1's private bus socket, which appears a moment
	// after PID 1 itself.
	for !c.exists("/run/systemd/private") {
		if time.Now().After(deadline) {
			c.shutdown()
			return nil, fmt.Errorf("container systemd did not come up; console log: %s", c.log.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, err := c.run(60*time.Second, "systemctl is-system-running --wait")
	logf("container booted in %v (pid1 %d): %s", time.Since(t0).Round(time.Millisecond), c.pid1, strings.TrimSpace(out))
	if err != nil && !strings.Contains(out, "degraded") {
		failed, _ := c.run(10*time.Second, "systemctl --failed --no-legend")
		c.shutdown()
		return nil, fmt.Errorf("container did not boot: %v: %s %s", err, out, failed)
	}
	return c, nil
}

// run executes a shell script inside the container (all namespaces of its
// PID 1, clean environment) and returns stdout+stderr.
func (c *container) run(timeout time.Duration, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(c.pid1), "-a", "--",
		"/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "DEBIAN_FRONTEND=noninteractive",
		"/bin/sh", "-c", script)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return buf.String(), err
}

// shutdown stops the container cleanly (SIGTERM to nspawn = poweroff of the
// container) and removes the rootfs.
func (c *container) shutdown() {
	if c.nspawn != nil && c.nspawn.Process != nil {
		_ = c.nspawn.Process.Signal(syscall.SIGTERM) // the container powers off
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			logf("container did not stop in 30s, killing nspawn")
			_ = c.nspawn.Process.Kill()
			<-c.done
		}
	}
	c.cleanup()
}

func (c *container) cleanup() {
	if c.log != nil {
		c.log.Close()
		if os.Getenv("E2E_KEEP_LOG") == "" {
			os.Remove(c.log.Name())
		}
	}
	if c.dir != "" && strings.HasPrefix(filepath.Base(c.dir), "roy-e2e-") {
		os.RemoveAll(c.dir)
	}
}

// exists says whether path exists inside the running container (through
// /proc/<pid1>/root: /run is a tmpfs of the container, not in the rootfs).
func (c *container) exists(path string) bool {
	_, err := os.Lstat(filepath.Join("/proc", strconv.Itoa(c.pid1), "root", path))
	return err == nil
}

// copyIn copies a host file into the container's rootfs.
func (c *container) copyIn(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.dir, dst), b, 0o644)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
}

// must runs script and fails the test on error.
func (c *container) must(t *testing.T, script string) string {
	t.Helper()
	out, err := c.run(60*time.Second, script)
	if err != nil {
		t.Fatalf("%s\n-> %v\n%s", script, err, out)
	}
	return strings.TrimSpace(out)
}
