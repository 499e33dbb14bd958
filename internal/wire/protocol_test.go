package wire

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestProtocolDocument: the ops, the error codes and the codes that are the
// client's fault are those PROTOCOL.md defines, so that neither can gain one
// the other lacks.
func TestProtocolDocument(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "PROTOCOL.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	// The code table of "## Errors": rows of the form | `code` | … |.
	errorsSection := section(t, doc, "## Errors")
	var docCodes []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(errorsSection, -1) {
		docCodes = append(docCodes, m[1])
	}
	if goCodes := constants(t, "Code"); !slices.Equal(docCodes, goCodes) {
		t.Errorf("PROTOCOL.md's error codes, in its table's order:\n  %q\nthe Code constants, in the source's order:\n  %q", docCodes, goCodes)
	}
	if !slices.Equal(Codes(), docCodes) {
		t.Errorf("Codes() = %q; PROTOCOL.md's table: %q", Codes(), docCodes)
	}

	// The ops of "## Requests": one "### op" heading each.
	var docOps []string
	for _, m := range regexp.MustCompile(`(?m)^### ([a-z_]+)$`).FindAllStringSubmatch(section(t, doc, "## Requests"), -1) {
		docOps = append(docOps, m[1])
	}
	goOps := constants(t, "Op")
	slices.Sort(docOps)
	slices.Sort(goOps)
	if !slices.Equal(docOps, goOps) {
		t.Errorf("PROTOCOL.md's ops: %q; the Op constants: %q", docOps, goOps)
	}

	// "The lines the sealer refuses as the client's fault (`bad_json`, …)".
	m := regexp.MustCompile("refuses as the client's fault \\(([^)]*)\\)").FindStringSubmatch(strings.Join(strings.Fields(doc), " "))
	if m == nil {
		t.Fatal("PROTOCOL.md no longer lists the codes that are the client's fault")
	}
	var fault []string
	for _, c := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(m[1], -1) {
		fault = append(fault, c[1])
	}
	for _, code := range docCodes {
		if IsClientFault(code) != slices.Contains(fault, code) {
			t.Errorf("IsClientFault(%q) = %v; PROTOCOL.md's list of the client's faults: %q", code, IsClientFault(code), fault)
		}
	}
}

// section returns doc's text from the heading to the next heading of its
// level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("PROTOCOL.md has no heading %q", heading)
	}
	rest := doc[i+len(heading)+2:]
	level := heading[:strings.IndexByte(heading, ' ')+1]
	if j := strings.Index(rest, "\n"+level); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// constants returns the values of the package's string constants whose
// names start with prefix, in the order of its source files.
func constants(t *testing.T, prefix string) []string {
	t.Helper()
	files, err := filepath.Glob("*.go") // sorted
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("constant %s is not a string literal", n.Name)
					}
					v, _ := strconv.Unquote(lit.Value)
					names = append(names, v)
				}
			}
		}
	}
	return names
}
