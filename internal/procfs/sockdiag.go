package procfs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The socket tables of the daemon's own network namespace are read through
// NETLINK_SOCK_DIAG (inet_diag, what ss uses) rather than /proc/net/*: the
// kernel then formats no text, and it skips TIME_WAIT and NEW_SYN_RECV
// sockets (never held by a process: inode 0, which the /proc parser drops
// too) instead of printing them — a busy host has thousands. Other
// namespaces are still read through /proc/<pid>/net/*, which needs no
// setns. Any error falls back to the /proc file.
//
// Under the shipped unit (packaging/systemd/roy-procwatch.service) this path
// never succeeds, by design: RestrictAddressFamilies=AF_UNIX makes the
// netlink socket() fail (EAFNOSUPPORT; the first failure turns the path off
// for the daemon's life, see sockDiagOff), and allowing AF_NETLINK would not
// help, because PrivateNetwork=yes gives the daemon an empty network
// namespace of its own: sock_diag answers for the caller's namespace only,
// and the host's sockets are read through /proc/<pid>/net/* like any other
// namespace's. It serves the daemon run standalone (make run, make bench,
// the tests), where it was measured faster than the /proc files
// (docs/performance.md).

// Sizes of the netlink structures (linux/netlink.h, linux/inet_diag.h).
const (
	nlmsgHdrLen    = 16 // struct nlmsghdr
	inetDiagReqLen = 56 // struct inet_diag_req_v2
	inetDiagMsgLen = 72 // struct inet_diag_msg
)

// diagStates is the idiag_states mask: every state but TIME_WAIT (6) and
// NEW_SYN_RECV (12). UDP sockets use TCP_CLOSE/TCP_ESTABLISHED only.
const diagStates = ^uint32(1<<6 | 1<<12)

var errDiagMsg = errors.New("malformed sock_diag message")

// sockDiagOff is set once socket(AF_NETLINK) was refused (the shipped unit's
// RestrictAddressFamilies=AF_UNIX): builds then go to the /proc files at once.
var sockDiagOff atomic.Bool

// diagProto is the inet_diag family and protocol for a socket table.
func diagProto(t socketTable) (family, proto uint8) {
	family = unix.AF_INET
	if t.v6 {
		family = unix.AF_INET6
	}
	proto = unix.IPPROTO_TCP
	if t.proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	return family, proto
}

// sockDiag dumps the sockets of table t in this process's network
// namespace and calls fn for each one whose inode is wanted (want is
// called for every socket with an inode), with the same
// Port values parseSocketTable gives for the /proc file. buf is the receive
// buffer (at least 32 KiB: the kernel's largest dump message).
func sockDiag(t socketTable, buf []byte, want func(inode uint64) bool, fn func(Port)) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		if err == unix.EAFNOSUPPORT || err == unix.EPERM || err == unix.EACCES || err == unix.EPROTONOSUPPORT {
			sockDiagOff.Store(true) // a sandbox or kernel without it: it will not come back
		}
		return err
	}
	defer unix.Close(fd)

	family, proto := diagProto(t)
	ne := binary.NativeEndian
	var req [nlmsgHdrLen + inetDiagReqLen]byte
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1) // sequence
	req[16], req[17] = family, proto
	ne.PutUint32(req[20:], diagStates)
	if err := unix.Sendto(fd, req[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	for {
		n, err := readFD(fd, buf)
		if err != nil {
			return err
		}
		if n == 0 {
			return errDiagMsg
		}
		for b := buf[:n]; len(b) > 0; {
			if len(b) < nlmsgHdrLen {
				return errDiagMsg
			}
			l := int(ne.Uint32(b[0:]))
			if l < nlmsgHdrLen || l > len(b) {
				return errDiagMsg
			}
			switch ne.Uint16(b[4:]) {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if l >= nlmsgHdrLen+4 {
					if e := int32(ne.Uint32(b[nlmsgHdrLen:])); e < 0 {
						return unix.Errno(-e)
					}
				}
				return errDiagMsg
			case unix.SOCK_DIAG_BY_FAMILY:
				// want sees every inode (the fd-scan cache checks them
				// all), before a Port is built for the few it keeps.
				if m := b[nlmsgHdrLen:l]; len(m) >= inetDiagMsgLen && m[0] == family {
					if ino := uint64(ne.Uint32(m[68:])); ino != 0 && want(ino) {
						if p, ok := diagPort(t, family, m); ok {
							fn(p)
						}
					}
				}
			}
			b = b[min(len(b), (l+3)&^3):] // NLMSG_ALIGN
		}
	}
}

// diagPort turns one struct inet_diag_msg into a Port.
func diagPort(t socketTable, family uint8, m []byte) (Port, bool) {
	if len(m) < inetDiagMsgLen || m[0] != family {
		return Port{}, false
	}
	inode := uint64(binary.NativeEndian.Uint32(m[68:]))
	if inode == 0 {
		return Port{}, false
	}
	// struct inet_diag_sockid at 4: sport, dport (big-endian), src[16], dst[16].
	addr := func(b []byte) netip.Addr {
		if t.v6 {
			return netip.AddrFrom16([16]byte(b[:16]))
		}
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	local := netip.AddrPortFrom(addr(m[8:]), binary.BigEndian.Uint16(m[4:]))
	remote := netip.AddrPortFrom(addr(m[24:]), binary.BigEndian.Uint16(m[6:]))
	return newPort(t, local, remote, uint64(m[1]), inode), true
}
