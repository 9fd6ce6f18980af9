package httpui

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/daemon/units"
)

// Every core error kind, including one a later change adds without a row
// in kindHTTP or unitKindHTTP, becomes a 4xx/5xx with a code, never a
// WriteHeader(0) panic.
func TestWriteErrorEveryKind(t *testing.T) {
	h, _ := newHandler(t, Options{})
	check := func(what string, err error) {
		t.Helper()
		w := httptest.NewRecorder()
		h.writeError(w, err)
		if w.Code < 400 || w.Code > 599 {
			t.Errorf("%s: status %d", what, w.Code)
		}
		if m := decode(t, w); m["code"] == "" || m["code"] == nil || m["error"] == nil {
			t.Errorf("%s: body %v", what, m)
		}
	}
	for k := 0; k < 20; k++ {
		check("procs kind", &procs.Error{Kind: procs.Kind(k), Msg: "m"})
		check("units kind", &units.Error{Kind: units.Kind(k), Msg: "m"})
	}
	w := httptest.NewRecorder()
	h.writeError(w, &procs.Error{Kind: procs.KindNoSuchProcess, Msg: "gone"})
	if w.Code != http.StatusNotFound || decode(t, w)["code"] != "no_such_process" {
		t.Errorf("no such process: %d %s", w.Code, w.Body)
	}
}
