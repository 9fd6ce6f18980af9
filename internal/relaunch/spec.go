// Package relaunch describes a process to start again (Spec: what the core
// records of it before it is stopped) and reads the parts of that record
// that /proc gives as text: resource limits, the systemd slice, the argv[0]
// path and the output files. It also starts a Spec without systemd
// (StartDetached, through a helper mode of the daemon's own binary). It
// holds no authorization rule: the core decides who may relaunch what.
package relaunch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Spec is everything needed to start a process again. Argv and Env hold
// the bytes read from /proc, which need not be UTF-8.
type Spec struct {
	OldPID int
	// Exe is the executable the process runs (/proc/PID/exe).
	Exe string
	// Path is what to execute: the path argv[0] names when it resolves to
	// Exe (python3, not python3.11: the process name comes from it), else
	// Exe.
	Path   string
	Argv   []string
	Cwd    string
	Env    []string
	UID    uint32
	GID    uint32
	Groups []uint32
	// Nice, OOMScoreAdj and Limits are the process's own settings.
	Nice        int
	OOMScoreAdj int
	Limits      []Limit
	// Slice is the systemd slice that held the process ("" when none).
	Slice string
	// Stdout and Stderr are the regular files the process wrote to, "" when
	// its output went elsewhere (a terminal, a pipe, a socket).
	Stdout, Stderr string
}

// Limit is one resource limit (RLIMIT_*).
type Limit struct {
	Resource int
	// Name is systemd's name (NOFILE for LimitNOFILE=).
	Name     string
	Cur, Max uint64 // unix.RLIM_INFINITY for unlimited
}

// limitNames maps the rows of /proc/PID/limits to the resources.
var limitNames = map[string]struct {
	res  int
	name string
}{
	"Max cpu time":          {unix.RLIMIT_CPU, "CPU"},
	"Max file size":         {unix.RLIMIT_FSIZE, "FSIZE"},
	"Max data size":         {unix.RLIMIT_DATA, "DATA"},
	"Max stack size":        {unix.RLIMIT_STACK, "STACK"},
	"Max core file size":    {unix.RLIMIT_CORE, "CORE"},
	"Max resident set":      {unix.RLIMIT_RSS, "RSS"},
	"Max processes":         {unix.RLIMIT_NPROC, "NPROC"},
	"Max open files":        {unix.RLIMIT_NOFILE, "NOFILE"},
	"Max locked memory":     {unix.RLIMIT_MEMLOCK, "MEMLOCK"},
	"Max address space":     {unix.RLIMIT_AS, "AS"},
	"Max file locks":        {unix.RLIMIT_LOCKS, "LOCKS"},
	"Max pending signals":   {unix.RLIMIT_SIGPENDING, "SIGPENDING"},
	"Max msgqueue size":     {unix.RLIMIT_MSGQUEUE, "MSGQUEUE"},
	"Max nice priority":     {unix.RLIMIT_NICE, "NICE"},
	"Max realtime priority": {unix.RLIMIT_RTPRIO, "RTPRIO"},
	"Max realtime timeout":  {unix.RLIMIT_RTTIME, "RTTIME"},
}

// ParseLimits reads /proc/PID/limits (readable by anyone, unlike
// prlimit(2) on another user's process). Every one of the 16 limits must
// be there: a partial set would relaunch with some limits reset.
func ParseLimits(b []byte) ([]Limit, error) {
	var out []Limit
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		// "Max open files            1024                 524288               files"
		// The name column is 26 characters wide.
		if len(line) < 26 || !strings.HasPrefix(line, "Max ") {
			continue
		}
		name := strings.TrimSpace(line[:26])
		def, ok := limitNames[name]
		if !ok {
			continue
		}
		f := strings.Fields(line[26:])
		if len(f) < 2 {
			return nil, fmt.Errorf("limits: bad line %q", line)
		}
		cur, err1 := parseLimit(f[0])
		max, err2 := parseLimit(f[1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("limits: %q: %w", line, err)
		}
		out = append(out, Limit{Resource: def.res, Name: def.name, Cur: cur, Max: max})
	}
	if len(out) != len(limitNames) {
		return nil, fmt.Errorf("limits: %d of %d limits found", len(out), len(limitNames))
	}
	return out, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "unlimited" {
		return unix.RLIM_INFINITY, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// SliceOf returns the systemd slice that holds a process, from
// /proc/PID/cgroup: the last slice of the path before the first unit that
// is not a slice (a user's services under user@UID.service belong to
// user-UID.slice as far as the system manager is concerned). "" when the
// process sits in no slice (the root cgroup).
func SliceOf(cgroup []byte) string {
	var path string
	for _, line := range strings.Split(string(cgroup), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			path = p // the unified hierarchy wins
			break
		}
		if _, p, ok := strings.Cut(line, ":name=systemd:"); ok {
			path = p
		}
	}
	slice := ""
	for _, part := range strings.Split(path, "/") {
		if part == "" {
			continue
		}
		if !strings.HasSuffix(part, ".slice") {
			break
		}
		slice = part
	}
	return slice
}

// ResolvePath returns the path argv[0] names (relative to cwd, or looked
// up in the PATH of env when it has no slash) when that path is the same
// file as exe; exe otherwise.
func ResolvePath(argv0, cwd string, env []string, exe string) string {
	want, err := os.Stat(exe)
	if err != nil || argv0 == "" {
		return exe
	}
	same := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && os.SameFile(fi, want)
	}
	if strings.Contains(argv0, "/") {
		p := argv0
		if !filepath.IsAbs(p) {
			if cwd == "" {
				return exe
			}
			p = filepath.Join(cwd, p)
		}
		if same(p) {
			return p
		}
		return exe
	}
	path := "/usr/local/bin:/usr/bin:/bin" // execvp's default, roughly
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
			break
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue // a relative PATH entry would depend on our cwd
		}
		if p := filepath.Join(dir, argv0); same(p) {
			return p
		}
	}
	return exe
}

// OutputFile returns the path of an fd link (readlink /proc/PID/fd/N) when
// it is a regular file that still exists, "" otherwise.
func OutputFile(link string) string {
	if !filepath.IsAbs(link) || strings.HasSuffix(link, " (deleted)") || strings.HasPrefix(link, "/dev/") {
		return ""
	}
	fi, err := os.Stat(link)
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return link
}

// NotUTF8 names the first argument or environment entry that is not
// valid UTF-8 ("" when all are): systemd's D-Bus API carries only UTF-8
// strings, so such a process cannot be relaunched through it unchanged.
func (s *Spec) NotUTF8() string {
	for i, a := range s.Argv {
		if !utf8.ValidString(a) {
			return fmt.Sprintf("argument %d (%q)", i, a)
		}
	}
	for _, kv := range s.Env {
		if !utf8.ValidString(kv) {
			name, _, _ := strings.Cut(kv, "=")
			return fmt.Sprintf("environment variable %q", name)
		}
	}
	if !utf8.ValidString(s.Path) {
		return fmt.Sprintf("executable path %q", s.Path)
	}
	if !utf8.ValidString(s.Cwd) {
		return fmt.Sprintf("working directory %q", s.Cwd)
	}
	return ""
}

// ErrTooLong is ReadList's answer for a file longer than its cap.
var ErrTooLong = errors.New("longer than the read cap")

// ReadList reads a NUL-separated /proc file (cmdline, environ) of at most
// max bytes and splits it, keeping every byte: a relaunch must not turn
// bytes that are not UTF-8 into U+FFFD. A longer file is ErrTooLong, never
// a silently cut list.
func ReadList(path string, max int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, ErrTooLong
	}
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return []string{}, nil
	}
	return strings.Split(string(b), "\x00"), nil
}
