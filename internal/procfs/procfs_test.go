package procfs

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// statLine builds a /proc/PID/stat line with the given comm and distinct,
// recognisable values in the fields the parser reads. Field numbers are
// proc(5)'s (1-based): 3 state, 4 ppid, 9 flags, 14 utime, 15 stime,
// 19 nice, 20 num_threads, 22 starttime, 24 rss, 28 startstack,
// 48 arg_start, 49 arg_end.
func statLine(pid int, comm string, set map[int]string) string {
	vals := map[int]string{
		3: "S", 4: "4242", 9: "4194560", 14: "1234", 15: "567", 19: "-7",
		20: "3", 22: "987654", 24: "2048",
	}
	for k, v := range set {
		vals[k] = v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d (%s)", pid, comm)
	for f := 3; f <= 52; f++ {
		v, ok := vals[f]
		if !ok {
			v = strconv.Itoa(f * 11) // filler, unused by the parser
		}
		b.WriteString(" " + v)
	}
	b.WriteString("\n")
	return b.String()
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		line string
		want statFields
	}{
		{
			name: "plain",
			line: statLine(1234, "bash", nil),
			want: statFields{comm: "bash", state: 'S', ppid: 4242, flags: 4194560, utime: 1234, stime: 567,
				nice: -7, numThreads: 3, startTicks: 987654, rssPages: 2048, vsize: 253, startStack: 308, argStart: 528, argEnd: 539},
		},
		{
			name: "comm with spaces",
			line: statLine(7, "Web Content", map[int]string{3: "R", 19: "19"}),
			want: statFields{comm: "Web Content", state: 'R', ppid: 4242, flags: 4194560, utime: 1234, stime: 567,
				nice: 19, numThreads: 3, startTicks: 987654, rssPages: 2048, vsize: 253, startStack: 308, argStart: 528, argEnd: 539},
		},
		{
			// A process may name itself ") S 1 1 1": only the last ')' ends comm.
			name: "comm with parens that mimic fields",
			line: statLine(8, "x) Z 1 2 3 (y", map[int]string{3: "T", 4: "99"}),
			want: statFields{comm: "x) Z 1 2 3 (y", state: 'T', ppid: 99, flags: 4194560, utime: 1234, stime: 567,
				nice: -7, numThreads: 3, startTicks: 987654, rssPages: 2048, vsize: 253, startStack: 308, argStart: 528, argEnd: 539},
		},
		{
			name: "comm is a lone paren",
			line: statLine(9, ")", map[int]string{3: "Z"}),
			want: statFields{comm: ")", state: 'Z', ppid: 4242, flags: 4194560, utime: 1234, stime: 567,
				nice: -7, numThreads: 3, startTicks: 987654, rssPages: 2048, vsize: 253, startStack: 308, argStart: 528, argEnd: 539},
		},
		{
			name: "comm with newline",
			line: statLine(10, "a\nb) c", map[int]string{3: "I", 9: "2097152"}),
			want: statFields{comm: "a\nb) c", state: 'I', ppid: 4242, flags: 2097152, utime: 1234, stime: 567,
				nice: -7, numThreads: 3, startTicks: 987654, rssPages: 2048, vsize: 253, startStack: 308, argStart: 528, argEnd: 539},
		},
		{
			name: "empty comm, big numbers",
			line: statLine(11, "", map[int]string{22: "18446744073709551615", 14: "0", 15: "0"}),
			want: statFields{comm: "", state: 'S', ppid: 4242, flags: 4194560, utime: 0, stime: 0,
				nice: -7, numThreads: 3, startTicks: 18446744073709551615, rssPages: 2048, vsize: 253, startStack: 308, argStart: 528, argEnd: 539},
		},
		{
			// Exactly the fields up to rss (24), no more, no newline.
			name: "minimal length",
			line: "5 (m) S 1 5 5 0 -1 64 0 0 0 0 8 9 0 0 20 5 1 0 77 1000 12",
			want: statFields{comm: "m", state: 'S', ppid: 1, flags: 64, utime: 8, stime: 9,
				nice: 5, numThreads: 1, startTicks: 77, rssPages: 12, vsize: 1000},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.line))
			if err != nil {
				t.Fatalf("parseStat(%q): %v", tc.line, err)
			}
			if got != tc.want {
				t.Errorf("parseStat(%q)\n got %+v\nwant %+v", tc.line, got, tc.want)
			}
		})
	}
}

func TestParseStatRejects(t *testing.T) {
	full := statLine(1234, "a) b", nil)
	// Where field 24 (rss) starts: every prefix that ends before it lacks
	// a field the parser needs and must be an error, never a zero value.
	rssStart := 0
	closing := strings.LastIndexByte(full, ')')
	fields := 0
	for i := closing + 1; i < len(full); i++ {
		if full[i] == ' ' {
			fields++
			if fields == 22 { // the space before field 24 (3 + 21)
				rssStart = i + 1
				break
			}
		}
	}
	if rssStart == 0 || !strings.HasPrefix(full[rssStart:], "2048 ") {
		t.Fatalf("test bug: rss field not found in %q (at %d)", full, rssStart)
	}
	for i := 0; i <= rssStart; i++ {
		if _, err := parseStat([]byte(full[:i])); err == nil {
			t.Errorf("parseStat(truncated to %d bytes %q) = nil error", i, full[:i])
		}
	}

	bad := map[string]string{
		"empty":             "",
		"no parens":         "12 bash S 1 2 3",
		"close before open": "12 )bash( S " + strings.Repeat("1 ", 30),
		"only comm":         "12 (bash)",
		"state two chars":   statLine(1, "x", map[int]string{3: "SS"}),
		"ppid not number":   statLine(1, "x", map[int]string{4: "abc"}),
		"flags negative":    statLine(1, "x", map[int]string{9: "-1"}),
		"utime not number":  statLine(1, "x", map[int]string{14: "1e3"}),
		"nice not number":   statLine(1, "x", map[int]string{19: "--"}),
		"start overflow":    statLine(1, "x", map[int]string{22: "18446744073709551616"}),
		"rss not number":    statLine(1, "x", map[int]string{24: "12kB"}),
		"NUL inside":        strings.Replace(statLine(1, "x", nil), " 1234 ", " 12\x0034 ", 1),
	}
	for name, line := range bad {
		t.Run(name, func(t *testing.T) {
			if st, err := parseStat([]byte(line)); err == nil {
				t.Errorf("parseStat(%q) = %+v, nil; want an error", line, st)
			}
		})
	}
}

// TestParseStatSelf checks the parser against the kernel's real output.
func TestParseStatSelf(t *testing.T) {
	// thread-self: our own thread is the one running while it reads.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	st, err := parseStat(b)
	if err != nil {
		t.Fatalf("parseStat(/proc/self/stat = %q): %v", b, err)
	}
	comm, _ := os.ReadFile("/proc/thread-self/comm")
	if st.comm != strings.TrimSuffix(string(comm), "\n") {
		t.Errorf("comm = %q, /proc/thread-self/comm = %q", st.comm, comm)
	}
	if st.ppid != os.Getppid() {
		t.Errorf("ppid = %d, os.Getppid() = %d", st.ppid, os.Getppid())
	}
	if st.state != 'R' {
		t.Errorf("state = %q, want R (we are running while we read it)", st.state)
	}
	if st.numThreads < 1 || st.startTicks == 0 || st.rssPages == 0 {
		t.Errorf("implausible values: %+v", st)
	}
}

// FuzzParseStat: parseStat must never panic, and whatever it accepts must
// be consistent with the rule "comm ends at the last ')'".
func FuzzParseStat(f *testing.F) {
	f.Add([]byte(statLine(1, "bash", nil)))
	f.Add([]byte(statLine(2, "a) b (c", nil)))
	f.Add([]byte(statLine(3, "x\ny", nil)))
	f.Add([]byte("5 (m) S 1 5 5 0 -1 64 0 0 0 0 8 9 0 0 20 5 1 0 77 1000 12"))
	f.Add([]byte("1 ()"))
	f.Add([]byte(")("))
	f.Add([]byte(""))
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(b)
		if err != nil {
			return
		}
		open := bytes.IndexByte(b, '(')
		closing := bytes.LastIndexByte(b, ')')
		if open < 0 || closing < open {
			t.Fatalf("accepted %q without a (...) comm", b)
		}
		if st.comm != string(b[open+1:closing]) {
			t.Fatalf("comm = %q, want %q", st.comm, b[open+1:closing])
		}
	})
}

func TestStatusName(t *testing.T) {
	want := map[byte]string{
		'R': "running", 'S': "sleeping", 'D': "disk-sleep", 'T': "stopped", 't': "tracing-stop",
		'Z': "zombie", 'X': "dead", 'I': "idle", '?': "unknown",
	}
	for c, w := range want {
		if got := statusName(c); got != w {
			t.Errorf("statusName(%q) = %q, want %q", c, got, w)
		}
	}
}

func TestSplitNUL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", []string{}},
		{"only NULs", "\x00\x00", []string{}},
		{"argv", "sleep\x00100\x00", []string{"sleep", "100"}},
		{"no trailing NUL", "a\x00b", []string{"a", "b"}},
		{"empty arg inside", "a\x00\x00b\x00", []string{"a", "", "b"}},
		{"spaces kept", "sh\x00-c\x00while :; do :; done\x00", []string{"sh", "-c", "while :; do :; done"}},
		{"invalid UTF-8", "ab\xff\xfecd\x00\xc3\x00", []string{"ab\uFFFDcd", "\uFFFD"}},
		{"valid UTF-8 kept", "caf\xc3\xa9\x00<script>\x00", []string{"café", "<script>"}},
		{"env", "A=1\x00B=x=y\x00", []string{"A=1", "B=x=y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitNUL([]byte(tc.in))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SplitNUL(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for _, s := range got {
				if !utf8.ValidString(s) {
					t.Errorf("SplitNUL(%q) returned invalid UTF-8 %q", tc.in, s)
				}
			}
		})
	}
}

func TestParseCgroup(t *testing.T) {
	tests := []struct {
		name, in, path, unit string
	}{
		{"v2 service", "0::/system.slice/nginx.service\n", "/system.slice/nginx.service", "nginx.service"},
		{"v2 session scope", "0::/user.slice/user-1000.slice/session-3.scope\n", "/user.slice/user-1000.slice/session-3.scope", "session-3.scope"},
		{"v2 user service nested", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n",
			"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "foo.service"},
		{"v2 init.scope", "0::/init.scope\n", "/init.scope", "init.scope"},
		{"v2 root", "0::/\n", "/", ""},
		{"v2 no unit", "0::/process_api/abc\n", "/process_api/abc", ""},
		{"v1 name=systemd", "9:name=systemd:/system.slice/cron.service\n8:pids:/\n4:memory:/x\n", "/system.slice/cron.service", "cron.service"},
		{"hybrid prefers v2", "1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n", "/system.slice/b.service", "b.service"},
		{"empty", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, u := ParseCgroup([]byte(tc.in))
			if p != tc.path || u != tc.unit {
				t.Errorf("ParseCgroup(%q) = %q, %q; want %q, %q", tc.in, p, u, tc.path, tc.unit)
			}
		})
	}
}

func TestIDsFromStatus(t *testing.T) {
	status := []byte("Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t0\t1001\t0\nGid:\t65534\t65534\t65534\t65534\nGroups:\t4 24 27 \n")
	uids, ok := IDsFromStatus(status, "Uid")
	if !ok || uids != [3]uint32{1000, 0, 1001} {
		t.Errorf("Uid = %v, %v; want [1000 0 1001] true", uids, ok)
	}
	gids, ok := IDsFromStatus(status, "Gid")
	if !ok || gids != [3]uint32{65534, 65534, 65534} {
		t.Errorf("Gid = %v, %v", gids, ok)
	}
	if _, ok := IDsFromStatus(status, "Xid"); ok {
		t.Error("missing key reported as found")
	}
	if _, ok := IDsFromStatus([]byte("Name:\tx\nUid:\t1 2\n"), "Uid"); ok {
		t.Error("short Uid line accepted")
	}
	if _, ok := IDsFromStatus([]byte("Name:\tx\nUid:\t1 2 -3 4\n"), "Uid"); ok {
		t.Error("negative uid accepted")
	}
	// "Uid:" must start a line: a process name cannot fake it.
	if _, ok := IDsFromStatus([]byte("Name:\tUid:\t0\t0\t0\t0\n"), "Uid"); ok {
		t.Error("Uid inside the Name line accepted")
	}
	if g := GroupsFromStatus(status); !reflect.DeepEqual(g, []uint32{4, 24, 27}) {
		t.Errorf("GroupsFromStatus = %v", g)
	}
}

func TestCreateTime(t *testing.T) {
	if got := CreateTime(1_700_000_000, 12345); got != 1_700_000_123.45 {
		t.Errorf("createTime = %v, want 1700000123.45", got)
	}
}

func TestCPUSeconds(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/stat", []byte("cpu  100 20 300 4000 50 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\nbtime 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := CPUSeconds(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"user": 1, "nice": 0.2, "system": 3, "idle": 40, "iowait": 0.5, "irq": 0.06, "softirq": 0.07, "steal": 0.08}
	for m, v := range want {
		if got[m] != v {
			t.Errorf("%s = %v, want %v", m, got[m], v)
		}
	}
	if err := os.WriteFile(dir+"/stat", []byte("intr 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CPUSeconds(dir); err == nil {
		t.Error("no cpu line: no error")
	}
	real, err := CPUSeconds("/proc")
	if err != nil || real["idle"] <= 0 {
		t.Errorf("/proc/stat: %v %v", real, err)
	}
}
