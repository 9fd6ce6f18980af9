// Package systemd is the core's adapter to systemd's D-Bus API (go-systemd
// over godbus): which unit holds a PID, restarting a service, starting a
// relaunch in a transient service. It implements the core's UnitManager
// (daemon/procs) and holds no rule of its own.
package systemd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/internal/relaunch"
)

// RelaunchSpec is everything needed to start a process again: what the
// core recorded of it before it was stopped (internal/relaunch).
type RelaunchSpec = relaunch.Spec

// Manager is the core's UnitManager over systemd's D-Bus API.
type Manager struct {
	mu   sync.Mutex
	conn *sddbus.Conn
}

// systemdConn is the part of *sddbus.Conn we use.
var _ interface {
	GetUnitNameByPID(context.Context, uint32) (string, error)
	Close()
} = (*sddbus.Conn)(nil)

// Available says whether systemd is PID 1 (sd_booted(3)).
func Available() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// New returns a Manager that connects to systemd on first use.
func New() *Manager { return &Manager{} }

func (m *Manager) get(ctx context.Context) (*sddbus.Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil && m.conn.Connected() {
		return m.conn, nil
	}
	c, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to systemd: %w", err)
	}
	m.conn = c
	return c, nil
}

// Close closes the connection.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
}

// UnitOfPID implements the core's UnitManager.
func (m *Manager) UnitOfPID(ctx context.Context, pid int) (string, int, error) {
	c, err := m.get(ctx)
	if err != nil {
		return "", 0, err
	}
	unit, err := c.GetUnitNameByPID(ctx, uint32(pid))
	if err != nil {
		var de dbus.Error
		if errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoUnitForPID" {
			return "", 0, nil
		}
		return "", 0, err
	}
	if !strings.HasSuffix(unit, ".service") {
		return unit, 0, nil
	}
	main, err := m.mainPID(ctx, c, unit)
	return unit, main, err
}

func (m *Manager) mainPID(ctx context.Context, c *sddbus.Conn, unit string) (int, error) {
	p, err := c.GetServicePropertyContext(ctx, unit, "MainPID")
	if err != nil {
		return 0, err
	}
	v, ok := p.Value.Value().(uint32)
	if !ok {
		return 0, fmt.Errorf("unexpected MainPID type %s", p.Value.Signature())
	}
	return int(v), nil
}

// waitJob waits for a job result without ever blocking go-systemd's
// dispatcher (the channel is buffered).
func waitJob(ctx context.Context, ch <-chan string) error {
	select {
	case r := <-ch:
		if r != "done" {
			return fmt.Errorf("job result %q", r)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RestartUnit implements the core's UnitManager.
func (m *Manager) RestartUnit(ctx context.Context, unit string) (int, error) {
	c, err := m.get(ctx)
	if err != nil {
		return 0, err
	}
	ch := make(chan string, 1)
	if _, err := c.RestartUnitContext(ctx, unit, "replace", ch); err != nil {
		return 0, err
	}
	if err := waitJob(ctx, ch); err != nil {
		return 0, err
	}
	return m.mainPID(ctx, c, unit)
}

// execStart is the a(sasb) element of the ExecStart property.
type execStart struct {
	Path             string
	Args             []string
	UncleanIsFailure bool
}

// execStartEx is the a(sasas) element of ExecStartEx (systemd >= 243):
// its flag no-env-expand (the ":" prefix of unit files) runs the argv as
// given, where ExecStart= would expand $VAR and ${VAR}.
type execStartEx struct {
	Path  string
	Args  []string
	Flags []string
}

// escapeDollars doubles every "$" ($$ is systemd's literal dollar): the
// argv form for a systemd without ExecStartEx.
func escapeDollars(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, "$", "$$")
	}
	return out
}

// transientProps are the properties of the transient service that runs
// spec again: the same program (through the argv[0] path), argv and
// environment verbatim, credentials, working directory, nice, every
// resource limit, oom_score_adj and slice. Type=exec makes the start job
// fail when the exec fails, instead of reporting a PID that never ran the
// program. argvProp is ExecStartEx, or ExecStart with $ escaped.
func transientProps(spec RelaunchSpec, argvProp string) []sddbus.Property {
	groups := make([]string, 0, len(spec.Groups))
	for _, g := range spec.Groups {
		groups = append(groups, strconv.FormatUint(uint64(g), 10))
	}
	path := spec.Path
	if path == "" {
		path = spec.Exe
	}
	var exec dbus.Variant
	if argvProp == "ExecStartEx" {
		exec = dbus.MakeVariant([]execStartEx{{Path: path, Args: spec.Argv, Flags: []string{"no-env-expand"}}})
	} else {
		exec = dbus.MakeVariant([]execStart{{Path: path, Args: escapeDollars(spec.Argv)}})
	}
	env := spec.Env
	if env == nil {
		env = []string{}
	}
	props := []sddbus.Property{
		{Name: "Description", Value: dbus.MakeVariant(fmt.Sprintf("Relaunched by roy-procwatch (was PID %d): %s", spec.OldPID, spec.Exe))},
		{Name: argvProp, Value: exec},
		{Name: "Type", Value: dbus.MakeVariant("exec")},
		{Name: "User", Value: dbus.MakeVariant(strconv.FormatUint(uint64(spec.UID), 10))},
		{Name: "Group", Value: dbus.MakeVariant(strconv.FormatUint(uint64(spec.GID), 10))},
		{Name: "SupplementaryGroups", Value: dbus.MakeVariant(groups)},
		{Name: "Environment", Value: dbus.MakeVariant(env)},
		{Name: "Nice", Value: dbus.MakeVariant(int32(spec.Nice))},
		{Name: "OOMScoreAdjust", Value: dbus.MakeVariant(int32(spec.OOMScoreAdj))},
	}
	// The hard limit first: systemd sets both from the first value, then
	// the soft one from LimitXSoft.
	for _, l := range spec.Limits {
		props = append(props,
			sddbus.Property{Name: "Limit" + l.Name, Value: dbus.MakeVariant(l.Max)},
			sddbus.Property{Name: "Limit" + l.Name + "Soft", Value: dbus.MakeVariant(l.Cur)})
	}
	if spec.Slice != "" {
		props = append(props, sddbus.Property{Name: "Slice", Value: dbus.MakeVariant(spec.Slice)})
	}
	if spec.Cwd != "" {
		// "-" : start anyway if the directory is gone.
		props = append(props, sddbus.Property{Name: "WorkingDirectory", Value: dbus.MakeVariant("-" + spec.Cwd)})
	}
	return props
}

// StartTransient implements the core's UnitManager. The unit keeps systemd's default
// CollectMode: it is unloaded when the program exits cleanly, and a failed
// run stays visible (systemctl status) until reset-failed. A start that
// fails is read (Result, exit status) and reset, then reported.
func (m *Manager) StartTransient(ctx context.Context, spec RelaunchSpec) (string, int, error) {
	c, err := m.get(ctx)
	if err != nil {
		return "", 0, err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("roy-procwatch-relaunch-%d-%s.service", spec.OldPID, hex.EncodeToString(rnd[:]))
	// "replace": the old process was the last of its scope, so its slice
	// may have a stop job queued; starting the new unit in that slice
	// must replace it, not fail as a destructive transaction.
	ch := make(chan string, 1)
	_, err = c.StartTransientUnitContext(ctx, name, "replace", transientProps(spec, "ExecStartEx"), ch)
	if err != nil && strings.Contains(err.Error(), "ExecStartEx") {
		// systemd < 243: no ExecStartEx; escape $ instead.
		_, err = c.StartTransientUnitContext(ctx, name, "replace", transientProps(spec, "ExecStart"), ch)
	}
	if err != nil {
		return "", 0, err
	}
	if err := waitJob(ctx, ch); err != nil {
		if why := m.failure(ctx, c, name); why != "" {
			err = fmt.Errorf("%s failed to start: %s", name, why)
		}
		_ = c.ResetFailedUnitContext(ctx, name)
		return name, 0, err
	}
	pid, err := m.mainPID(ctx, c, name)
	if err == nil && pid == 0 {
		err = fmt.Errorf("%s started but has no main process", name)
	}
	return name, pid, err
}

// failure describes why unit failed, from its Result and exit status
// ("exit-code, status 203/EXEC"); "" when systemd does not say.
func (m *Manager) failure(ctx context.Context, c *sddbus.Conn, unit string) string {
	get := func(prop string) any {
		p, err := c.GetServicePropertyContext(ctx, unit, prop)
		if err != nil {
			return nil
		}
		return p.Value.Value()
	}
	result, _ := get("Result").(string)
	if result == "" || result == "success" {
		return ""
	}
	code, _ := get("ExecMainCode").(int32)
	status, _ := get("ExecMainStatus").(int32)
	switch code {
	case 1: // CLD_EXITED
		if n, ok := exitStatusNames[status]; ok {
			return fmt.Sprintf("%s, status %d/%s", result, status, n)
		}
		return fmt.Sprintf("%s, status %d", result, status)
	case 2, 3: // CLD_KILLED, CLD_DUMPED
		return fmt.Sprintf("%s, signal %d", result, status)
	}
	return result
}

// exitStatusNames are systemd's exit codes for a failed exec setup
// (systemd.exec(5), "Process Exit Codes").
var exitStatusNames = map[int32]string{
	200: "CHDIR", 201: "NICE", 202: "FDS", 203: "EXEC", 204: "MEMORY", 205: "LIMITS",
	206: "OOM_ADJUST", 207: "SIGNAL_MASK", 208: "STDIN", 209: "STDOUT", 210: "CHROOT",
	211: "IOPRIO", 212: "TIMERSLACK", 213: "SECUREBITS", 214: "SETSCHEDULER",
	215: "CPUAFFINITY", 216: "GROUP", 217: "USER", 218: "CAPABILITIES", 219: "CGROUP",
	220: "SETSID", 221: "CONFIRM", 222: "STDERR", 224: "PAM", 225: "NETWORK",
	226: "NAMESPACE", 227: "NO_NEW_PRIVILEGES", 228: "SECCOMP", 229: "SELINUX_CONTEXT",
	230: "PERSONALITY", 231: "APPARMOR_PROFILE", 232: "ADDRESS_FAMILIES",
	233: "RUNTIME_DIRECTORY", 235: "CHOWN", 236: "SMACK_PROCESS_LABEL", 237: "KEYRING",
	238: "STATE_DIRECTORY", 239: "CACHE_DIRECTORY", 240: "LOGS_DIRECTORY",
	241: "CONFIGURATION_DIRECTORY", 242: "NUMA_POLICY", 243: "CREDENTIALS", 245: "BPF",
}
