package procs

import (
	"context"

	"github.com/roy/roy-procwatch/daemon/host"

	"github.com/roy/roy-procwatch/internal/procfs"
)

// The inventory's records are the reader's (internal/procfs); the core and
// the transports name them here.
type (
	Process   = procfs.Process
	Port      = procfs.Port
	MemorySum = procfs.MemorySum
	Mapping   = procfs.Mapping
)

// Detail is what GetProcess returns: the list fields plus what costs more to
// read. Environ is nil unless the caller may see it.
type Detail struct {
	Process
	Cwd string `json:"cwd"`
	// Cgroup is read afresh, and with it the list's Unit.
	Cgroup      string       `json:"cgroup"`
	OpenFiles   []string     `json:"open_files"`
	Environ     []string     `json:"environ"`
	UIDs        [3]uint32    `json:"uids"` // real, effective, saved
	GIDs        [3]uint32    `json:"gids"`
	Memory      MemorySum    `json:"memory"`
	TopMappings []Mapping    `json:"top_mappings"`
	Parents     []ProcessRef `json:"parents"`
	Children    []ProcessRef `json:"children"`
	// Extras (I/O, context switches, CPU times, limits, OOM score) are
	// there only when the caller may inspect the process.
	Extras *host.ProcessExtras `json:"extras,omitempty"`
}

// ProcessRef names a process in a parent chain or children list.
type ProcessRef struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
}

// ListOptions selects and orders the inventory.
type ListOptions struct {
	Query string // case-insensitive match on PID, name, cmdline, user
	Sort  string // cpu | mem | pid | name (default cpu)
	Order string // asc | desc (default desc)
	// Fresh asks for a snapshot at most FreshMaxAge old rather than the
	// cached one (a Refresh that must show a process just started).
	Fresh bool
}

// Target names the process an action is for. CreateTime, when non-zero, is
// the create_time the caller saw in the list: a different process behind
// the same PID is then ProcessChanged.
type Target struct {
	PID        int
	CreateTime float64
	// PIDFD, when not 0, is a pidfd the caller passed (D-Bus *PIDFD
	// methods): it names the process instead of PID, and the core acts
	// through a duplicate of it. The transport keeps and closes its fd.
	PIDFD int
}

// Caller is who asks for an action. Transports fill it in; the core decides.
type Caller struct {
	// UID of the caller (from the bus for D-Bus).
	UID uint32
	// Privileged callers act as root (HTTP with a valid token).
	Privileged bool
	// ReadOnly callers (HTTP with the read-only token) see what a
	// privileged caller sees except process environments, and may not act.
	ReadOnly bool
	// GIDs are the caller's groups (primary and supplementary) when the
	// transport knows them; nil means those of UID in the user database.
	GIDs []uint32
	// Name is for logs: "http", a D-Bus unique name, …
	Name string
	// Authorize asks an authority (polkit) whether the caller may perform
	// action on a process it does not own. nil means no authority: deny.
	Authorize func(ctx context.Context, action string, pid int) (bool, error)
}

// Polkit action ids the core asks for.
const (
	ActionInspect = "org.roy.procwatch.inspect"
	ActionSignal  = "org.roy.procwatch.signal"
	ActionRenice  = "org.roy.procwatch.renice"
	ActionRestart = "org.roy.procwatch.restart"
)

// RestartResult is what Restart reports.
type RestartResult struct {
	OldPID int    `json:"old_pid"`
	NewPID int    `json:"new_pid"`
	Unit   string `json:"unit"`
	// How is "unit" when systemd restarted the unit, "transient" when the
	// process was relaunched in a transient unit, "detached" otherwise.
	How string `json:"how"`
	// Output says where a relaunched process's stdout and stderr now go
	// (its unit's journal, the files it wrote to, /dev/null); "" for a
	// unit restart, whose unit decides.
	Output string `json:"output,omitempty"`
}

// EventKind says what an Event reports.
type EventKind int

// Events emitted after each successful action, whichever transport asked.
const (
	EventSignalled EventKind = iota
	EventReniced
	EventRestarted
)

// Event is emitted after a successful action.
type Event struct {
	Kind   EventKind
	PID    int
	Signal string // EventSignalled
	Nice   int    // EventReniced
	NewPID int    // EventRestarted
	Unit   string // EventRestarted
}
