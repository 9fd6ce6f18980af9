// Package units is roy-procwatch's services view over systemd: the unit
// inventory (joined with the process inventory by cgroup for PIDs and
// ports), the unit actions with their refusal rules, the journal through
// sd-journal, and live unit changes from systemd's own signals. Like
// daemon/procs it holds every rule; the HTTP and D-Bus transports only
// translate.
package units

import "github.com/roy/roy-procwatch/daemon/procs"

// Unit is one item of the inventory. Fields systemd does not report for a
// unit (memory of a unit without a cgroup, a timer's main PID) are null or
// zero, never an error.
type Unit struct {
	Name          string  `json:"name"`
	Type          string  `json:"type"`
	Description   string  `json:"description"`
	Load          string  `json:"load"`
	Active        string  `json:"active"`
	Sub           string  `json:"sub"`
	UnitFileState string  `json:"unit_file_state"`
	MainPID       int     `json:"main_pid"`
	Since         string  `json:"since"` // RFC 3339, "" if never
	Result        string  `json:"result"`
	Restarts      uint32  `json:"restarts"`
	MemoryCurrent *uint64 `json:"memory_current"`
	CPUUsageNSec  *uint64 `json:"cpu_usage_nsec"`
	Tasks         *uint64 `json:"tasks"`
	ControlGroup  string  `json:"control_group"`
	PIDs          []int   `json:"pids"`
	// Ports are the TCP/UDP sockets the unit's processes hold: listening
	// and connected ("talking") ones.
	Ports []Port `json:"ports"`
}

// Port is a socket of one of the unit's processes.
type Port struct {
	procs.Port
	PID int `json:"pid"`
}

// Detail is a unit with its processes (the process list's shape) and its
// last journal entries.
type Detail struct {
	Unit
	FragmentPath string          `json:"fragment_path"`
	Processes    []procs.Process `json:"processes"`
	Journal      []Entry         `json:"journal"`
}

// ListOptions select units.
type ListOptions struct {
	// Types are unit types ("service", "socket", "timer", "target", …);
	// empty means services only, unless Pattern has a type suffix
	// ("*.timer"), which then selects the type.
	Types []string
	// State matches the load, active or sub state (systemctl --state=).
	State string
	// Pattern is a shell glob on the unit name (systemctl list-units PATTERN).
	Pattern string
	// Query is a case-insensitive substring of the name or description.
	Query string
}

// ActionResult is what an action reports: the job's result and the unit's
// state after it.
type ActionResult struct {
	OK            bool   `json:"ok"`
	Unit          string `json:"unit"`
	Action        string `json:"action"`
	JobResult     string `json:"job_result"`
	Active        string `json:"active"`
	Sub           string `json:"sub"`
	UnitFileState string `json:"unit_file_state"`
	MainPID       int    `json:"main_pid"`
}

// Actions are the unit actions, as the HTTP routes name them.
var Actions = []string{"start", "stop", "restart", "reload", "reset-failed", "enable", "disable"}

// Change is a unit whose state changed, as systemd signalled it.
type Change struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Load        string `json:"load"`
	Active      string `json:"active"`
	Sub         string `json:"sub"`
	Time        string `json:"time"`
}

// Entry is one journal entry. Message is capped at MaxMessage bytes
// (Truncated says so); a message that is not text is shown as
// "[N bytes of binary data]" with Binary set.
type Entry struct {
	Time       string `json:"time"` // RFC 3339 with microseconds
	Usec       uint64 `json:"usec"`
	Priority   int    `json:"priority"` // 0 emerg … 7 debug; 6 when absent
	Identifier string `json:"identifier"`
	PID        int    `json:"pid"`
	Unit       string `json:"unit"`
	Message    string `json:"message"`
	Truncated  bool   `json:"truncated,omitempty"`
	Binary     bool   `json:"binary,omitempty"`
	Cursor     string `json:"cursor"`
}

// JournalQuery selects journal entries: a unit's or a PID's.
type JournalQuery struct {
	Unit  string
	PID   int
	Lines int // default 100, at most MaxEntries
	// Cursor, when set, returns the entries after it (oldest first)
	// instead of the last Lines.
	Cursor string
}

// Journal bounds.
const (
	MaxEntries     = 1000
	DefaultEntries = 100
	MaxMessage     = 8 << 10
)
