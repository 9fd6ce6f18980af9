package procfs

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// Fixture tables in the kernel's format (captured shape of
// /proc/net/{tcp,tcp6,udp,udp6}; addresses are 32-bit words in host order).
const (
	tcp4Fixture = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F98 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0
   2: 0100007F:A1B2 0100007F:1F98 01 00000000:00000000 00:00000000 00000000  1000        0 1003 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:1F98 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 1004 1 0000000000000000 20 4 30 10 -1
   4: 0A00020F:C350 5DB8D822:01BB 06 00000000:00000000 03:00000EA1 00000000     0        0 1005 3 0000000000000000
   5: 0100007F:1234 0100007F:5678 08 00000000:00000000 00:00000000 00000000     0        0 1006 1 0000000000000000 20 4 30 10 -1
   6: 0100007F:2222 0100007F:3333 FF 00000000:00000000 00:00000000 00000000     0        0 1007 1 0000000000000000 20 4 30 10 -1
   7: 0100007F:1F99 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 100 0 0 10 0
   8: garbage line
   9: 0100007F:ZZZZ 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1009 1 0000000000000000 100 0 0 10 0
`
	tcp6Fixture = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 2003 1 0000000000000000 20 4 30 10 -1
   3: 000080FE00000000FF005452C4B012FE:0016 000080FE00000000FF0054520A0B0CFE:D431 01 00000000:00000000 00:00000000 00000000     0        0 2004 1 0000000000000000 20 4 30 10 -1
`
	udp4Fixture = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 3001 2 0000000000000000 0
  101: 0100007F:C001 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 3002 2 0000000000000000 0
`
	udp6Fixture = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  200: 00000000000000000000000001000000:0202 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4001 2 0000000000000000 0
`
)

func strp(s string) *string { return &s }

func parseFixture(t *testing.T, text string, tbl socketTable) map[uint64]Port {
	t.Helper()
	got := map[uint64]Port{}
	parseSocketTable([]byte(text), tbl, func(uint64) bool { return true }, func(p Port) {
		if _, dup := got[p.Inode]; dup {
			t.Errorf("inode %d reported twice", p.Inode)
		}
		got[p.Inode] = p
	})
	return got
}

func TestParseSocketTable(t *testing.T) {
	tcp4, tcp6, udp4, udp6 := socketTables[0], socketTables[1], socketTables[2], socketTables[3]
	if tcp4.file != "tcp" || tcp6.file != "tcp6" || udp4.file != "udp" || udp6.file != "udp6" {
		t.Fatalf("socketTables order changed: %+v", socketTables)
	}
	tests := []struct {
		name  string
		text  string
		table socketTable
		want  map[uint64]Port
	}{
		{"tcp4", tcp4Fixture, tcp4, map[uint64]Port{
			1001: {Local: "127.0.0.1:8088", Remote: nil, Status: "LISTEN", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 8088, Inode: 1001},
			1002: {Local: "0.0.0.0:22", Remote: nil, Status: "LISTEN", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 22, Inode: 1002},
			1003: {Local: "127.0.0.1:41394", Remote: strp("127.0.0.1:8088"), Status: "ESTABLISHED", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 41394, Inode: 1003},
			1004: {Local: "127.0.0.1:8088", Remote: strp("127.0.0.1:41394"), Status: "ESTABLISHED", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 8088, Inode: 1004},
			1005: {Local: "15.2.0.10:50000", Remote: strp("34.216.184.93:443"), Status: "TIME_WAIT", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 50000, Inode: 1005},
			1006: {Local: "127.0.0.1:4660", Remote: strp("127.0.0.1:22136"), Status: "CLOSE_WAIT", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 4660, Inode: 1006},
			1007: {Local: "127.0.0.1:8738", Remote: strp("127.0.0.1:13107"), Status: "UNKNOWN", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 8738, Inode: 1007},
			// inode 0 (a TIME_WAIT-like orphan), the garbage line and the bad
			// port are skipped.
		}},
		{"tcp6", tcp6Fixture, tcp6, map[uint64]Port{
			2001: {Local: "[::1]:8080", Status: "LISTEN", Family: "AddressFamily.AF_INET6", Type: "tcp", LocalPort: 8080, Inode: 2001},
			2002: {Local: "[::]:80", Status: "LISTEN", Family: "AddressFamily.AF_INET6", Type: "tcp", LocalPort: 80, Inode: 2002},
			2003: {Local: "[::ffff:127.0.0.1]:8080", Remote: strp("[::ffff:127.0.0.1]:49152"), Status: "ESTABLISHED", Family: "AddressFamily.AF_INET6", Type: "tcp", LocalPort: 8080, Inode: 2003},
			2004: {Local: "[fe80::5254:ff:fe12:b0c4]:22", Remote: strp("[fe80::5254:ff:fe0c:b0a]:54321"), Status: "ESTABLISHED", Family: "AddressFamily.AF_INET6", Type: "tcp", LocalPort: 22, Inode: 2004},
		}},
		{"udp4", udp4Fixture, udp4, map[uint64]Port{
			3001: {Local: "127.0.0.53:53", Status: "NONE", Family: "AddressFamily.AF_INET", Type: "udp", LocalPort: 53, Inode: 3001},
			3002: {Local: "127.0.0.1:49153", Remote: strp("127.0.0.1:53"), Status: "NONE", Family: "AddressFamily.AF_INET", Type: "udp", LocalPort: 49153, Inode: 3002},
		}},
		{"udp6", udp6Fixture, udp6, map[uint64]Port{
			4001: {Local: "[::1]:514", Status: "NONE", Family: "AddressFamily.AF_INET6", Type: "udp", LocalPort: 514, Inode: 4001},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseFixture(t, tc.text, tc.table)
			for ino, w := range tc.want {
				g, ok := got[ino]
				if !ok {
					t.Errorf("inode %d missing", ino)
					continue
				}
				if g.Local != w.Local || g.Status != w.Status || g.Family != w.Family || g.Type != w.Type ||
					g.LocalPort != w.LocalPort || g.Inode != w.Inode {
					t.Errorf("inode %d:\n got %+v\nwant %+v", ino, g, w)
				}
				switch {
				case w.Remote == nil && g.Remote != nil:
					t.Errorf("inode %d: remote = %q, want null (unconnected)", ino, *g.Remote)
				case w.Remote != nil && g.Remote == nil:
					t.Errorf("inode %d: remote = null, want %q", ino, *w.Remote)
				case w.Remote != nil && *g.Remote != *w.Remote:
					t.Errorf("inode %d: remote = %q, want %q", ino, *g.Remote, *w.Remote)
				}
			}
			for ino := range got {
				if _, ok := tc.want[ino]; !ok {
					t.Errorf("unexpected socket inode %d: %+v", ino, got[ino])
				}
			}
		})
	}
}

func TestParseSocketTableWant(t *testing.T) {
	var got []uint64
	parseSocketTable([]byte(tcp4Fixture), socketTables[0], func(ino uint64) bool { return ino == 1003 || ino == 4242 },
		func(p Port) { got = append(got, p.Inode) })
	if len(got) != 1 || got[0] != 1003 {
		t.Errorf("with want={1003,4242} got inodes %v, want [1003]", got)
	}
	// No header-only or empty input surprises.
	parseSocketTable(nil, socketTables[0], func(uint64) bool { return true }, func(p Port) { t.Errorf("port from empty input: %+v", p) })
	parseSocketTable([]byte(strings.SplitN(tcp4Fixture, "\n", 2)[0]), socketTables[0], func(uint64) bool { return true },
		func(p Port) { t.Errorf("port from header only: %+v", p) })
}

// kernelHex encodes ap the way the kernel prints it, independently of
// parseHexAddr: each 32-bit word of the address in little-endian order.
func kernelHex(ap netip.AddrPort) string {
	a := ap.Addr()
	var raw []byte
	if a.Is4() {
		b := a.As4()
		raw = b[:]
	} else {
		b := a.As16()
		raw = b[:]
	}
	out := make([]byte, len(raw))
	for w := 0; w < len(raw); w += 4 {
		binary.LittleEndian.PutUint32(out[w:], binary.BigEndian.Uint32(raw[w:]))
	}
	return strings.ToUpper(hex.EncodeToString(out)) + fmt.Sprintf(":%04X", ap.Port())
}

func TestParseHexAddrRoundTrip(t *testing.T) {
	for _, s := range []string{
		"127.0.0.1:8088", "0.0.0.0:0", "255.255.255.255:65535", "10.1.2.3:1",
		"[::1]:8088", "[::]:0", "[::ffff:127.0.0.1]:443", "[2001:db8::1:2:3:4]:65535", "[fe80::1]:22",
	} {
		ap := netip.MustParseAddrPort(s)
		h := kernelHex(ap)
		got, ok := parseHexAddr([]byte(h), ap.Addr().Is6())
		if !ok || got != ap {
			t.Errorf("parseHexAddr(%q) = %v, %v; want %v", h, got, ok, ap)
		}
		if got.String() != s {
			t.Errorf("printed %q, want %q", got.String(), s)
		}
	}
	// Well-known literal: 0100007F:1F90 is 127.0.0.1:8080.
	if got, ok := parseHexAddr([]byte("0100007F:1F90"), false); !ok || got.String() != "127.0.0.1:8080" {
		t.Errorf("0100007F:1F90 = %v, %v", got, ok)
	}
	for _, bad := range []string{"", "0100007F", "0100007F:", "0100007F:10000", "100007F:1F90", "0100007G:1F90", "0100007F:-1",
		"00000000000000000000000001000000:1F90" /* v6 text in a v4 table */} {
		if got, ok := parseHexAddr([]byte(bad), false); ok {
			t.Errorf("parseHexAddr(%q, v4) = %v, accepted", bad, got)
		}
	}
	if got, ok := parseHexAddr([]byte("0100007F:1F90"), true); ok {
		t.Errorf("v4 text accepted in a v6 table: %v", got)
	}
}
