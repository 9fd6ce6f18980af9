package httpui

import (
	"net/http"
	"testing"

	"github.com/roy/roy-procwatch/daemon/units"
)

// Without systemd as PID 1 (this test host, a CI container) every services
// route answers 503 no_systemd with the clear message, the event stream
// still serves processes, and nothing panics.
func TestServicesWithoutSystemd(t *testing.T) {
	u := units.New(units.Options{Available: func() bool { return false }, Logger: quiet()})
	for _, opts := range []Options{{Units: u}, {}} {
		h, _ := newHandler(t, opts)
		for _, r := range []req{
			{path: "/api/services"},
			{path: "/api/services?format=csv"},
			{path: "/api/service/nginx.service"},
			{path: "/api/service/nginx.service/journal?lines=10"},
			{path: "/api/process/1/journal"},
			{method: http.MethodPost, path: "/api/service/nginx.service/restart"},
			{path: "/api/events?journal=nginx.service"},
		} {
			w := do(t, h, r)
			wantStatus(t, w, http.StatusServiceUnavailable)
			m := decode(t, w)
			if m["error"] != "systemd is not running on this host" || m["code"] != "no_systemd" {
				t.Errorf("%s %s: %v", r.method, r.path, m)
			}
		}
		// A user mistake stays a 400/401, not a 503.
		wantStatus(t, do(t, h, req{path: "/api/services", noToken: true}), http.StatusUnauthorized)
		wantStatus(t, do(t, h, req{path: "/api/process/x/journal"}), http.StatusBadRequest)
	}
}
