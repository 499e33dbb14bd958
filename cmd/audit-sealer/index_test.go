package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

func runIndex(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := indexCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	var ee *exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String() + err.Error(), ee.code
	}
	t.Fatal(err)
	return "", -1
}

// TestIndexCommand: build writes every closed segment's index, check
// passes on them and exits 1 on an index that omits a record.
func TestIndexCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := testkit.BuildQueryLog(dir, 2000, 32<<10); err != nil {
		t.Fatal(err)
	}
	out, code := runIndex(t, "check", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "missing") {
		t.Fatalf("check without indexes: exit %d\n%s", code, out)
	}
	out, code = runIndex(t, "build", "--data-dir", dir)
	closed, _ := index.Closed(dir)
	if code != 0 || strings.Count(out, "\tbuilt") != len(closed) || len(closed) < 3 {
		t.Fatalf("build: exit %d\n%s", code, out)
	}
	if out, code = runIndex(t, "check", "--data-dir", dir); code != 0 || strings.Count(out, "\tok") != len(closed) {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	seg := closed[1]
	x, _ := index.Load(dir, seg.Name)
	ps := map[string][]index.Posting{}
	for _, k := range x.Keys() {
		ps[k] = x.Lookup(k)
	}
	ps["type:auth.failure"] = slices.Delete(ps["type:auth.failure"], 0, 1)
	y, err := index.New(*x, ps)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(index.Path(dir, seg.Name))
	os.WriteFile(index.Path(dir, seg.Name), y.Encode(), 0o400)
	out, code = runIndex(t, "check", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, seg.Name+"\tmismatch") || !strings.Contains(out, "type:auth.failure") {
		t.Fatalf("check of an index that omits a record: exit %d\n%s", code, out)
	}
	if out, code = runIndex(t, "build", "--data-dir", dir, "--all"); code != 0 {
		t.Fatalf("build --all: exit %d\n%s", code, out)
	}
	if out, code = runIndex(t, "check", "--data-dir", dir); code != 0 {
		t.Fatalf("check after rebuilding: exit %d\n%s", code, out)
	}
}
