//go:build browser

package browser

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Without systemd as PID 1 (this host), the Services view says so, the rest
// of the UI goes on, and a process detail's Journal section says why it is
// empty. (The Services view against a real systemd runs in the e2e test.)
func TestServicesWithoutSystemd(t *testing.T) {
	ctx := newBrowser(t)
	c := spawn(t, "sleep", childName("s"))
	openApp(t, ctx)
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("view-services"))))
	waitFor(t, ctx, "the no-systemd message", `document.querySelector("#services .msg").textContent.includes("systemd is not running on this host")`, 5*time.Second)
	if v := eval[bool](t, ctx, `document.getElementById("tablewrap").hidden && document.getElementById("view-services").getAttribute("aria-pressed") === "true"`); !v {
		t.Error("the Services view did not replace the process table")
	}
	shot(t, ctx, "services-no-systemd")
	// Keys belong to the Services view while it shows: "k" does not open
	// the process list's kill confirmation.
	must(t, chromedp.Do(ctx, chromedp.KeyEvent("k")))
	if eval[bool](t, ctx, `document.getElementById("confirmdlg").open`) {
		t.Error("a process shortcut fired in the Services view")
	}
	// Back to the list: it works as before.
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("view-list"))))
	waitFor(t, ctx, "the process list back", `!document.getElementById("tablewrap").hidden && document.getElementById("services").hidden`, 3*time.Second)
	search(t, ctx, c.name)
	rowSel := fmt.Sprintf(`#rows tr.r[data-pid="%d"]`, c.pid)
	waitFor(t, ctx, "the child", fmt.Sprintf(`!!document.querySelector(%q)`, rowSel), 5*time.Second)
	click(t, ctx, rowSel+" td.c-name")
	waitFor(t, ctx, "the process detail's Journal section", `[...document.querySelectorAll("#dbody .dsec h3")].some(h => h.textContent === "Journal") && document.getElementById("dbody").textContent.includes("systemd is not running")`, 5*time.Second)
	if v := eval[string](t, ctx, `document.getElementById("dbody").textContent`); !strings.Contains(v, "No journal") {
		t.Errorf("journal section: %.200s", v)
	}
}
