//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// S10: chromium on the host drives the UI of the daemon inside the
// container (they share the network): open Services, see the failed unit
// first and red, restart the listening one, read its journal live.
func checkServicesBrowser(t *testing.T) {
	chrome := ""
	for _, n := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); n != "" && err == nil {
			chrome = p
			break
		}
	}
	if chrome == "" {
		t.Skip("no chromium on the host (scripts/test-deps.sh installs it)")
	}
	installServiceUnits(t)
	ct.run(20*time.Second, "systemctl start "+failUnit)
	tok := token(t)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 900))
	defer cancelA()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	ctx, cancelT := context.WithTimeout(ctx, 120*time.Second)
	defer cancelT()
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("eval %s: %v", js, err)
		}
		return v
	}
	wait := func(what, js string, d time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			dbg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#services .msg")||{}).textContent + " | " + (document.querySelector("#svcdetail .msg")||{}).textContent`))
			if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
				_ = os.MkdirAll(filepath.Join("..", "..", "build", "screenshots"), 0o755)
				_ = os.WriteFile(filepath.Join("..", "..", "build", "screenshots", "services-e2e-failure.png"), png, 0o644)
			}
			t.Fatalf("waiting for %s: %v (page says: %v)", what, err, dbg)
		}
	}
	click := func(sel string) {
		t.Helper()
		var err error
		for i := 0; i < 5; i++ { // a refresh may repaint the row between lookup and click
			if err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("click %s: %v", sel, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(baseURL+"/")); err != nil {
		t.Fatal(err)
	}
	eval(fmt.Sprintf(`localStorage.setItem("roy_token", %q); localStorage.setItem("roy_auto", "0"); window.__csp = []; true`, tok))
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	eval(`window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective)); true`)
	// The page has started (it sets the stored view once, at start).
	wait("the process list", `document.querySelectorAll("#rows tr").length > 3`, 15*time.Second)
	click("#view-services")
	wait("the services list", `document.querySelectorAll("#svc-table tbody tr[data-unit]").length > 3`, 15*time.Second)
	// Failed first, in red.
	first := eval(`document.querySelector("#svc-table tbody tr[data-unit]").dataset.unit`)
	failedRow := fmt.Sprintf(`document.querySelector('#svc-table tr[data-unit="%s"]')`, failUnit)
	if eval(failedRow+` !== null && `+failedRow+`.querySelector(".ubadge").classList.contains("u-failed")`) != true {
		t.Fatalf("%s is not shown failed", failUnit)
	}
	if eval(`(() => { let other = false; for (const tr of document.querySelectorAll("#svc-table tbody tr[data-unit]")) { const f = tr.classList.contains("failedrow"); if (!f) other = true; else if (other) return false; } return true })()`) != true {
		t.Errorf("failed units are not first (first row %v)", first)
	}
	bg := eval(failedRow + `.querySelector(".ubadge").ownerDocument.defaultView.getComputedStyle(` + failedRow + `.querySelector(".ubadge")).backgroundColor`)
	if s, _ := bg.(string); !strings.HasPrefix(s, "rgb(180, 35, 24") && !strings.HasPrefix(s, "rgb(255, 123, 114") {
		t.Errorf("failed badge background %v, want the danger red", bg)
	}
	// The listener's row shows its port; restart it from its row.
	listenRow := fmt.Sprintf(`document.querySelector('#svc-table tr[data-unit="%s"]')`, listenUnit)
	if s := eval(listenRow + `.querySelector(".c-ports").textContent`); !strings.Contains(fmt.Sprint(s), fmt.Sprintf(":%d", listenPort)) {
		t.Errorf("listener row ports %q", s)
	}
	inv := unitProp(t, listenUnit, "InvocationID")
	restartSel := fmt.Sprintf(`#svc-table tr[data-unit="%s"] button[data-uact="restart"]`, listenUnit)
	// A live update may repaint the row between chromedp's lookup and its
	// click: click again until the action has started.
	for i := 0; i < 4; i++ {
		click(restartSel)
		started := false
		for j := 0; j < 20 && !started; j++ {
			time.Sleep(100 * time.Millisecond)
			started = eval(`document.querySelector("#services .msg").textContent.includes("restart")`) == true
		}
		if started {
			break
		}
		t.Logf("the restart click did not land (attempt %d): clicking again", i+1)
	}
	wait("the restart result", `document.querySelector("#services .msg").textContent.includes("restart → job done")`, 15*time.Second)
	if unitProp(t, listenUnit, "InvocationID") == inv {
		t.Errorf("the UI's restart did not restart %s", listenUnit)
	}
	// Its detail and journal; a line logged now shows in the live tail.
	click(fmt.Sprintf(`#svc-table tr[data-unit="%s"] button[data-uopen]`, listenUnit))
	wait("the unit detail's journal", `document.querySelectorAll("#svcdetail .jlist li").length > 0`, 10*time.Second)
	if s := eval(`document.querySelector("#svcdetail .jlist").textContent`); !strings.Contains(fmt.Sprint(s), "Started") {
		t.Errorf("journal tail lacks systemd's Started line: %.300v", s)
	}
	time.Sleep(500 * time.Millisecond) // the tail's stream is open
	ct.must(t, "systemctl restart "+listenUnit)
	wait("the restart in the live journal tail", `[...document.querySelectorAll("#svcdetail .jlist li")].filter(li => li.textContent.includes("Stopped")).length > 0`, 10*time.Second)
	shot := filepath.Join("..", "..", "build", "screenshots")
	_ = os.MkdirAll(shot, 0o755)
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(shot, "services-detail.png"), png, 0o644)
	}
	// Stop asks for a confirmation; cancelling changes nothing.
	eval(`document.querySelector("#svcdetail").close(); true`)
	click(fmt.Sprintf(`#svc-table tr[data-unit="%s"] button[data-uact="stop"]`, listenUnit))
	wait("the stop confirmation", `document.querySelector("#confirmdlg").open`, 5*time.Second)
	click("#confirmno")
	time.Sleep(300 * time.Millisecond)
	if s := isActive(listenUnit); s != "active" {
		t.Errorf("%s is %s after a cancelled stop", listenUnit, s)
	}
	// The process list's Unit column on real units: unit: finds the
	// listener's processes, and a click on its unit opens the unit's detail
	// with systemd's answer.
	click("#view-list")
	main := unitProp(t, listenUnit, "MainPID")
	eval(`(e => { e.value = "unit:` + strings.TrimSuffix(listenUnit, ".service") + `"; e.dispatchEvent(new Event("input", {bubbles: true})); return true })(document.getElementById("q"))`)
	rowSel := `#rows tr.r[data-pid="` + main + `"]`
	// The listener was restarted above: refresh until the list has its new main PID.
	for i := 0; i < 20 && eval(`!!document.querySelector('`+rowSel+`')`) != true; i++ {
		click("#refresh")
		time.Sleep(250 * time.Millisecond)
	}
	wait("the listener's row in its unit", `!document.getElementById("tablewrap").hidden && (td => td && td.textContent === "`+strings.TrimSuffix(listenUnit, ".service")+`")(document.querySelector('`+rowSel+` td.c-unit'))`, 10*time.Second)
	if n := eval(`[...document.querySelectorAll("#rows tr.r td.c-unit button")].filter(b => b.dataset.openUnit !== "` + listenUnit + `").length`); n != float64(0) {
		t.Errorf("unit:%s shows %v rows of other units", listenUnit, n)
	}
	click(rowSel + " td.c-unit button")
	wait("the unit's detail from the Unit column", `document.getElementById("svcdetail").open && document.getElementById("svctitle").textContent === "`+listenUnit+`" && document.querySelector("#svcdetail .dbody").textContent.includes("active (running)")`, 10*time.Second)
	eval(`document.querySelector("#svcdetail").close(); true`)
	if v := eval(`window.__csp.length`); v != float64(0) {
		t.Errorf("CSP violations: %v", eval(`window.__csp`))
	}
}
