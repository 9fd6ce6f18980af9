package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoReferencesOutsideTheRepository: comments and documents point at
// files of the repository (docs/…), never at design notes that are not in
// it.
func TestNoReferencesOutsideTheRepository(t *testing.T) {
	root := filepath.Join("..", "..")
	bad := []string{"SECURITY" + ".md", "DESIGN" + ".md", "STYLE" + ".md", "../" + "shared/"}
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".cache", "vendor", "bin", "build", "node_modules", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".js", ".mjs", ".html", ".css", ".sh", ".md", ".service", ".socket", ".conf", ".policy", ".8":
		default:
			if d.Name() != "Makefile" && filepath.Base(filepath.Dir(p)) != "debian" {
				return nil
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		for _, s := range bad {
			if strings.Contains(string(b), s) {
				t.Errorf("%s cites %s, which is not in the repository: point at docs/ instead", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Errorf("only %d files scanned", n)
	}
}
