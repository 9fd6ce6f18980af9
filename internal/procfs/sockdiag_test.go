package procfs

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// socketInode is the inode of a net.Conn or net.Listener's socket.
func socketInode(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ino uint64
	_ = rc.Control(func(fd uintptr) {
		l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(fd)))
		if err != nil || !strings.HasPrefix(l, "socket:[") {
			t.Fatalf("fd %d: %q, %v", fd, l, err)
		}
		ino, err = strconv.ParseUint(l[8:len(l)-1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
	})
	return ino
}

// TestSockDiagMatchesProc: for sockets of every kind, sock_diag gives the
// same Port values as the /proc/net file (the list must not depend on which
// way a namespace was read).
func TestSockDiagMatchesProc(t *testing.T) {
	wantIno := map[uint64]string{}
	listen := func(network, addr string) net.Listener {
		l, err := net.Listen(network, addr)
		if err != nil {
			t.Skipf("cannot listen on %s %s: %v", network, addr, err)
		}
		t.Cleanup(func() { l.Close() })
		wantIno[socketInode(t, l.(*net.TCPListener))] = network + " listen " + addr
		return l
	}
	l4 := listen("tcp4", "127.0.0.1:0")
	listen("tcp6", "[::1]:0")
	c, err := net.Dial("tcp4", l4.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l4.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantIno[socketInode(t, c.(*net.TCPConn))] = "tcp4 client"
	wantIno[socketInode(t, s.(*net.TCPConn))] = "tcp4 server"
	for _, n := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		u, err := net.ListenPacket(n.network, n.addr)
		if err != nil {
			t.Fatalf("udp %v", err)
		}
		defer u.Close()
		wantIno[socketInode(t, u.(*net.UDPConn))] = n.network
	}
	u, err := net.Dial("udp4", "127.0.0.1:9") // a connected UDP socket
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	wantIno[socketInode(t, u.(*net.UDPConn))] = "udp4 connected"

	want := func(ino uint64) bool { _, ok := wantIno[ino]; return ok }
	buf := make([]byte, 64<<10)
	fromProc, fromDiag := map[uint64]Port{}, map[uint64]Port{}
	for _, tbl := range socketTables {
		b, err := os.ReadFile("/proc/self/net/" + tbl.file)
		if err != nil {
			t.Fatal(err)
		}
		parseSocketTable(b, tbl, want, func(p Port) { fromProc[p.Inode] = p })
		if err := sockDiag(tbl, buf, want, func(p Port) { fromDiag[p.Inode] = p }); err != nil {
			t.Skipf("sock_diag %s unavailable here: %v", tbl.file, err)
		}
	}
	str := func(p Port) string {
		r := "<nil>"
		if p.Remote != nil {
			r = *p.Remote
		}
		return p.Local + " " + r + " " + p.Status + " " + p.Family + " " + p.Type + " " + strconv.Itoa(p.LocalPort)
	}
	for ino, what := range wantIno {
		pp, ok1 := fromProc[ino]
		pd, ok2 := fromDiag[ino]
		if !ok1 || !ok2 {
			t.Errorf("%s (inode %d): in /proc %v, in sock_diag %v", what, ino, ok1, ok2)
			continue
		}
		if str(pp) != str(pd) || pp.Inode != pd.Inode {
			t.Errorf("%s: /proc gives %q, sock_diag %q", what, str(pp), str(pd))
		}
	}
}
