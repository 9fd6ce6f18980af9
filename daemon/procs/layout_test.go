package procs

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportDirection keeps the layout of docs/architecture.md: imports go
// daemon/ → transports → core → readers, never back, and the two
// transports never import each other. Test files are free.
func TestImportDirection(t *testing.T) {
	root := repoRoot(t)
	const mod = "github.com/roy/roy-procwatch/"
	forbidden := map[string][]string{
		"internal/procfs":   {"daemon", "httpui", "dbusiface", "internal/systemd"},
		"internal/systemd":  {"daemon", "httpui", "dbusiface", "internal/procfs"},
		"internal/relaunch": {"daemon", "httpui", "dbusiface", "internal/procfs", "internal/systemd"},
		"daemon/host":       {"daemon/procs", "httpui", "dbusiface", "internal/procfs", "internal/systemd", "internal/relaunch"},
		"daemon/procs":      {"httpui", "dbusiface"},
		"httpui":            {"dbusiface"},
		"dbusiface":         {"httpui"},
	}
	for dir, bad := range forbidden {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if len(files) == 0 {
			t.Errorf("%s: no Go files (moved? update this test and docs/architecture.md)", dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(p, mod) {
					continue
				}
				p = strings.TrimPrefix(p, mod)
				for _, b := range bad {
					if p == b || strings.HasPrefix(p, b+"/") && !strings.HasPrefix(p, dir) {
						rel, _ := filepath.Rel(root, f)
						t.Errorf("%s imports %s: against the import direction of docs/architecture.md", rel, p)
					}
				}
			}
		}
	}
	// gopsutil is daemon/host's alone (the list's hot path reads /proc by
	// hand).
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || rel == "vendor" || rel == "build" || rel == "debian" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.Dir(rel) == "daemon/host" {
			return nil
		}
		af, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return nil
		}
		for _, imp := range af.Imports {
			if strings.Contains(imp.Path.Value, "github.com/shirou/gopsutil") {
				t.Errorf("%s imports %s: only daemon/host may", rel, imp.Path.Value)
			}
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(root, "docs", "architecture.md")); err != nil {
		t.Errorf("docs/architecture.md: %v", err)
	}
}
