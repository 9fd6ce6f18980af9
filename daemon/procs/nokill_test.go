package procs

// Case C3 of docs/security.md: no non-test code may signal a process by bare PID.
// os.FindProcess silently falls back to a PID when pidfd_open fails, and
// kill(2)/tgkill(2) by PID can hit a recycled PID. Targets are signalled only
// through pidfd_send_signal. The one exec.Cmd the core starts (restart.go
// startDetached) may be started and waited for, never signalled.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// forbiddenFuncs are package-level functions that signal by PID or arrange
// for a child to be signalled (CommandContext kills on cancel).
var forbiddenFuncs = map[string]bool{
	"os.FindProcess":               true,
	"syscall.Kill":                 true,
	"syscall.Tgkill":               true,
	"golang.org/x/sys/unix.Kill":   true,
	"golang.org/x/sys/unix.Tgkill": true,
	"golang.org/x/sys/unix.Tkill":  true,
	"os/exec.CommandContext":       true,
}

// forbiddenMethods are methods of *os.Process that signal.
var forbiddenMethods = map[string]bool{
	"(*os.Process).Signal": true,
	"(*os.Process).Kill":   true,
}

// forbiddenText is the plain grep, on source with comments and string
// literals removed: a second net in case type checking misses a form.
var forbiddenText = regexp.MustCompile(`\bos\.FindProcess\b|\bsyscall\.(Kill|Tgkill)\b|\bunix\.(Kill|Tgkill|Tkill)\b|\.Process\.(Signal|Kill)\b|\bexec\.CommandContext\b|\bSYS_(KILL|TGKILL|TKILL)\b`)

type listedPkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	CgoFiles   []string
	Export     string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

func goTool(t *testing.T) string {
	t.Helper()
	p := testproc.GoTool()
	if _, err := os.Stat(p); err != nil {
		t.Skip("go tool not found")
	}
	return p
}

// findViolations type-checks every package of the module in dir (non-test
// files only) and reports each use of a forbidden function or method, then
// greps the same files.
func findViolations(t *testing.T, dir string) []string {
	t.Helper()
	cmd := exec.Command(goTool(t), "list", "-e", "-export", "-deps", "-json", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", dir, err, stderr.String())
	}
	mainMod := ""
	if b, err := exec.Command(goTool(t), "-C", dir, "list", "-m").Output(); err == nil {
		mainMod = strings.TrimSpace(string(b))
	}
	exports := map[string]string{}
	var ours []listedPkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			t.Fatalf("go list: package %s: %s", p.ImportPath, p.Error.Err)
		}
		exports[p.ImportPath] = p.Export
		if p.Module != nil && p.Module.Path == mainMod {
			ours = append(ours, p)
		}
	}
	if len(ours) == 0 {
		t.Fatalf("no packages of module %q found in %s", mainMod, dir)
	}

	var bad []string
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		e := exports[path]
		if e == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(e)
	})
	for _, p := range ours {
		var files []*ast.File
		for _, name := range append(p.GoFiles, p.CgoFiles...) {
			path := filepath.Join(p.Dir, name)
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
			src, _ := os.ReadFile(path)
			for _, m := range grepCode(fset, src, forbiddenText) {
				bad = append(bad, fmt.Sprintf("%s:%d: %s (text)", rel(dir, path), m.line, m.text))
			}
		}
		info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
		conf := types.Config{Importer: imp, Error: func(error) {}}
		if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
			t.Fatalf("type-checking %s: %v", p.ImportPath, err)
		}
		for id, obj := range info.Uses {
			fn, ok := obj.(*types.Func)
			if !ok {
				continue
			}
			name := fn.FullName()
			if forbiddenFuncs[name] || forbiddenMethods[name] {
				pos := fset.Position(id.Pos())
				bad = append(bad, fmt.Sprintf("%s:%d: %s", rel(dir, pos.Filename), pos.Line, name))
			}
		}
	}
	return bad
}

func rel(base, path string) string {
	if r, err := filepath.Rel(base, path); err == nil {
		return r
	}
	return path
}

type textMatch struct {
	line int
	text string
}

// grepCode matches re against the code tokens of src only: comments and
// string literals (which may name the forbidden calls to explain them) are
// blanked out first.
func grepCode(fset *token.FileSet, src []byte, re *regexp.Regexp) []textMatch {
	code := append([]byte(nil), src...)
	var s scanner.Scanner
	file := token.NewFileSet().AddFile("", -1, len(src))
	s.Init(file, src, nil, scanner.ScanComments)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.COMMENT || tok == token.STRING || tok == token.CHAR {
			off := file.Offset(pos)
			for i := off; i < off+len(lit) && i < len(code); i++ {
				if code[i] != '\n' {
					code[i] = ' '
				}
			}
		}
	}
	var out []textMatch
	for i, line := range strings.Split(string(code), "\n") {
		if m := re.FindString(line); m != "" {
			out = append(out, textMatch{i + 1, m})
		}
	}
	return out
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func TestNoSignalByPID(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the whole module")
	}
	root := repoRoot(t)
	if bad := findViolations(t, root); len(bad) > 0 {
		t.Errorf("signalling by bare PID is forbidden outside tests (use a pidfd: docs/security.md, case C3):\n  %s",
			strings.Join(bad, "\n  "))
	}
	// startDetached may start and reap its own child, but never signal it:
	// no ".Process." use other than .Pid in restart.go.
	src, err := os.ReadFile(filepath.Join(root, "daemon", "procs", "restart.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range grepCode(token.NewFileSet(), src, regexp.MustCompile(`\.Process\.\w+`)) {
		if m.text != ".Process.Pid" {
			t.Errorf("restart.go:%d uses %s on the relaunched child; only .Pid is allowed", m.line, m.text)
		}
	}
}

// TestNoSignalByPIDDetects proves the checker finds each forbidden form in
// a throw-away module, so TestNoSignalByPID cannot pass vacuously.
func TestNoSignalByPIDDetects(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a throw-away module")
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/bad\n\ngo 1.22\n")
	write("a/a.go", `package a

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

// os.FindProcess in a comment is fine.
var doc = "syscall.Kill in a string is fine"

func A(pid int) {
	p, _ := os.FindProcess(pid)
	_ = p.Signal(syscall.SIGTERM)
	kill := p.Kill
	_ = kill
	_ = syscall.Kill(pid, 9)
	c := exec.CommandContext(context.Background(), "true")
	_ = c.Start()
	_ = c.Process.Signal(os.Interrupt)
}
`)
	write("a/a_test.go", "package a\n\nimport \"os\"\n\nvar _, _ = os.FindProcess(1)\n")
	bad := findViolations(t, dir)
	joined := strings.Join(bad, "\n")
	for _, want := range []string{
		"a/a.go:14: os.FindProcess",
		"a/a.go:15: (*os.Process).Signal",
		"a/a.go:16: (*os.Process).Kill",
		"a/a.go:18: syscall.Kill",
		"a/a.go:19: os/exec.CommandContext",
		"a/a.go:21: (*os.Process).Signal",
		"a/a.go:21: .Process.Signal (text)",
		"a/a.go:18: syscall.Kill (text)",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("checker missed %q; found:\n%s", want, joined)
		}
	}
	for _, b := range bad {
		if strings.Contains(b, "_test.go") || strings.Contains(b, ":10:") || strings.Contains(b, ":11:") {
			t.Errorf("false positive (test file, comment or string): %s", b)
		}
	}
}
