package procs

import (
	"context"

	"github.com/roy/roy-procwatch/daemon/host"
)

// Port is one TCP or UDP socket of a process. The JSON names and values
// follow the seed: Status "LISTEN", Family "AddressFamily.AF_INET", Remote
// null when the socket is not connected.
type Port struct {
	Local  string  `json:"local"`
	Remote *string `json:"remote"`
	Status string  `json:"status"`
	Family string  `json:"family"`
	Type   string  `json:"type"` // "tcp" or "udp"
	// LocalPort is the numeric local port, handy for filtering.
	LocalPort int `json:"local_port"`
	// Inode is the socket inode, the key into /proc/<pid>/fd.
	Inode uint64 `json:"-"`
}

// Process is one entry of the inventory, with every field of the seed's
// JSON item. Fields the daemon cannot read are empty, never an error.
type Process struct {
	PID            int      `json:"pid"`
	PPID           int      `json:"ppid"`
	Name           string   `json:"name"`
	Exe            string   `json:"exe"`
	Username       string   `json:"username"`
	UID            uint32   `json:"uid"`
	Status         string   `json:"status"`
	CreateTime     float64  `json:"create_time"`
	CreateTimeISO  string   `json:"create_time_iso"`
	CPUPercent     float64  `json:"cpu_percent"`
	MemoryRSS      uint64   `json:"memory_rss"`
	MemPercent     float64  `json:"mem_percent"` // RSS / MemTotal, in percent
	Nice           int      `json:"nice"`
	Threads        int      `json:"num_threads"`
	Cmdline        []string `json:"cmdline"`
	Ports          []Port   `json:"ports"`
	OpenFilesCount int      `json:"open_files_count"`

	startTicks uint64 // field 22 of /proc/PID/stat: identity with the PID
	cpuTicks   uint64 // utime+stime
}

// Detail is what GetProcess returns: the list fields plus what costs more to
// read. Environ is nil unless the caller may see it.
type Detail struct {
	Process
	Cwd         string       `json:"cwd"`
	Cgroup      string       `json:"cgroup"`
	Unit        string       `json:"unit"`
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

// MemorySum is /proc/PID/smaps_rollup, in bytes.
type MemorySum struct {
	RSS     uint64 `json:"rss"`
	PSS     uint64 `json:"pss"`
	Swap    uint64 `json:"swap"`
	Anon    uint64 `json:"anonymous"`
	File    uint64 `json:"file"`
	Private uint64 `json:"private"`
	Shared  uint64 `json:"shared"`
}

// Mapping is one entry of the largest memory mappings of a process.
type Mapping struct {
	Path string `json:"path"`
	Kind string `json:"kind"` // file, heap, stack, anon, vdso, …
	RSS  uint64 `json:"rss"`
	PSS  uint64 `json:"pss"`
	Swap uint64 `json:"swap"`
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
}

// Target names the process an action is for. CreateTime, when non-zero, is
// the create_time the caller saw in the list: a different process behind
// the same PID is then ProcessChanged.
type Target struct {
	PID        int
	CreateTime float64
}

// Caller is who asks for an action. Transports fill it in; the core decides.
type Caller struct {
	// UID of the caller (from the bus for D-Bus).
	UID uint32
	// Privileged callers act as root (HTTP with a valid token).
	Privileged bool
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
