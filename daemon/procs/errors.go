package procs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Kind classifies a core error. Each transport maps a Kind to its own
// representation in exactly one place (HTTP status, D-Bus error name).
type Kind int

// The error kinds the core returns.
const (
	KindFailed          Kind = iota // unexpected failure (HTTP 500, ...Error.Failed)
	KindNoSuchProcess               // the PID does not exist (404)
	KindAccessDenied                // the caller may not do this (403)
	KindInvalidArgument             // bad input from the caller (400)
	KindProcessChanged              // the PID now names another process (409)
	KindNotRestartable              // restart is not possible for this process (409)
)

// String returns the short name of the kind, as used in D-Bus error names.
func (k Kind) String() string {
	switch k {
	case KindNoSuchProcess:
		return "NoSuchProcess"
	case KindAccessDenied:
		return "AccessDenied"
	case KindInvalidArgument:
		return "InvalidArgument"
	case KindProcessChanged:
		return "ProcessChanged"
	case KindNotRestartable:
		return "NotRestartable"
	default:
		return "Failed"
	}
}

// Error is the typed error of the core. Msg is safe to show to the caller:
// it never holds another user's environment or the token.
type Error struct {
	Kind Kind
	Msg  string
	// Unit is set on KindNotRestartable when the PID belongs to a unit the
	// caller should restart instead.
	Unit string
	Err  error // optional cause, for logs (not shown to callers)
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, ErrNoSuchProcess) and friends match on Kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Msg == "" && t.Kind == e.Kind
}

// Sentinels for errors.Is: they match any *Error of the same Kind.
var (
	ErrFailed          = &Error{Kind: KindFailed}
	ErrNoSuchProcess   = &Error{Kind: KindNoSuchProcess}
	ErrAccessDenied    = &Error{Kind: KindAccessDenied}
	ErrInvalidArgument = &Error{Kind: KindInvalidArgument}
	ErrProcessChanged  = &Error{Kind: KindProcessChanged}
	ErrNotRestartable  = &Error{Kind: KindNotRestartable}
)

// KindOf returns the Kind of err; errors that are not *Error are KindFailed.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindFailed
}

func errf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

func noSuchProcess(pid int) *Error {
	return errf(KindNoSuchProcess, "process %d not found", pid)
}

// sysErr maps an errno from acting on t to a core error.
func sysErr(err error, pid int, what string) error {
	switch {
	case errors.Is(err, unix.ESRCH):
		return noSuchProcess(pid)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return &Error{Kind: KindAccessDenied, Msg: fmt.Sprintf("access denied: the daemon (uid %d) may not %s process %d", os.Geteuid(), what, pid), Err: err}
	}
	return &Error{Kind: KindFailed, Msg: fmt.Sprintf("cannot %s process %d: %v", what, pid, err), Err: err}
}
