//go:build linux && (amd64 || arm64)

package procs

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// denyPidfdOpen installs a seccomp filter on every thread of this process
// that makes pidfd_open fail with ENOSYS, as an old kernel or a strict
// sandbox would.
func denyPidfdOpen() error {
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_PIDFD_OPEN},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}

// TestNoPidfdNoFallback (C1): without pidfd_open, acting on a process is
// refused; the core never falls back to kill(pid). The test re-runs itself
// in a child process under a seccomp filter (filters cannot be removed).
func TestNoPidfdNoFallback(t *testing.T) {
	if !testproc.InChild(t, "PROCWATCH_NO_PIDFD", "under seccomp", nil) {
		return
	}
	if err := denyPidfdOpen(); err != nil {
		t.Skip("cannot install a seccomp filter:", err)
	}
	if _, err := unix.PidfdOpen(os.Getpid(), 0); !errors.Is(err, unix.ENOSYS) {
		t.Fatalf("the filter does not work: pidfd_open = %v", err)
	}
	s := newCore(t, Options{})
	c := testproc.Sleeper(t)
	ctx := context.Background()
	_, err := s.Signal(ctx, root, Target{PID: c.PID}, "KILL")
	if err == nil || !strings.Contains(err.Error(), "pidfd_open is not available") {
		t.Errorf("Signal without pidfds = %v, want a refusal naming pidfd_open", err)
	}
	if err := s.Renice(ctx, root, Target{PID: c.PID}, 10); err == nil {
		t.Error("Renice without pidfds succeeded")
	}
	if _, err := s.Restart(ctx, root, Target{PID: c.PID}); err == nil {
		t.Error("Restart without pidfds succeeded")
	}
	if !alive(c.PID) || niceOf(t, c.PID) != baseNice(t) {
		t.Fatal("the process was touched without a pidfd (a fallback to kill/setpriority by PID)")
	}
	// Listing needs no pidfd and still works.
	if find(t, listAll(t, s, root), c.PID) == nil {
		t.Error("List does not work without pidfds")
	}
}
