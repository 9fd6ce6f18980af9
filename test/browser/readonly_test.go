//go:build browser

package browser

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/sys/unix"
)

// readToken is the daemon's read-only token (TestMain passes it).
const readToken = "browser-read-only-token-0123456789"

// TestReadOnlyToken: with the read-only token the page says "read-only"
// and every action button is disabled, saying why; the admin token turns
// them back on. Nothing happens to the process.
func TestReadOnlyToken(t *testing.T) {
	ctx := newBrowser(t)
	c := spawn(t, "sleep", childName("ro"))
	must(t, chromedp.Do(ctx, chromedp.Navigate(baseURL+"/")))
	eval[bool](t, ctx, fmt.Sprintf(`(() => { sessionStorage.clear(); localStorage.setItem("roy_token", %q); localStorage.setItem("roy_auto", "0"); localStorage.removeItem("roy_prefs"); return true })()`, readToken))
	must(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "the list", `document.querySelectorAll("#rows tr.r").length > 3`, 10*time.Second)
	waitFor(t, ctx, "the read-only badge", `!document.getElementById("readonly").hidden && document.getElementById("readonly").textContent === "read-only"`, 5*time.Second)

	search(t, ctx, c.name)
	rowSel := fmt.Sprintf(`#rows tr.r[data-pid="%d"]`, c.pid)
	waitFor(t, ctx, "the child's row", fmt.Sprintf(`!!document.querySelector(%q)`, rowSel), 5*time.Second)
	state := func() string {
		// Every action button (the row's menu button stays: it opens the
		// details, and its actions are disabled the same way).
		return eval[string](t, ctx, fmt.Sprintf(`[...document.querySelectorAll(%q + " button[data-act]:not([data-act=menu])")].map(b => b.dataset.act + "=" + (b.disabled ? "off" : "on") + ":" + b.title).join("|")`, rowSel))
	}
	btns := state()
	if btns == "" || strings.Contains(btns, "=on") || strings.Count(btns, "Read-only token") != strings.Count(btns, "=off") {
		t.Errorf("read-only row buttons: %s", btns)
	}
	shot(t, ctx, "readonly-light")
	// The keyboard's "k" (Kill the selected row) meets the same refusal:
	// it says why and sends nothing.
	must(t, chromedp.Do(ctx, chromedp.Focus(chromedp.ID("table")), chromedp.KeyEvent(kb.ArrowDown)))
	waitFor(t, ctx, "the child selected", fmt.Sprintf(`ProcWatch.state.selectedPid === %d`, c.pid), 3*time.Second)
	must(t, chromedp.Do(ctx, chromedp.KeyEvent("k")))
	waitFor(t, ctx, "the refusal", `document.getElementById("results").textContent.includes("Read-only token")`, 3*time.Second)
	if eval[bool](t, ctx, `document.getElementById("confirmdlg").open`) {
		t.Error("Kill asked for a confirmation under the read-only token")
	}
	time.Sleep(300 * time.Millisecond)
	if err := unix.Kill(c.pid, 0); err != nil {
		t.Fatalf("the child is gone under the read-only token: %v", err)
	}

	// The admin token: the badge goes, the buttons come back.
	setInput(t, ctx, "token", token)
	eval[bool](t, ctx, `(() => { document.getElementById("token").dispatchEvent(new Event("change")); return true })()`)
	waitFor(t, ctx, "the badge to go", `document.getElementById("readonly").hidden`, 5*time.Second)
	waitFor(t, ctx, "the buttons to come back", fmt.Sprintf(`(() => { const b = document.querySelector(%q + ' button[data-act="TERM"]'); return b && !b.disabled })()`, rowSel), 5*time.Second)
	noCSPViolations(t, ctx)
}
