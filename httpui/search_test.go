package httpui

import (
	"encoding/csv"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The server's CSV applies the same search as the UI, port: and user:
// included (issue 10 item 11: "Server CSV" used to ignore them), and
// ?fresh= is validated like any other parameter.
func TestCSVSearchSyntaxAndFresh(t *testing.T) {
	h, _ := newRealHandler(t, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	self := strconv.Itoa(os.Getpid())
	for _, q := range []string{"port:" + port, ":" + port, port + " user:" + userName(t)} {
		w := do(t, h, req{path: "/api/processes?format=csv&fresh=1&q=" + strings.ReplaceAll(q, " ", "+")})
		wantStatus(t, w, 200)
		recs, err := csv.NewReader(w.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || recs[1][0] != self {
			t.Errorf("q=%q: %d rows %v, want only this process (%s)", q, len(recs)-1, recs[1:], self)
		}
	}
	fake, _ := newHandler(t, Options{})
	w := do(t, fake, req{path: "/api/processes?fresh=maybe"})
	wantStatus(t, w, 400)
	if m := decode(t, w); !strings.Contains(m["error"].(string), "fresh") || m["code"] != "invalid_argument" {
		t.Errorf("fresh=maybe: %v", m)
	}
}

func userName(t *testing.T) string {
	t.Helper()
	w := do(t, mustHandler(t), req{path: "/api/processes?q=pid:" + strconv.Itoa(os.Getpid())})
	m := decode(t, w)
	items, _ := m["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("pid: query gave %d items", len(items))
	}
	return items[0].(map[string]any)["username"].(string)
}

func mustHandler(t *testing.T) *Handler {
	h, _ := newRealHandler(t, Options{})
	return h
}
