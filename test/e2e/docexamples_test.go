//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// busctlDocs are the documents whose busctl examples run in the container.
var busctlDocs = []string{"../../README.md", "../../docs/dbus-api.md"}

// busctlExample is one busctl command line of a document. A line written as a
// shell transcript ("$ busctl …") must fail with the output shown under it.
type busctlExample struct {
	doc, cmd string
	wantFail string // the transcript's output, for "$ busctl" lines
}

// busctlExamples returns the busctl command lines of the ```sh blocks of doc,
// continuation lines joined. `busctl monitor` is left out: it never returns.
func busctlExamples(t *testing.T, doc string) []busctlExample {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	var out []busctlExample
	for _, m := range regexp.MustCompile("(?ms)^```sh\n(.*?)^```").FindAllStringSubmatch(string(b), -1) {
		lines := strings.Split(strings.ReplaceAll(m[1], "\\\n", " "), "\n")
		for i, l := range lines {
			l = strings.Join(strings.Fields(l), " ")
			switch {
			case strings.HasPrefix(l, "busctl monitor"):
			case strings.HasPrefix(l, "busctl "):
				out = append(out, busctlExample{doc: doc, cmd: l})
			case strings.HasPrefix(l, "$ busctl "):
				want := ""
				if i+1 < len(lines) {
					want = strings.TrimSpace(lines[i+1])
				}
				out = append(out, busctlExample{doc: doc, cmd: strings.TrimPrefix(l, "$ "), wantFail: want})
			}
		}
	}
	return out
}

// checkBusctlExamples runs every busctl example of the README and of
// docs/dbus-api.md as written, as root, inside the container. The example PID
// 1234 becomes a fresh throwaway process for each line (Signal and Restart
// consume it).
func checkBusctlExamples(t *testing.T) {
	n := 0
	for _, doc := range busctlDocs {
		exs := busctlExamples(t, doc)
		if len(exs) < 3 {
			t.Fatalf("only %d busctl examples in %s", len(exs), doc)
		}
		for i, ex := range exs {
			n++
			cmd := ex.cmd
			if strings.Contains(cmd, " 1234") {
				unit := fmt.Sprintf("e2e-busctl-%d", n)
				ct.must(t, fmt.Sprintf("systemctl stop %[1]s.service 2>/dev/null; systemd-run --quiet --collect --unit=%[1]s sleep 10000", unit))
				defer ct.run(10*time.Second, "systemctl stop "+unit+".service 2>/dev/null")
				pid := atoi(t, unitProp(t, unit+".service", "MainPID"))
				cmd = regexp.MustCompile(`\b1234\b`).ReplaceAllString(cmd, fmt.Sprint(pid))
			}
			out, err := ct.run(30*time.Second, cmd)
			out = strings.TrimSpace(out)
			t.Logf("%s example %d: %s\n-> %.300s", doc, i, cmd, out)
			switch {
			case ex.wantFail != "":
				if err == nil || !strings.Contains(out, ex.wantFail) {
					t.Errorf("%s: %s: want failure %q, got %v %.300s", doc, cmd, ex.wantFail, err, out)
				}
			case err != nil:
				t.Errorf("%s: %s: %v %.300s", doc, cmd, err, out)
			}
		}
	}
}

// checkUIEventsExample runs docs/ui.md's event-stream example (a ticket,
// then curl -N on /api/events) as written, for 5 s, and wants the first
// event, the snapshot.
func checkUIEventsExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/ui.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, m := range regexp.MustCompile("(?ms)^```(?:sh|bash)\n(.*?)^```").FindAllStringSubmatch(string(b), -1) {
		if strings.Contains(m[1], "curl -N") && strings.Contains(m[1], "/api/events") {
			block = m[1]
		}
	}
	if block == "" {
		t.Fatal("docs/ui.md has no curl -N /api/events example")
	}
	script := "TOKEN=$(cat /etc/roy-procwatch/token)\ncat > /tmp/ui-events.sh <<'EOF'\n" + block + "EOF\n" +
		"TOKEN=$TOKEN timeout 5 sh /tmp/ui-events.sh 2>/dev/null; true"
	out, err := ct.run(30*time.Second, script)
	t.Logf("docs/ui.md events example:\n%s-> %.300s", block, out)
	if err != nil || !strings.Contains(out, "event: snapshot") || !strings.Contains(out, `"items"`) {
		t.Errorf("docs/ui.md events example: %v, no snapshot event in %.300s", err, out)
	}
}
