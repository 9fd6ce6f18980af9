package procfs

// Port is one TCP or UDP socket of a process. The JSON names and values
// follow the original API (docs/http-api.md): Status "LISTEN", Family "AddressFamily.AF_INET", Remote
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

// Process is one entry of the inventory, with every field of the original
// API's JSON item (docs/http-api.md). Fields the daemon cannot read are empty, never an error.
type Process struct {
	PID            int      `json:"pid"`
	PPID           int      `json:"ppid"`
	Name           string   `json:"name"`
	Exe            string   `json:"exe"`
	Username       string   `json:"username"`
	UID            uint32   `json:"uid"` // real uid
	Status         string   `json:"status"`
	CreateTime     float64  `json:"create_time"`
	CreateTimeISO  string   `json:"create_time_iso"`
	CPUPercent     float64  `json:"cpu_percent"`
	MemoryRSS      uint64   `json:"memory_rss"`
	Nice           int      `json:"nice"`
	Threads        int      `json:"num_threads"`
	Cmdline        []string `json:"cmdline"`
	Ports          []Port   `json:"ports"`
	OpenFilesCount int      `json:"open_files_count"`
	// Beyond the original API (docs/http-api.md), what admins sort by (htop's %MEM, TIME+ and VIRT):
	// RSS as a percentage of MemTotal, user+system CPU seconds, and the
	// virtual size in bytes.
	MemoryPercent float64 `json:"memory_percent"`
	CPUTime       float64 `json:"cpu_time"`
	MemoryVMS     uint64  `json:"memory_vms"`
	// Unit is the systemd unit whose cgroup holds the process (the deepest
	// .service or .scope of its cgroup path), "" when none (kernel
	// threads, a process outside systemd's tree). See unitcache.go for
	// how fresh it is.
	Unit string `json:"unit"`
	// Protected says why the core refuses actions on the process whoever
	// asks (see daemon/procs authz.go), empty when it does not.
	Protected string `json:"protected,omitempty"`

	startTicks uint64 // field 22 of /proc/PID/stat: identity with the PID
	cpuTicks   uint64 // utime+stime
	kthread    bool   // PF_KTHREAD
}

// KernelThread says whether the process is a kernel thread (PF_KTHREAD).
func (p *Process) KernelThread() bool { return p.kthread }

// StartTicks is the process's start time in clock ticks since boot (field
// 22 of /proc/PID/stat): with the PID, it names one process.
func (p *Process) StartTicks() uint64 { return p.startTicks }

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
