// Package procfs reads /proc for the core (daemon/procs): the inventory
// (one snapshot of every process with its ports, built in parallel, with
// the fd-scan cache of fdcache.go and the socket tables of each network
// namespace, via sock_diag or /proc/PID/net), and the parsers of the files
// the core reads when it pins a process (stat, status, cmdline, environ,
// cgroup, smaps). It knows no rule about who may see or do what.
package procfs

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ClockTicks is USER_HZ, the unit of /proc/PID/stat times, fixed at 100 on every Linux architecture we ship.
const ClockTicks = 100

// pfKthread is PF_KTHREAD in the flags field of /proc/PID/stat.
const pfKthread = 0x00200000

// Caps on what we read from files a process controls.
const (
	StatCap    = 4 << 10
	CmdlineCap = 128 << 10
	EnvironCap = 128 << 10
)

// statFields are the parts of /proc/PID/stat the inventory uses.
type statFields struct {
	comm       string
	state      byte
	ppid       int
	flags      uint64
	utime      uint64
	stime      uint64
	nice       int
	numThreads int
	startTicks uint64
	rssPages   uint64
	vsize      uint64 // bytes
	startStack uint64 // 0 if not shown (no ptrace access, exiting, short line)
	argStart   uint64 // where argv lies in its memory (fields 48, 49); 0 as startStack
	argEnd     uint64
}

// Stat is what the core needs of /proc/PID/stat.
type Stat struct {
	State      byte   // R, S, D, Z, T, …
	PPID       int    //
	Nice       int    //
	StartTicks uint64 // field 22: with the PID, names one process
	CPUTicks   uint64 // utime+stime
	flags      uint64
}

// KernelThread says whether the process is a kernel thread (PF_KTHREAD).
func (st Stat) KernelThread() bool { return st.flags&pfKthread != 0 }

// ParseStat parses /proc/PID/stat (see parseStat).
func ParseStat(b []byte) (Stat, error) {
	f, err := parseStat(b)
	if err != nil {
		return Stat{}, err
	}
	return Stat{State: f.state, PPID: f.ppid, Nice: f.nice, StartTicks: f.startTicks, CPUTicks: f.utime + f.stime, flags: f.flags}, nil
}

var errShortStat = errors.New("short or malformed stat")

// parseStat parses /proc/PID/stat. comm may hold spaces and ')' so the fields
// are split at the last ')' (as polkit does), never at the first.
func parseStat(b []byte) (statFields, error) {
	var st statFields
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open || closing+2 > len(b) {
		return st, errShortStat
	}
	st.comm = string(b[open+1 : closing])
	rest := b[closing+2:]
	// Fields from "state" (field 3) on; we need up to rss (field 24), and
	// read startstack (field 28) and arg_start, arg_end (48, 49) if there.
	var f [47][]byte
	n := splitFields(rest, f[:])
	if n < 22 || len(f[0]) != 1 {
		return st, errShortStat
	}
	st.state = f[0][0]
	var err error
	num := func(i int) uint64 {
		v, e := strconv.ParseUint(string(bytes.TrimSpace(f[i])), 10, 64)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	sgn := func(i int) int {
		v, e := strconv.Atoi(string(bytes.TrimSpace(f[i])))
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	st.ppid = sgn(1)
	st.flags = num(6)
	st.utime = num(11)
	st.stime = num(12)
	st.nice = sgn(16)
	st.numThreads = sgn(17)
	st.startTicks = num(19)
	st.vsize = num(20)
	st.rssPages = num(21)
	if n >= 26 {
		st.startStack = num(25)
	}
	if n == len(f) {
		st.argStart, st.argEnd = num(45), num(46)
	}
	if err != nil {
		return st, errShortStat
	}
	return st, nil
}

// splitFields fills f with the space-separated fields of b, without
// allocating, and returns how many it found (at most len(f)).
func splitFields(b []byte, f [][]byte) int {
	n := 0
	for n < len(f) {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		if len(b) == 0 {
			break
		}
		end := bytes.IndexByte(b, ' ')
		if end < 0 {
			end = len(b)
		}
		f[n] = b[:end]
		b = b[end:]
		n++
	}
	return n
}

// statusName maps the state letter to psutil's status names (the original API's, docs/http-api.md).
func statusName(c byte) string {
	switch c {
	case 'R':
		return "running"
	case 'S':
		return "sleeping"
	case 'D':
		return "disk-sleep"
	case 'T':
		return "stopped"
	case 't':
		return "tracing-stop"
	case 'Z':
		return "zombie"
	case 'X', 'x':
		return "dead"
	case 'K':
		return "wake-kill"
	case 'W':
		return "waking"
	case 'P':
		return "parked"
	case 'I':
		return "idle"
	}
	return "unknown"
}

// ReadCapped reads at most max bytes of path into buf (grown as needed).
func ReadCapped(path string, buf []byte, max int) ([]byte, error) {
	return readFileInto(path, buf, max, false)
}

// SplitNUL turns a NUL-separated buffer (cmdline, environ) into strings.
// Invalid UTF-8 is kept as data; encoders replace it.
func SplitNUL(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return []string{}
	}
	out := make([]string, 0, bytes.Count(b, []byte{0})+1)
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return append(out, validString(b))
		}
		out = append(out, validString(b[:i]))
		b = b[i+1:]
	}
}

// validString is string(b) with invalid UTF-8 replaced by U+FFFD, copied
// once when it is valid (the common case).
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// IDsFromStatus returns the Uid: or Gid: line of /proc/PID/status:
// real, effective, saved.
func IDsFromStatus(b []byte, key string) ([3]uint32, bool) {
	var ids [3]uint32
	i := bytes.Index(b, []byte("\n"+key+":"))
	if i < 0 {
		return ids, false
	}
	line := b[i+len(key)+2:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	fs := strings.Fields(string(line))
	if len(fs) < 3 {
		return ids, false
	}
	for k := 0; k < 3; k++ {
		v, err := strconv.ParseUint(fs[k], 10, 32)
		if err != nil {
			return ids, false
		}
		ids[k] = uint32(v)
	}
	return ids, true
}

// bootTime reads btime from /proc/stat, as psutil does.
func bootTime(procRoot string) (float64, error) {
	b, err := os.ReadFile(procRoot + "/stat")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, errors.New("no btime in /proc/stat")
}

// CreateTime converts start ticks to seconds since the epoch.
func CreateTime(boot float64, startTicks uint64) float64 {
	return boot + float64(startTicks)/ClockTicks
}

// isoLocal formats like Python's datetime.fromtimestamp(t).isoformat() for
// whole seconds: local time, no zone (the original API's create_time_iso).
func isoLocal(t float64) string {
	sec := int64(t)
	return time.Unix(sec, int64((t-float64(sec))*1e9)).Format("2006-01-02T15:04:05")
}
