package procfs

import (
	"bufio"
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Readers for a process's detail view. dir is /proc/PID; what cannot be
// read is left empty.

// Caps on the detail view.
const (
	maxOpenFiles   = 1000
	maxTopMappings = 15
)

// ParseCgroup returns the cgroup v2 path (or cgroup v1's name=systemd one)
// and the deepest systemd unit in it, as the list's unit (unitcache.go).
func ParseCgroup(b []byte) (path, unit string) {
	p, _ := cgroupPath(b)
	return string(p), unitOfCgroup(b)
}

// OpenFiles lists the paths the process has open (not sockets or pipes).
func OpenFiles(dir string) []string {
	out := []string{}
	d, err := os.Open(dir + "/fd")
	if err != nil {
		return out
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	slices.SortFunc(names, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	for _, n := range names {
		l, err := os.Readlink(dir + "/fd/" + n)
		if err != nil || !strings.HasPrefix(l, "/") {
			continue
		}
		out = append(out, strings.ToValidUTF8(l, "\uFFFD"))
		if len(out) >= maxOpenFiles {
			break
		}
	}
	return out
}

// kbValue parses "Rss:   1234 kB" lines into bytes.
func kbValue(line []byte) (string, uint64, bool) {
	k, v, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return "", 0, false
	}
	fs := bytes.Fields(v)
	if len(fs) != 2 || string(fs[1]) != "kB" {
		return "", 0, false
	}
	n, err := strconv.ParseUint(string(fs[0]), 10, 64)
	if err != nil {
		return "", 0, false
	}
	return string(k), n * 1024, true
}

// SmapsRollup reads /proc/PID/smaps_rollup (dir is /proc/PID).
func SmapsRollup(dir string) MemorySum {
	var m MemorySum
	b, err := ReadCapped(dir+"/smaps_rollup", nil, 16<<10)
	if err != nil {
		return m
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := kbValue(line)
		if !ok {
			continue
		}
		switch k {
		case "Rss":
			m.RSS = v
		case "Pss":
			m.PSS = v
		case "Swap":
			m.Swap = v
		case "Anonymous":
			m.Anon = v
		case "Private_Clean", "Private_Dirty":
			m.Private += v
		case "Shared_Clean", "Shared_Dirty":
			m.Shared += v
		}
	}
	if m.RSS > m.Anon {
		m.File = m.RSS - m.Anon
	}
	return m
}

// TopMappings reads /proc/PID/smaps and returns the largest mappings by
// RSS, merged by path.
func TopMappings(dir string) []Mapping {
	out := []Mapping{}
	f, err := os.Open(dir + "/smaps")
	if err != nil {
		return out
	}
	defer f.Close()
	byPath := map[string]*Mapping{}
	var cur *Mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 0 && (line[0] >= '0' && line[0] <= '9' || line[0] >= 'a' && line[0] <= 'f') && bytes.Contains(line, []byte("-")) && !bytes.Contains(line[:bytes.IndexByte(line, '-')+1], []byte(":")) {
			fs := bytes.Fields(line)
			path, kind := "[anon]", "anon"
			if len(fs) >= 6 {
				path = string(bytes.Join(fs[5:], []byte(" ")))
				switch {
				case path == "[heap]":
					kind = "heap"
				case strings.HasPrefix(path, "[stack"):
					kind = "stack"
				case strings.HasPrefix(path, "["):
					kind = strings.Trim(path, "[]")
				default:
					kind = "file"
				}
			}
			if byPath[path] == nil {
				byPath[path] = &Mapping{Path: strings.ToValidUTF8(path, "\uFFFD"), Kind: kind}
			}
			cur = byPath[path]
			continue
		}
		if cur == nil {
			continue
		}
		k, v, ok := kbValue(line)
		if !ok {
			continue
		}
		switch k {
		case "Rss":
			cur.RSS += v
		case "Pss":
			cur.PSS += v
		case "Swap":
			cur.Swap += v
		}
	}
	for _, m := range byPath {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Mapping) int {
		if a.RSS != b.RSS {
			if a.RSS > b.RSS {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	if len(out) > maxTopMappings {
		out = out[:maxTopMappings]
	}
	return out
}

// GroupsFromStatus returns the supplementary groups (Groups:) of a
// /proc/PID/status.
func GroupsFromStatus(b []byte) []uint32 {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Groups:"); ok {
			var out []uint32
			for _, f := range strings.Fields(v) {
				if g, err := strconv.ParseUint(f, 10, 32); err == nil {
					out = append(out, uint32(g))
				}
			}
			return out
		}
	}
	return nil
}

// Threads lists the TIDs of pid (the PID itself when the list is unreadable).
func Threads(procRoot string, pid int) []int {
	d, err := os.Open(procRoot + "/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return []int{pid}
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	if len(tids) == 0 {
		return []int{pid}
	}
	return tids
}
