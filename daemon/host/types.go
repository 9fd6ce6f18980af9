// Package host reads the host-wide figures of the overview (CPU, memory,
// swap, load, tasks, network, disks, filesystems, pressure) and the extras
// of one process's detail (I/O, context switches, limits, OOM score), and
// keeps their recent history. It is the only package that imports
// gopsutil; the process list's hot path stays hand-written in the core.
//
// The figures that are rates (CPU %, bytes per second) are deltas between
// two readings: the Sampler keeps the previous one.
package host

import "time"

// System is one reading of the host, the payload of GET /api/system.
type System struct {
	Time        time.Time    `json:"time"`
	Hostname    string       `json:"hostname"`
	OS          string       `json:"os"`
	Kernel      string       `json:"kernel"`
	UptimeS     uint64       `json:"uptime_s"`
	BootTime    uint64       `json:"boot_time"` // Unix seconds
	CPU         CPU          `json:"cpu"`
	Load        [3]float64   `json:"load"` // 1, 5 and 15 minutes
	Memory      Memory       `json:"memory"`
	Swap        Swap         `json:"swap"`
	Tasks       Tasks        `json:"tasks"`
	Net         []NetRate    `json:"net"`
	Disks       []DiskRate   `json:"disks"`
	Filesystems []Filesystem `json:"filesystems"`
	// Pressure is /proc/pressure/{cpu,memory,io}; empty when the kernel
	// has no PSI.
	Pressure map[string]Pressure `json:"pressure"`
}

// CPU is the share of CPU time, in percent of the interval since the
// previous reading (of all cores for the totals, 0..100).
type CPU struct {
	Percent float64   `json:"percent"`
	User    float64   `json:"user"`   // user + nice
	System  float64   `json:"system"` // system + irq + softirq
	IOWait  float64   `json:"iowait"`
	Steal   float64   `json:"steal"`
	PerCore []CoreCPU `json:"per_core"`
}

// CoreCPU is one core's share, in percent of that core.
type CoreCPU struct {
	Percent float64 `json:"percent"`
	User    float64 `json:"user"`
	System  float64 `json:"system"`
	IOWait  float64 `json:"iowait"`
	Steal   float64 `json:"steal"`
}

// Memory is mem.VirtualMemory, in bytes. Used is what the kernel cannot
// reclaim (total − available), as htop counts it.
type Memory struct {
	Total     uint64  `json:"total"`
	Used      uint64  `json:"used"`
	Available uint64  `json:"available"`
	Free      uint64  `json:"free"`
	Buffers   uint64  `json:"buffers"`
	Cached    uint64  `json:"cached"`
	Percent   float64 `json:"percent"` // used / total
}

// Swap is mem.SwapMemory, in bytes.
type Swap struct {
	Total   uint64  `json:"total"`
	Used    uint64  `json:"used"`
	Free    uint64  `json:"free"`
	Percent float64 `json:"percent"`
}

// Tasks counts processes (total, running, blocked on I/O) and threads.
type Tasks struct {
	Total   int `json:"total"`
	Running int `json:"running"`
	Blocked int `json:"blocked"`
	Threads int `json:"threads"`
}

// NetRate is one network interface (loopback left out).
type NetRate struct {
	Iface   string  `json:"iface"`
	RxBps   float64 `json:"rx_bps"`
	TxBps   float64 `json:"tx_bps"`
	RxBytes uint64  `json:"rx_bytes"`
	TxBytes uint64  `json:"tx_bytes"`
}

// DiskRate is one whole block device (partitions, loop and ram devices
// left out).
type DiskRate struct {
	Device     string  `json:"device"`
	ReadBps    float64 `json:"read_bps"`
	WriteBps   float64 `json:"write_bps"`
	ReadBytes  uint64  `json:"read_bytes"`
	WriteBytes uint64  `json:"write_bytes"`
	// BusyPercent is the share of the interval the device had I/O in
	// flight (iostat's %util).
	BusyPercent float64 `json:"busy_percent"`
}

// Filesystem is the usage of one mounted block-device filesystem (pseudo
// filesystems and repeated mounts of the same device left out).
type Filesystem struct {
	Device     string  `json:"device"`
	Mountpoint string  `json:"mountpoint"`
	Fstype     string  `json:"fstype"`
	Total      uint64  `json:"total"`
	Used       uint64  `json:"used"`
	Free       uint64  `json:"free"`
	Percent    float64 `json:"percent"`
}

// Pressure is one /proc/pressure file: "some" tasks stalled, and "full"
// (all non-idle tasks stalled; absent for cpu on older kernels).
type Pressure struct {
	Some PressureLine  `json:"some"`
	Full *PressureLine `json:"full,omitempty"`
}

// PressureLine holds the averages in percent and the total stall in µs.
type PressureLine struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total_us"`
}

// ProcessExtras is what one process's detail adds from gopsutil's process
// package. Rates are since the previous detail read of the same process
// (zero on the first read).
type ProcessExtras struct {
	IO          ProcessIO   `json:"io"`
	CtxSwitches CtxSwitches `json:"ctx_switches"`
	CPUTimes    CPUTimes    `json:"cpu_times"`
	Limits      []Limit     `json:"limits"`
	OOMScore    int         `json:"oom_score"`
	OOMScoreAdj int         `json:"oom_score_adj"`
}

// ProcessIO is /proc/PID/io: bytes that reached the storage layer.
type ProcessIO struct {
	ReadBytes  uint64  `json:"read_bytes"`
	WriteBytes uint64  `json:"write_bytes"`
	ReadBps    float64 `json:"read_bps"`
	WriteBps   float64 `json:"write_bps"`
}

// CtxSwitches counts context switches since the process started.
type CtxSwitches struct {
	Voluntary   int64 `json:"voluntary"`
	Involuntary int64 `json:"involuntary"`
}

// CPUTimes is the CPU time the process used, in seconds.
type CPUTimes struct {
	User   float64 `json:"user"`
	System float64 `json:"system"`
}

// Limit is one resource limit with the current use where the kernel
// tells it (Used is null for the others: nproc, locks, fsize, core,
// msgqueue, rttime). Soft and Hard are -1 for "unlimited".
type Limit struct {
	Resource string  `json:"resource"`
	Soft     int64   `json:"soft"`
	Hard     int64   `json:"hard"`
	Used     *uint64 `json:"used"`
}
