// Package docs checks the repository's documents: every relative link of
// README.md and docs/*.md points at a file that exists and, with a
// #fragment, at a heading of that file.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)
	fenceRE   = regexp.MustCompile("(?ms)^```.*?^```")
	slugDrop  = regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
)

// anchors returns the GitHub-style anchors of a Markdown file's headings.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(text, ""), -1) {
		s := strings.ToLower(slugDrop.ReplaceAllString(m[1], ""))
		out[strings.ReplaceAll(s, " ", "-")] = true
	}
	return out
}

func TestLinks(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files := append([]string{filepath.Join(root, "README.md")}, docs...)
	if len(files) < 5 {
		t.Fatalf("only %d documents found", len(files))
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := fenceRE.ReplaceAllString(string(b), "")
		for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			n++
			path, frag, _ := strings.Cut(link, "#")
			target := f
			if path != "" {
				target = filepath.Join(filepath.Dir(f), path)
			}
			tb, err := os.ReadFile(target)
			if err != nil {
				if _, serr := os.Stat(target); serr == nil && frag == "" {
					continue // a directory or an image
				}
				t.Errorf("%s: link %s: %v", f, link, err)
				continue
			}
			if frag != "" && strings.HasSuffix(target, ".md") && !anchors(string(tb))[frag] {
				t.Errorf("%s: link %s: no heading #%s in %s", f, link, frag, target)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d relative links checked", n)
	}
}
