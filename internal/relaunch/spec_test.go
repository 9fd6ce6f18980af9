package relaunch

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseLimits(t *testing.T) {
	b, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		t.Fatal(err)
	}
	ls, err := ParseLimits(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 16 {
		t.Fatalf("%d limits", len(ls))
	}
	for _, l := range ls {
		var want unix.Rlimit
		if err := unix.Prlimit(0, l.Resource, nil, &want); err != nil {
			t.Fatal(err)
		}
		if l.Cur != want.Cur || l.Max != want.Max {
			t.Errorf("%s: %d/%d, getrlimit says %d/%d", l.Name, l.Cur, l.Max, want.Cur, want.Max)
		}
	}
	if _, err := ParseLimits(b[:len(b)/2]); err == nil {
		t.Error("a cut limits file parsed without error")
	}
}

func TestSliceOf(t *testing.T) {
	for in, want := range map[string]string{
		"0::/user.slice/user-1000.slice/session-3.scope\n":                       "user-1000.slice",
		"0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.scope\n": "user-1000.slice",
		"0::/system.slice/cron.service\n":                                        "system.slice",
		"0::/\n":                                                                 "",
		"0::/init.scope\n":                                                       "",
		"12:cpu:/x\n9:name=systemd:/user.slice/user-65534.slice/run-r1.scope\n0::/whatever\n": "",
		"12:cpu:/x\n9:name=systemd:/user.slice/user-65534.slice/run-r1.scope\n":               "user-65534.slice",
	} {
		if got := SliceOf([]byte(in)); got != want {
			t.Errorf("SliceOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolvePath(t *testing.T) {
	dash, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(dash, filepath.Join(dir, "mysh")); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/bin:/bin"}
	for _, tc := range []struct{ argv0, cwd, want string }{
		{"sh", "/", "/usr/bin/sh"},                  // PATH lookup
		{"/bin/sh", "/", "/bin/sh"},                 // absolute, same file
		{"./mysh", dir, filepath.Join(dir, "mysh")}, // relative to the cwd
		{"ls", "/", dash},                           // another program: the exe
		{"-bash", "/", dash},                        // a login shell's argv[0]
		{"/nonexistent/sh", "/", dash},              // gone
		{"", "/", dash},
	} {
		if got := ResolvePath(tc.argv0, tc.cwd, env, dash); got != tc.want {
			t.Errorf("ResolvePath(%q, %q) = %q, want %q", tc.argv0, tc.cwd, got, tc.want)
		}
	}
}

func TestOutputFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		f:                 f,
		f + " (deleted)":  "",
		"/dev/null":       "",
		"pipe:[1234]":     "",
		"socket:[99]":     "",
		"/dev/pts/3":      "",
		t.TempDir():       "",
		"/nonexistent/xx": "",
	} {
		if got := OutputFile(in); got != want {
			t.Errorf("OutputFile(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNotUTF8(t *testing.T) {
	s := Spec{Path: "/bin/sh", Argv: []string{"sh", "$HOME %n"}, Env: []string{"A=$B"}, Cwd: "/"}
	if r := s.NotUTF8(); r != "" {
		t.Errorf("valid spec: %q", r)
	}
	s.Argv = append(s.Argv, "bad\xff")
	if r := s.NotUTF8(); r == "" {
		t.Error("argv with \\xff passed")
	}
	s.Argv = s.Argv[:2]
	s.Env = append(s.Env, "RAW=\xfe")
	if r := s.NotUTF8(); r != `environment variable "RAW"` {
		t.Errorf("env: %q", r)
	}
}

func TestReadList(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cmdline")
	if err := os.WriteFile(f, []byte("sh\x00bad\xff\xfe\x00\x00nl\nx\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadList(f, 64)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sh", "bad\xff\xfe", "", "nl\nx"}; !slices.Equal(got, want) {
		t.Errorf("ReadList = %q, want %q", got, want)
	}
	if _, err := ReadList(f, 10); !errors.Is(err, ErrTooLong) {
		t.Errorf("over the cap: %v, want ErrTooLong", err)
	}
}
