package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
)

// TestVersion: audit-verify --version and audit-verify version print the
// same text, which names no hardware support; version --json (its own
// --json, not the root's) says the same as one JSON document. Neither
// needs --key or a data directory.
func TestVersion(t *testing.T) {
	code, text, stderr := runCLI("--version")
	if code != 0 || stderr != "" {
		t.Fatalf("--version: exit %d\n%s%s", code, text, stderr)
	}
	if code, sub, _ := runCLI("version"); code != 0 || sub != text {
		t.Errorf("version: exit %d, printed\n%s\n--version printed\n%s", code, sub, text)
	}
	for _, line := range []string{"audit-verify " + buildinfo.Version() + "\n", "pkcs11:      not built in\n", "tpm:         not built in\n"} {
		if !strings.Contains(text, line) {
			t.Errorf("--version: no %q in\n%s", line, text)
		}
	}
	code, out, stderr := runCLI("version", "--json")
	if code != 0 {
		t.Fatalf("version --json: exit %d\n%s%s", code, out, stderr)
	}
	var got buildinfo.Info
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if want := buildinfo.Read(); got != want {
		t.Errorf("version --json: got %+v, want %+v", got, want)
	}
}

// TestVersionOfABuiltBinary builds audit-verify as README's release build
// does (CGO_ENABLED=0, -buildvcs=true, a version stamped with -ldflags -X;
// not -trimpath, which would rebuild every dependency) and checks that
// --version prints that version, cgo off, and the revision go version -m
// shows (when there is one: the go command stamps it in a clone, whose .git
// is a directory, not in a git worktree, whose .git is a file, nor in a
// tarball).
func TestVersionOfABuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	const release = "v9.8.7-buildinfo.test"
	bin := filepath.Join(t.TempDir(), "audit-verify")
	build := exec.Command(goTool, "build", "-buildvcs=true", "-ldflags", "-X github.com/audit-sealer/audit-sealer/internal/buildinfo.version="+release, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	text := string(out)
	for _, line := range []string{"audit-verify " + release + "\n", "cgo:         off\n", "pkcs11:      not built in\n"} {
		if !strings.Contains(text, line) {
			t.Errorf("--version: no %q in\n%s", line, text)
		}
	}
	meta, err := exec.Command(goTool, "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	m := regexp.MustCompile(`(?m)^\s*build\s+vcs\.revision=(\S+)$`).FindSubmatch(meta)
	if m == nil {
		t.Logf("no vcs.revision in go version -m (a git worktree or no git checkout):\n%s", meta)
		return
	}
	rev := string(m[1])
	if strings.Contains(string(meta), "vcs.modified=true") {
		rev += "+dirty"
	}
	if !strings.Contains(text, "revision:    "+rev+"\n") {
		t.Errorf("--version does not name revision %s:\n%s", rev, text)
	}
}
