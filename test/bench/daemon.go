package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// daemonProc is one roy-procwatchd started for the bench, standalone on a
// free loopback port, without D-Bus.
type daemonProc struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	token  string
	client *http.Client
	log    string
}

// startDaemon runs bin with the given snapshot TTL ("" = the default), in
// dir (so no .env of the developer's is read), in the workload's group.
func startDaemon(w *workload, bin, dir, ttl string, conns int) (*daemonProc, error) {
	port, err := testproc.FreeLoopbackPort()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	d := &daemonProc{
		base:  "http://127.0.0.1:" + strconv.Itoa(port),
		token: hex.EncodeToString(tok),
		client: &http.Client{
			Timeout:   60 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true},
		},
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ROY_PROCWATCH_") || strings.HasPrefix(k, "LISTEN_") ||
			k == "NOTIFY_SOCKET" || strings.HasPrefix(k, "WATCHDOG_") || k == "CREDENTIALS_DIRECTORY" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"ROY_PROCWATCH_HOST=127.0.0.1",
		"ROY_PROCWATCH_PORT="+strconv.Itoa(port),
		"ROY_PROCWATCH_TOKEN="+d.token,
		"ROY_PROCWATCH_BUS=none",
		"ROY_PROCWATCH_LOG_LEVEL=warn",
	)
	if ttl != "" {
		env = append(env, "ROY_PROCWATCH_SNAPSHOT_TTL="+ttl)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	d.log = filepath.Join(dir, "daemon-"+strconv.Itoa(port)+".log")
	lf, err := os.Create(d.log)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	d.cmd = exec.Command(abs)
	d.cmd.Dir = dir
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = lf, lf
	if err := w.start(d.cmd); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", bin, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := d.client.Get(d.base + "/api/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d, nil
			}
		}
		if d.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	logText, _ := os.ReadFile(d.log)
	return nil, fmt.Errorf("daemon did not answer /api/health in 15s; its log:\n%s", logText)
}

func (d *daemonProc) pid() int { return d.cmd.Process.Pid }

// list GETs /api/processes and returns the body and the wall time.
func (d *daemonProc) list() ([]byte, time.Duration, error) { return d.get("/api/processes") }

// metrics GETs /metrics and returns the body and the wall time.
func (d *daemonProc) metrics() ([]byte, time.Duration, error) { return d.get("/metrics") }

// get GETs path with the token and returns the body and the wall time
// (request sent to body fully read); a non-200 answer is an error.
func (d *daemonProc) get(path string) ([]byte, time.Duration, error) {
	req, err := http.NewRequest(http.MethodGet, d.base+path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("X-Auth-Token", d.token)
	t0 := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	var buf bytes.Buffer
	_, err = io.Copy(&buf, resp.Body)
	resp.Body.Close()
	el := time.Since(t0)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != 200 {
		return nil, 0, fmt.Errorf("GET %s: %s: %s", path, resp.Status, buf.Bytes())
	}
	return buf.Bytes(), el, nil
}

// stop sends SIGTERM and waits (SIGKILL after 10 s).
func (d *daemonProc) stop() {
	_ = signalChild(d.cmd, unix.SIGTERM)
	done := make(chan error, 1)
	go func() {
		// Wait for the exit without reaping (WNOWAIT): until cmd.Wait
		// reaps it, the PID stays ours and the pidfd below is safe.
		var info unix.Siginfo
		done <- unix.Waitid(unix.P_PID, d.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = signalChild(d.cmd, unix.SIGKILL)
		<-done
	}
	_ = d.cmd.Wait()
}

// cpuTime is utime+stime of pid from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat")
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat")
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100), nil // USER_HZ is 100
}

// memKiB returns VmRSS and VmHWM of pid, in KiB.
func memKiB(pid int) (rss, hwm uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}
