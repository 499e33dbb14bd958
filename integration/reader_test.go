package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
)

// asUID runs audit-sealer (or audit-verify) as uid and gid, and returns
// its stdout, stderr and exit status.
func asUID(t *testing.T, uid, gid uint32, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestReaderGroupReadsThroughSealer: a member of a [query] reader group
// (nobody, by its primary group), with no access to the data directory,
// queries, exports and builds a signed report through the sealer's
// socket; each read is recorded in the chain with its uid (PCI DSS
// 10.2.1.3); audit-verify report checks the report with the public key
// alone and fails a changed copy. Reading the files is refused to the
// reader, with a pointer to --socket, and works for root, which is told
// that the read is not recorded.
func TestReaderGroupReadsThroughSealer(t *testing.T) {
	needRoot(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid64, _ := strconv.ParseUint(nobody.Uid, 10, 32)
	gid64, _ := strconv.ParseUint(nobody.Gid, 10, 32)
	uid, gid := uint32(uid64), uint32(gid64)
	group, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Skipf("nobody's group has no name: %v", err)
	}
	cfgFile := filepath.Join(t.TempDir(), "audit-sealer.toml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("[query]\nuids = [0]\ngroups = [%q]\n", group.Name)), 0o644)
	d, socket := startDaemonForAllUIDs(t, "AUDIT_SEALER_CONFIG="+cfgFile)
	stopped := false
	defer func() {
		if !stopped {
			d.stop()
		}
	}()
	key := exportKey(t, d.dataDir)
	outDir, err := os.MkdirTemp("", "reader-out")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outDir)
	os.Chmod(outDir, 0o777)

	var events bytes.Buffer
	for i := 0; i < 30; i++ {
		ts := time.Now().UTC().Format(time.RFC3339Nano)
		fmt.Fprintf(&events, `{"type":"auth.failure","timestamp":%q,"attempted_user":"u-%d","reason":"invalid_token","ip":"203.0.113.7","path":"/v2/tasks","service_id":"queen-rbee"}`+"\n", ts, i%3)
	}
	emit := exec.Command(filepath.Join(bin, "audit-sealer"), "emit", "--durable", "--socket", socket)
	emit.Stdin = &events
	if out, err := emit.CombinedOutput(); err != nil {
		t.Fatalf("emit: %v\n%s", err, out)
	}
	// The sealer seals them within its seal interval.
	waitFor(t, "the events sealed", func() bool {
		out, _, code := asUID(t, uid, gid, "audit-sealer", "query", "--socket", socket, "--subject", "u-1", "--json")
		return code == 0 && strings.Count(out, "\n") == 10
	})

	// The reader cannot read the files: it is told to use the socket.
	readerKey := filepath.Join(outDir, "key.pem")
	os.WriteFile(readerKey, must(os.ReadFile(key)), 0o644)
	_, stderr, code := asUID(t, uid, gid, "audit-sealer", "query", "--data-dir", d.dataDir, "--key", readerKey)
	if code != 2 || !strings.Contains(stderr, "permission denied") || !strings.Contains(stderr, "--socket") {
		t.Fatalf("a reader reading the files: exit %d\n%s", code, stderr)
	}
	// Export through the sealer.
	out, stderr, code := asUID(t, uid, gid, "audit-sealer", "export", "--socket", socket, "--type", "auth.failure", "--format", "cef")
	if code != 0 || strings.Count(out, "CEF:0|") != 30 {
		t.Fatalf("export: exit %d, %d lines\n%s%s", code, strings.Count(out, "\n"), out, stderr)
	}
	// A signed report through the sealer; a bad format writes nothing.
	page := filepath.Join(outDir, "soc2.html")
	if _, stderr, code := asUID(t, uid, gid, "audit-sealer", "report", "soc2", "--socket", socket, "--format", "pdf", "--out", page); code != 2 {
		t.Fatalf("--format pdf: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(page); err == nil {
		t.Fatal("a bad --format left a file")
	}
	_, stderr, code = asUID(t, uid, gid, "audit-sealer", "report", "soc2", "--socket", socket, "--format", "html", "--from", "today", "--out", page)
	if code != 0 || !strings.Contains(stderr, "recorded the report's SHA-256") {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	body, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(body, []byte(`id="exceptions-table"`)) && !bytes.Contains(body, []byte(`id="no-exceptions"`)) {
		t.Fatalf("the report: %v", err)
	}
	out, stderr, code = asUID(t, 0, 0, "audit-verify", "report", "--key", key, page)
	if code != 0 || !strings.Contains(out, "report valid") || !strings.Contains(out, "uid "+nobody.Uid) {
		t.Fatalf("audit-verify report: exit %d\n%s%s", code, out, stderr)
	}
	changed := filepath.Join(outDir, "changed.html")
	os.WriteFile(changed, bytes.Replace(body, []byte("SOC 2"), []byte("SOC 3"), 1), 0o644)
	os.WriteFile(changed+".sig", must(os.ReadFile(page+".sig")), 0o644)
	if out, _, code := asUID(t, 0, 0, "audit-verify", "report", "--key", key, changed); code != 1 || !strings.Contains(out, "INVALID") {
		t.Fatalf("a changed report: exit %d\n%s", code, out)
	}
	if _, _, code := asUID(t, 0, 0, "audit-verify", "report", "--key", key, "--sig", filepath.Join(outDir, "none.sig"), page); code != 2 {
		t.Fatalf("a missing signature: exit %d", code)
	}

	// Root reads the files, and is told the read is not recorded.
	out, stderr, code = asUID(t, 0, 0, "audit-sealer", "query", "--data-dir", d.dataDir, "--key", key, "--subject", "u-2")
	if code != 0 || strings.Count(out, "\tauth.failure\t") != 10 || !strings.Contains(stderr, "not recorded") {
		t.Fatalf("root's direct query: exit %d\n%s%s", code, out, stderr)
	}

	stopped = true
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, r := range readEvents(t, d.dataDir) {
		if r.Type != event.TypeLogRead {
			continue
		}
		var lr struct {
			UID          uint32 `json:"uid"`
			Operation    string `json:"operation"`
			ReportSHA256 string `json:"report_sha256"`
		}
		json.Unmarshal(r.Event, &lr)
		if lr.UID == uid {
			ops[lr.Operation]++
		}
		if lr.Operation == "report" && lr.ReportSHA256 == "" {
			t.Fatalf("a report's read without its SHA-256: %s", r.Event)
		}
	}
	if ops["query"] < 1 || ops["export"] != 1 || ops["report"] != 1 {
		t.Fatalf("the reader's reads recorded: %v", ops)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
