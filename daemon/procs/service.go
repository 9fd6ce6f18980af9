// Package procs is the core of roy-procwatch: the process inventory (with
// ports per PID) and the actions on processes (signal, renice, restart),
// with every rule about who may do what. The HTTP and D-Bus transports call
// it and translate; they implement no rule of their own.
package procs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/internal/procfs"
)

// Options configure a Service.
type Options struct {
	// ProcRoot is where procfs is mounted (default /proc).
	ProcRoot string
	// SnapshotTTL is how long one snapshot serves every caller (default 2s).
	SnapshotTTL time.Duration
	// Signals is the allowed set (default DefaultSignals).
	Signals []string
	// RestartTimeout is how long a relaunch waits after SIGTERM before
	// SIGKILL (default 5s).
	RestartTimeout time.Duration
	// Units talks to systemd; nil means no systemd (relaunch detached).
	Units UnitManager
	// Logger for actions (default slog.Default()).
	Logger *slog.Logger
	// AuditFile, when set, gets one JSON line per action, allowed or not,
	// written with fsync so it survives a crash ("" = the log only).
	AuditFile string
	// OnSnapshot, when set, is called after each pass over /proc with how
	// long it took (the metrics' snapshot duration histogram).
	OnSnapshot func(time.Duration)
	// OnAction, when set, is called once per audited action, allowed or
	// not, with the action ("signal", "renice", "restart", "inspect", and
	// "unit-" + a unit action) and the result ("ok" or the error kind). It
	// must not block.
	OnAction func(action, result string)
	// Host, when set, serves the host overview (System, SystemHistory),
	// the per-process history fed by the snapshots and the detail's
	// extras.
	Host *host.Sampler
	// AuditMaxSize rotates the audit file to AuditFile.1 before it grows
	// past this many bytes (0 = DefaultAuditMaxSize, < 0 = never).
	AuditMaxSize int64
	// RefusalWindow is how long refusals made by the transports before
	// the core (failed authentications) are counted before their summary
	// lines are written (0 = DefaultRefusalWindow).
	RefusalWindow time.Duration
}

// Service is the core. It is safe for concurrent use.
type Service struct {
	inv            *procfs.Inventory
	signals        SignalSet
	restartTimeout time.Duration
	units          UnitManager
	log            *slog.Logger
	auditLog       *slog.Logger // nil without an audit file
	auditFile      *auditFile
	selfPID        int
	maxPID         int
	onAction       func(action, result string)
	host           *hostView // nil without Options.Host

	procMount  procMount     // hidepid= and gid= of ProcRoot
	afterReads func(pid int) // tests: runs between the reads by path and their check

	refusals refusals // summary lines of the transports' refusals

	restartMu  sync.Mutex
	restarting map[restartKey]bool // the restarts in progress

	subMu  sync.RWMutex // held for reading while the subscribers run
	subs   map[uint64]func(Event)
	nextID uint64
}

// New returns a Service reading opts.ProcRoot.
func New(opts Options) (*Service, error) {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.SnapshotTTL <= 0 {
		opts.SnapshotTTL = 2 * time.Second
	}
	if opts.RestartTimeout <= 0 {
		opts.RestartTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	sigs, err := NewSignalSet(opts.Signals)
	if err != nil {
		return nil, err
	}
	inv, err := procfs.NewInventory(opts.ProcRoot, opts.SnapshotTTL)
	if err != nil {
		return nil, err
	}
	inv.OnBuild(opts.OnSnapshot)
	self := os.Getpid()
	inv.Annotate = func(p *Process) {
		p.Protected = protectedReason(p.PID, kernelThread(p.PID, p.PPID, p.KernelThread()), self)
	}
	maxPID := 1 << 22 // PID_MAX_LIMIT on 64-bit
	if b, err := os.ReadFile(opts.ProcRoot + "/sys/kernel/pid_max"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
			maxPID = v
		}
	}
	var auditFile *auditFile
	var auditLog *slog.Logger
	if opts.AuditFile != "" {
		if opts.AuditMaxSize == 0 {
			opts.AuditMaxSize = DefaultAuditMaxSize
		}
		f, err := openAuditFile(opts.AuditFile, opts.AuditMaxSize)
		if err != nil {
			return nil, fmt.Errorf("cannot open the audit file: %w", err)
		}
		auditFile, auditLog = f, slog.New(slog.NewJSONHandler(f, nil))
	}
	var hv *hostView
	if opts.Host != nil {
		hv = &hostView{s: opts.Host}
	}
	if opts.RefusalWindow <= 0 {
		opts.RefusalWindow = DefaultRefusalWindow
	}
	s := &Service{
		host:           hv,
		auditLog:       auditLog,
		auditFile:      auditFile,
		inv:            inv,
		signals:        sigs,
		restartTimeout: opts.RestartTimeout,
		units:          opts.Units,
		log:            opts.Logger.With("component", "core"),
		selfPID:        os.Getpid(),
		maxPID:         maxPID,
		onAction:       opts.OnAction,
		restarting:     map[restartKey]bool{},
		procMount:      readProcMount(opts.ProcRoot),
	}
	s.refusals = refusals{window: opts.RefusalWindow, write: s.auditRefusals}
	return s, nil
}

// Close writes the pending refusal summaries and releases the audit file
// and the /proc descriptors the inventory holds.
func (s *Service) Close() error {
	s.refusals.close()
	s.inv.Close() // the /proc descriptors it holds between snapshots
	if s.auditFile != nil {
		return s.auditFile.Close()
	}
	return nil
}

// Signals returns the allowed signal names.
func (s *Service) Signals() []string { return s.signals.Names() }

// Subscribe registers fn to be called after each successful action, until
// the returned cancel is called (by a subscriber that goes away: a closed
// D-Bus server, an ended event stream). fn is called synchronously from the
// acting goroutine; it must not block, nor call Subscribe or a cancel.
// cancel may be called more than once; fn is not called after cancel has
// returned.
func (s *Service) Subscribe(fn func(Event)) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.subs == nil {
		s.subs = map[uint64]func(Event){}
	}
	s.nextID++
	id := s.nextID
	s.subs[id] = fn
	return func() {
		s.subMu.Lock()
		delete(s.subs, id)
		s.subMu.Unlock()
	}
}

// Subscribers is the number of subscriptions (a gauge; tests check that a
// subscriber that went away left none behind).
func (s *Service) Subscribers() int {
	s.subMu.RLock()
	defer s.subMu.RUnlock()
	return len(s.subs)
}

func (s *Service) emit(ev Event) {
	s.inv.Invalidate()
	s.subMu.RLock()
	defer s.subMu.RUnlock()
	for _, fn := range s.subs {
		fn(ev)
	}
}

// List returns the processes matching opts, sorted. Callers that are not
// privileged do not see the exe of other users' processes, nor, when /proc
// is mounted with hidepid=, other users' processes at all (see hidepid.go).
func (s *Service) List(ctx context.Context, caller Caller, opts ListOptions) ([]Process, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	get := s.inv.Get
	if o.Fresh {
		get = func(ctx context.Context) (*procfs.Snapshot, error) { return s.inv.GetMaxAge(ctx, FreshMaxAge) }
	}
	snap, err := get(ctx)
	if err == nil {
		s.recordHistory(snap)
	}
	if err != nil {
		return nil, &Error{Kind: KindFailed, Msg: "cannot read the process list", Err: err}
	}
	all := snap.Procs
	if !s.seesAll(ctx, caller) {
		// hidepid: as ps would show this caller, its own processes only.
		all = make([]Process, 0, 64)
		for i := range snap.Procs {
			if snap.Procs[i].UID == caller.UID {
				all = append(all, snap.Procs[i])
			}
		}
	}
	out := filterSort(all, o)
	if !caller.root() {
		for i := range out {
			if out[i].UID != caller.UID {
				out[i].Exe = ""
			}
		}
	}
	return out, nil
}

// FreshMaxAge is how old a snapshot may be when a caller asks for fresh
// data: recent enough to show what was just started, while callers asking
// together still share one read of /proc.
const FreshMaxAge = 100 * time.Millisecond

// Snapshot returns every process, unfiltered, in PID order, with the time
// it was taken. The slice must not be modified.
func (s *Service) Snapshot(ctx context.Context) ([]Process, time.Time, error) {
	return s.snapshot(ctx, s.inv.Get)
}

// FreshSnapshot is Snapshot no older than FreshMaxAge.
func (s *Service) FreshSnapshot(ctx context.Context) ([]Process, time.Time, error) {
	return s.snapshot(ctx, func(ctx context.Context) (*procfs.Snapshot, error) { return s.inv.GetMaxAge(ctx, FreshMaxAge) })
}

func (s *Service) snapshot(ctx context.Context, get func(context.Context) (*procfs.Snapshot, error)) ([]Process, time.Time, error) {
	snap, err := get(ctx)
	if err == nil {
		s.recordHistory(snap)
	}
	if err != nil {
		return nil, time.Time{}, &Error{Kind: KindFailed, Msg: "cannot read the process list", Err: err}
	}
	return snap.Procs, snap.Taken, nil
}

// checkPID validates a PID from a caller: positive and at most pid_max.
// (kill(2) with 0 or a negative PID means a group or every process.)
func (s *Service) checkPID(pid int) error {
	if pid <= 0 || pid > s.maxPID {
		return errf(KindInvalidArgument, "invalid pid %d: must be between 1 and %d", pid, s.maxPID)
	}
	return nil
}
