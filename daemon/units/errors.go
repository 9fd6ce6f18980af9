package units

import (
	"errors"
	"fmt"
)

// Kind classifies an error of this package. Each transport maps a Kind to
// its own representation in exactly one place (HTTP status and code).
type Kind int

// The error kinds.
const (
	KindFailed          Kind = iota // unexpected failure (HTTP 500)
	KindNoSystemd                   // systemd is not PID 1 here (503)
	KindInvalidArgument             // malformed unit name or parameter (400)
	KindNoSuchUnit                  // systemd does not know the unit (404)
	KindRefused                     // the action would cut the branch we sit on (409)
	KindAccessDenied                // the caller may not read this (403)
)

// Code is the snake_case code of the kind, as HTTP error bodies carry it.
func (k Kind) Code() string {
	switch k {
	case KindNoSystemd:
		return "no_systemd"
	case KindInvalidArgument:
		return "invalid_argument"
	case KindNoSuchUnit:
		return "no_such_unit"
	case KindRefused:
		return "unit_protected"
	case KindAccessDenied:
		return "access_denied"
	default:
		return "failed"
	}
}

// Error is the typed error of this package. Msg is safe to show to callers.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // cause, for logs only
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err (KindFailed for foreign errors).
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

// ErrNoSystemd is returned by every call where systemd is not PID 1.
var ErrNoSystemd = &Error{Kind: KindNoSystemd, Msg: "systemd is not running on this host"}

func failed(msg string, err error) *Error { return &Error{Kind: KindFailed, Msg: msg, Err: err} }

// AuditCode is the result an audit line records for this error.
func (e *Error) AuditCode() string { return e.Kind.Code() }
