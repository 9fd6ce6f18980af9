package dbusiface

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/godbus/dbus/v5"
)

// polkit's well-known name, object and interface.
const (
	polkitName      = "org.freedesktop.PolicyKit1"
	polkitPath      = "/org/freedesktop/PolicyKit1/Authority"
	polkitInterface = "org.freedesktop.PolicyKit1.Authority"

	// polkitAllowUserInteraction is CheckAuthorizationFlags.AllowUserInteraction.
	polkitAllowUserInteraction uint32 = 1
)

// bus errors that mean "there is no polkit here".
var noPolkitErrors = map[string]bool{
	"org.freedesktop.DBus.Error.ServiceUnknown": true,
	"org.freedesktop.DBus.Error.NameHasNoOwner": true,
}

// callerIdentity asks the bus daemon for the uid and groups of sender
// (GetConnectionCredentials: UnixUserID, UnixGroupIDs). The sender name is
// stamped by the bus daemon, so it cannot be forged by the caller. Any
// failure to get the uid is an error: the caller is then refused, never
// taken for root. A bus that does not report the groups leaves them nil:
// the core then takes the uid's groups from the user database.
func (s *Server) callerIdentity(ctx context.Context, conn *dbus.Conn, sender string) (uint32, []uint32, error) {
	if s.lookupUID != nil {
		uid, err := s.lookupUID(ctx, conn, sender)
		return uid, nil, err
	}
	if sender == "" {
		return 0, nil, errors.New("the message has no sender")
	}
	ctx, cancel := context.WithTimeout(ctx, s.busTimeout)
	defer cancel()
	var creds map[string]dbus.Variant
	err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionCredentials", 0, sender).Store(&creds)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot get the credentials of %s: %w", sender, err)
	}
	uid, ok := creds["UnixUserID"].Value().(uint32)
	if !ok {
		return 0, nil, fmt.Errorf("the bus did not report the uid of %s", sender)
	}
	if groups, ok := creds["UnixGroupIDs"].Value().([]uint32); ok {
		return uid, groups, nil
	}
	return uid, nil, nil // the core then asks the user database
}

// polkitSubject is polkit's (sa{sv}) Subject.
type polkitSubject struct {
	Kind    string
	Details map[string]dbus.Variant
}

// polkitResult is polkit's (bba{ss}) AuthorizationResult.
type polkitResult struct {
	IsAuthorized bool
	IsChallenge  bool
	Details      map[string]string
}

// authorizer returns the procs.Caller Authorize callback for one incoming
// call: polkit CheckAuthorization with subject system-bus-name {sender}.
// It returns (false, nil) when polkit is not installed or not running, an
// error when polkit fails, times out, or would need interaction the caller
// did not allow. The core denies on false and on error.
func (s *Server) authorizer(conn *dbus.Conn, sender string, interactive bool) func(ctx context.Context, action string, pid int) (bool, error) {
	return func(ctx context.Context, action string, pid int) (bool, error) {
		timeout := s.polkitTimeout
		var flags uint32
		if interactive {
			flags = polkitAllowUserInteraction
			timeout = s.polkitInteractiveTimeout
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		subject := polkitSubject{Kind: "system-bus-name", Details: map[string]dbus.Variant{"name": dbus.MakeVariant(sender)}}
		// polkit rules can read these with action.lookup("pid").
		details := map[string]string{"pid": strconv.Itoa(pid)}
		cancelID := newCancelID()
		obj := conn.Object(polkitName, polkitPath)
		var res polkitResult
		call := obj.CallWithContext(ctx, polkitInterface+".CheckAuthorization", 0, subject, action, details, flags, cancelID)
		if err := call.Store(&res); err != nil {
			var de dbus.Error
			if errors.As(err, &de) && noPolkitErrors[de.Name] {
				s.log.Debug("polkit is not available: denying", "action", action, "sender", sender)
				return false, nil
			}
			if ctx.Err() != nil {
				// Tell polkit to drop the pending check (best effort,
				// no reply awaited).
				obj.Go(polkitInterface+".CancelCheckAuthorization", dbus.FlagNoReplyExpected, nil, cancelID)
				return false, fmt.Errorf("polkit did not answer within %s", timeout)
			}
			return false, fmt.Errorf("polkit check of %s failed: %w", action, err)
		}
		if !res.IsAuthorized {
			if res.IsChallenge && !interactive {
				return false, errInteractiveRequired
			}
			return false, nil
		}
		// The caller may have gone while polkit answered (its unique
		// name is never reused): then do nothing on its behalf.
		var has bool
		err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, sender).Store(&has)
		if err != nil || !has {
			return false, fmt.Errorf("the caller %s left the bus before the action", sender)
		}
		return true, nil
	}
}

func newCancelID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "roy-procwatch-" + hex.EncodeToString(b[:])
}
