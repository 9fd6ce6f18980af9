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
)

// RelaunchSpec is everything needed to start a process again: what the
// core recorded of it before it was stopped.
type RelaunchSpec struct {
	OldPID int
	Exe    string
	Argv   []string
	Cwd    string
	Env    []string
	UID    uint32
	GID    uint32
	Groups []uint32
}

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

// StartTransient implements the core's UnitManager.
func (m *Manager) StartTransient(ctx context.Context, spec RelaunchSpec) (string, int, error) {
	c, err := m.get(ctx)
	if err != nil {
		return "", 0, err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("roy-procwatch-relaunch-%d-%s.service", spec.OldPID, hex.EncodeToString(rnd[:]))
	groups := make([]string, 0, len(spec.Groups))
	for _, g := range spec.Groups {
		groups = append(groups, strconv.FormatUint(uint64(g), 10))
	}
	props := []sddbus.Property{
		{Name: "Description", Value: dbus.MakeVariant(fmt.Sprintf("Relaunched by roy-procwatch (was PID %d): %s", spec.OldPID, spec.Exe))},
		{Name: "ExecStart", Value: dbus.MakeVariant([]execStart{{Path: spec.Exe, Args: spec.Argv}})},
		{Name: "User", Value: dbus.MakeVariant(strconv.FormatUint(uint64(spec.UID), 10))},
		{Name: "Group", Value: dbus.MakeVariant(strconv.FormatUint(uint64(spec.GID), 10))},
		{Name: "SupplementaryGroups", Value: dbus.MakeVariant(groups)},
		{Name: "Environment", Value: dbus.MakeVariant(spec.Env)},
		{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")},
	}
	if spec.Cwd != "" {
		// "-" : start anyway if the directory is gone.
		props = append(props, sddbus.Property{Name: "WorkingDirectory", Value: dbus.MakeVariant("-" + spec.Cwd)})
	}
	ch := make(chan string, 1)
	if _, err := c.StartTransientUnitContext(ctx, name, "fail", props, ch); err != nil {
		return "", 0, err
	}
	if err := waitJob(ctx, ch); err != nil {
		return name, 0, err
	}
	pid, err := m.mainPID(ctx, c, name)
	return name, pid, err
}
