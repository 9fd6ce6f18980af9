package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsCiteWhatExists keeps the README and docs/ true about the tests
// and files they point at: docs/security.md says which test covers each
// case, and a renamed or removed test must not leave it citing nothing.
// Every test, benchmark and e2e case named in a code span (`TestX`,
// `TestX/Sub`, `BenchmarkX`, `R2_relaunch_…`) must exist in a _test.go
// file, and every repository path in a code span (`daemon/conns.go`) must
// exist.
func TestDocsCiteWhatExists(t *testing.T) {
	root := filepath.Join("..", "..")
	var src strings.Builder
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "build" || n == "bin" || n == "vendor" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err == nil {
				src.Write(b)
			}
		}
		return nil
	})
	tests := src.String()
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"))
	span := regexp.MustCompile("`([^`\n]+)`")
	testName := regexp.MustCompile(`\b(?:Test|Benchmark)[A-Z][A-Za-z0-9_]*(?:/[A-Za-z0-9_]+)*`)
	// e2e cases: a letter, a number, an underscore ("E1_systemd_…",
	// "A4_A6_A9_…"); "…" ends a prefix.
	caseName := regexp.MustCompile(`\b[A-Z][0-9]+[a-z]?_[A-Za-z0-9_.]*[A-Za-z0-9_]…?`)
	path := regexp.MustCompile(`^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+\.(?:go|sh|mjs|js|css|html|conf|service|socket|policy|md|rules|json)$`)
	cited := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, doc)
		for _, m := range span.FindAllStringSubmatch(string(b), -1) {
			s := m[1]
			for _, name := range testName.FindAllString(s, -1) {
				cited++
				parts := strings.Split(name, "/")
				if !strings.Contains(tests, "func "+parts[0]+"(") {
					t.Errorf("%s cites %s: no such test function", rel, name)
					continue
				}
				for _, sub := range parts[1:] {
					if !strings.Contains(tests, `"`+sub+`"`) && !strings.Contains(tests, `"`+strings.ReplaceAll(sub, "_", " ")+`"`) {
						t.Errorf("%s cites %s: no subtest %q", rel, name, sub)
					}
				}
			}
			for _, name := range caseName.FindAllString(s, -1) {
				cited++
				want := `"` + name + `"`
				if p, ok := strings.CutSuffix(name, "…"); ok {
					want = `"` + p
				}
				if !strings.Contains(tests, want) {
					t.Errorf("%s cites the case %s: not in any test", rel, name)
				}
			}
			if path.MatchString(s) {
				cited++
				if _, err := os.Stat(filepath.Join(root, s)); err != nil {
					if _, err := os.Stat(filepath.Join(filepath.Dir(doc), s)); err != nil {
						t.Errorf("%s cites %s: no such file", rel, s)
					}
				}
			}
		}
	}
	if cited < 50 {
		t.Errorf("only %d tests and files cited in README.md and docs/: the parser missed them?", cited)
	}
}
