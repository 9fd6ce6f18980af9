package procfs

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
)

// tcpStates are psutil's names of the TCP states (include/net/tcp_states.h),
// by number: /proc/net/tcp prints the number in hex, sock_diag as a byte.
var tcpStates = [...]string{
	1:  "ESTABLISHED",
	2:  "SYN_SENT",
	3:  "SYN_RECV",
	4:  "FIN_WAIT1",
	5:  "FIN_WAIT2",
	6:  "TIME_WAIT",
	7:  "CLOSE",
	8:  "CLOSE_WAIT",
	9:  "LAST_ACK",
	10: "LISTEN",
	11: "CLOSING",
	12: "NEW_SYN_RECV",
}

// tcpStateName names a TCP state; "UNKNOWN" for anything else.
func tcpStateName(n uint64) string {
	if n < uint64(len(tcpStates)) && tcpStates[n] != "" {
		return tcpStates[n]
	}
	return "UNKNOWN"
}

// Family names as the original API prints them (Python's str(AddressFamily);
// docs/http-api.md).
const (
	familyInet  = "AddressFamily.AF_INET"
	familyInet6 = "AddressFamily.AF_INET6"
)

// socketTable says which file of /proc/<pid>/net to read and how.
type socketTable struct {
	file   string
	proto  string // tcp | udp
	family string
	v6     bool
}

var socketTables = []socketTable{
	{"tcp", "tcp", familyInet, false},
	{"tcp6", "tcp", familyInet6, true},
	{"udp", "udp", familyInet, false},
	{"udp6", "udp", familyInet6, true},
}

// parseHexAddr parses "0100007F:1F90" (or the 32-hex-digit IPv6 form) as
// the kernel prints it: each 32-bit word in host (little-endian) order.
func parseHexAddr(s []byte, v6 bool) (netip.AddrPort, bool) {
	colon := bytes.IndexByte(s, ':')
	if colon < 0 {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(string(s[colon+1:]), 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw := s[:colon]
	want := 8
	if v6 {
		want = 32
	}
	if len(raw) != want {
		return netip.AddrPort{}, false
	}
	var b [16]byte
	if _, err := hex.Decode(b[:want/2], raw); err != nil {
		return netip.AddrPort{}, false
	}
	// Reverse each 32-bit word: the kernel prints them in host byte order.
	for w := 0; w < want/8; w++ {
		v := binary.LittleEndian.Uint32(b[w*4:])
		binary.BigEndian.PutUint32(b[w*4:], v)
	}
	var a netip.Addr
	if v6 {
		a = netip.AddrFrom16(b)
	} else {
		a = netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]})
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// fmtAddrPort prints "127.0.0.1:8088" or "[::1]:8088".
func fmtAddrPort(ap netip.AddrPort) string {
	return ap.String()
}

// newPort is one socket as the list shows it, whichever way it was read.
func newPort(t socketTable, local, remote netip.AddrPort, state uint64, inode uint64) Port {
	p := Port{
		Local:     fmtAddrPort(local),
		Family:    t.family,
		Type:      t.proto,
		LocalPort: int(local.Port()),
		Inode:     inode,
	}
	if t.proto == "tcp" {
		p.Status = tcpStateName(state)
	} else {
		// psutil reports UDP sockets with status NONE.
		p.Status = "NONE"
	}
	if remote.Port() != 0 || !remote.Addr().IsUnspecified() {
		r := fmtAddrPort(remote)
		p.Remote = &r
	}
	return p
}

// parseSocketTable parses one /proc/net/{tcp,tcp6,udp,udp6} file and calls
// fn for each socket whose inode is wanted.
func parseSocketTable(b []byte, t socketTable, want func(inode uint64) bool, fn func(Port)) {
	first := true
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		var line []byte
		if nl < 0 {
			line, b = b, nil
		} else {
			line, b = b[:nl], b[nl+1:]
		}
		if first { // header
			first = false
			continue
		}
		var f [10][]byte
		if splitFields(line, f[:]) < len(f) {
			continue
		}
		inode, err := strconv.ParseUint(string(f[9]), 10, 64)
		if err != nil || inode == 0 || !want(inode) {
			continue
		}
		local, ok1 := parseHexAddr(f[1], t.v6)
		remote, ok2 := parseHexAddr(f[2], t.v6)
		if !ok1 || !ok2 {
			continue
		}
		state, err := strconv.ParseUint(string(f[3]), 16, 8)
		if err != nil || len(f[3]) != 2 {
			state = 0 // UNKNOWN
		}
		p := newPort(t, local, remote, state, inode)
		fn(p)
	}
}
