package dbusiface

import (
	"errors"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// ErrorPrefix is the prefix of every error name this interface returns;
// the suffix is the core's error Kind (procs.Kind.String()).
const ErrorPrefix = BusName + ".Error."

// The error names, one per core error kind (docs/dbus-api.md, Errors).
const (
	ErrNoSuchProcess   = ErrorPrefix + "NoSuchProcess"
	ErrAccessDenied    = ErrorPrefix + "AccessDenied"
	ErrInvalidArgument = ErrorPrefix + "InvalidArgument"
	ErrProcessChanged  = ErrorPrefix + "ProcessChanged"
	ErrNotRestartable  = ErrorPrefix + "NotRestartable"
	ErrFailed          = ErrorPrefix + "Failed"
)

// Standard bus error names we return ourselves.
const (
	errInteractiveAuthRequired = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
	errLimitsExceeded          = "org.freedesktop.DBus.Error.LimitsExceeded"
)

// errInteractiveRequired is returned by the polkit check when polkit would
// ask for a password but the caller did not allow interactive
// authorization. The core wraps it into an AccessDenied *procs.Error whose
// Unwrap returns it, so toDBusError can name it precisely.
var errInteractiveRequired = errors.New("interactive authorization required")

// toDBusError is the one mapping from core errors to D-Bus errors. The
// message is the core's message, which is written to be shown to callers.
func toDBusError(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	msg := clean(err.Error())
	if errors.Is(err, errInteractiveRequired) {
		return &dbus.Error{Name: errInteractiveAuthRequired, Body: []any{msg + " (call again allowing interactive authorization, e.g. busctl --allow-interactive-authorization=yes)"}}
	}
	return &dbus.Error{Name: ErrorPrefix + procs.KindOf(err).String(), Body: []any{msg}}
}

// clean makes s a valid D-Bus string: valid UTF-8 without NUL. The bus
// daemon drops (and godbus refuses to send) anything else, which would
// leave the caller waiting for a reply that never comes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

func cleanAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = clean(s)
	}
	return out
}
