package units

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/systemd"
)

// systemdBus is the part of go-systemd's connection this package uses.
type systemdBus interface {
	ListUnitsByPatternsContext(ctx context.Context, states, patterns []string) ([]sddbus.UnitStatus, error)
	ListUnitsByNamesContext(ctx context.Context, names []string) ([]sddbus.UnitStatus, error)
	GetUnitPropertiesContext(ctx context.Context, unit string) (map[string]any, error)
	GetUnitTypePropertiesContext(ctx context.Context, unit, unitType string) (map[string]any, error)
	GetUnitPropertyContext(ctx context.Context, unit, name string) (*sddbus.Property, error)
	GetUnitTypePropertyContext(ctx context.Context, unit, unitType, name string) (*sddbus.Property, error)
	StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	RestartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	ReloadUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	ResetFailedUnitContext(ctx context.Context, name string) error
	EnableUnitFilesContext(ctx context.Context, files []string, runtime, force bool) (bool, []sddbus.EnableUnitFileChange, error)
	DisableUnitFilesContext(ctx context.Context, files []string, runtime bool) ([]sddbus.DisableUnitFileChange, error)
	ReloadContext(ctx context.Context) error
	GetUnitNameByPID(ctx context.Context, pid uint32) (string, error)
	Subscribe() error
	SetPropertiesSubscriber(updateCh chan<- *sddbus.PropertiesUpdate, errCh chan<- error)
	Connected() bool
	Close()
}

var _ systemdBus = (*sddbus.Conn)(nil)

// ProcSource is the process inventory the units are joined with.
type ProcSource interface {
	Snapshot(ctx context.Context) ([]procs.Process, time.Time, error)
}

// Auditor writes the audit line of an action (the process core's writer).
type Auditor interface {
	AuditUnit(c procs.Caller, action, unit, detail string, err error)
}

// Options configure a Service.
type Options struct {
	Procs  ProcSource
	Audit  Auditor
	Logger *slog.Logger
	// CgroupRoot is where cgroupfs is mounted (default /sys/fs/cgroup).
	CgroupRoot string
	// Available says whether systemd is PID 1 (default: systemd.Available,
	// sd_booted(3)).
	Available func() bool
	// Dial connects to systemd and says how (default: PID 1's private
	// socket as root, else the system bus).
	Dial func(ctx context.Context) (systemdBus, string, error)
}

// Service is the services view. It is safe for concurrent use.
type Service struct {
	procs      ProcSource
	audit      Auditor
	log        *slog.Logger
	cgroupRoot string
	available  bool
	dial       func(ctx context.Context) (systemdBus, string, error)
	selfPID    int

	mu      sync.Mutex
	conn    systemdBus
	watchOn bool // subscribe every connection to unit changes

	cacheMu sync.Mutex
	cache   map[string]cached // per unit: the properties that change with its state

	subMu   sync.Mutex
	subs    map[int]func(Change)
	nextSub int
	last    map[string]Change // last change sent per unit (dedup)
}

// New returns a Service. It connects to systemd on first use.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CgroupRoot == "" {
		opts.CgroupRoot = "/sys/fs/cgroup"
	}
	if opts.Available == nil {
		opts.Available = systemd.Available
	}
	if opts.Dial == nil {
		opts.Dial = dialSystemd
	}
	return &Service{
		procs:      opts.Procs,
		audit:      opts.Audit,
		log:        opts.Logger.With("component", "units"),
		cgroupRoot: opts.CgroupRoot,
		available:  opts.Available(),
		dial:       opts.Dial,
		selfPID:    os.Getpid(),
		subs:       map[int]func(Change){},
		cache:      map[string]cached{},
		last:       map[string]Change{},
	}
}

// dialSystemd connects to systemd: as root, straight to PID 1's private
// socket (/run/systemd/private, what systemctl uses), which spares the bus
// daemon's routing and policy checks on the hundreds of property reads a
// list makes; otherwise, or if that fails, through the system bus.
func dialSystemd(ctx context.Context) (systemdBus, string, error) {
	if os.Geteuid() == 0 {
		if c, err := sddbus.NewSystemdConnectionContext(ctx); err == nil {
			return c, "/run/systemd/private", nil
		}
	}
	c, err := sddbus.NewSystemConnectionContext(ctx)
	return c, "the system bus", err
}

// Available says whether systemd runs this host; without it every call
// returns ErrNoSystemd.
func (s *Service) Available() bool { return s.available }

// bus returns the systemd connection, connecting (again) when needed.
func (s *Service) bus(ctx context.Context) (systemdBus, error) {
	if !s.available {
		return nil, ErrNoSystemd
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.conn.Connected() {
		return s.conn, nil
	}
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	c, via, err := s.dial(ctx)
	if err != nil {
		return nil, failed("cannot connect to systemd", err)
	}
	s.log.Info("connected to systemd", "via", via)
	s.conn = c
	if s.watchOn {
		s.startWatch(c)
	}
	return c, nil
}

// Close closes the connection to systemd.
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// busErr maps a systemd D-Bus error to this package's kinds.
func busErr(unit, msg string, err error) error {
	var de dbus.Error
	if errors.As(err, &de) {
		switch de.Name {
		case "org.freedesktop.systemd1.NoSuchUnit", "org.freedesktop.systemd1.LoadFailed":
			return errf(KindNoSuchUnit, "unit %s not found", unit)
		case "org.freedesktop.DBus.Error.InvalidArgs":
			return &Error{Kind: KindInvalidArgument, Msg: msg + ": " + errText(de), Err: err}
		case "org.freedesktop.systemd1.UnitMasked":
			return &Error{Kind: KindRefused, Msg: msg + ": unit " + unit + " is masked", Err: err}
		case "org.freedesktop.systemd1.JobTypeNotApplicable", "org.freedesktop.systemd1.OnlyByDependency",
			"org.freedesktop.systemd1.TransactionIsDestructive", "org.freedesktop.systemd1.TransactionJobsConflicting",
			"org.freedesktop.systemd1.NoIsolation", "org.freedesktop.systemd1.NotSupported":
			return &Error{Kind: KindRefused, Msg: msg + ": " + errText(de), Err: err}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return failed(msg, err)
}

func errText(de dbus.Error) string {
	if len(de.Body) > 0 {
		if s, ok := de.Body[0].(string); ok {
			return s
		}
	}
	return de.Name
}
