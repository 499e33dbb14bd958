package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/export"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// runExportCmd runs audit-sealer export with args and returns its
// standard output, standard error and exit status.
func runExportCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exportCommand()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

// TestExportUsageErrors: flags that do not go together, or a sink without
// what it needs, exit 2 before anything is read, delivered or written.
func TestExportUsageErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key, err := testkit.BuildLogOf(dir, 5, testkit.EventJSON)
	if err != nil {
		t.Fatal(err)
	}
	cursor := filepath.Join(t.TempDir(), "cursor")
	base := []string{"--data-dir", dir, "--key", key, "--cursor-file", cursor}
	for name, args := range map[string][]string{
		"an unknown format":        {"--format", "xml"},
		"an unknown sink":          {"--sink", "kafka"},
		"syslog without address":   {"--sink", "syslog"},
		"hec without token":        {"--sink", "hec", "--sink-address", "https://127.0.0.1:8088"},
		"hec over plain http":      {"--sink", "hec", "--sink-address", "http://127.0.0.1:8088", "--hec-token-file", key},
		"a certificate alone":      {"--sink", "syslog", "--sink-address", "127.0.0.1:6514", "--sink-cert", key},
		"TLS flags with stdout":    {"--sink-ca", key},
		"hec flags with syslog":    {"--sink", "syslog", "--sink-address", "127.0.0.1:6514", "--hec-index", "main"},
		"a facility out of range":  {"--sink", "syslog", "--sink-address", "127.0.0.1:6514", "--syslog-facility", "24"},
		"a CA that is not PEM":     {"--sink", "syslog", "--sink-address", "127.0.0.1:6514", "--sink-ca", cursor + ".none"},
		"a syslog address no port": {"--sink", "syslog", "--sink-address", "127.0.0.1"},
		"a zero batch":             {"--batch", "0"},
	} {
		out, msg, code := runExportCmd(t, append(base, args...)...)
		if code != 2 || out != "" {
			t.Errorf("%s: exit %d, output %q (%s), want exit 2 and nothing", name, code, out, msg)
		}
		if _, err := os.Stat(cursor); err == nil {
			t.Fatalf("%s: the cursor file was created", name)
		}
	}
}

// TestExportCursorFile: export --cursor-file writes the cursor (the last
// record, a checkpoint that covers it, the log's origin), a second run
// prints nothing, and a cursor of another log exits 2 with a clear error.
func TestExportCursorFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key, err := testkit.BuildLogOf(dir, 30, testkit.EventJSON)
	if err != nil {
		t.Fatal(err)
	}
	var last chain.Record
	testkit.Records(dir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindEvent {
			last = rec
		}
		return true
	})
	cursor := filepath.Join(t.TempDir(), "cursor")
	out, msg, code := runExportCmd(t, "--data-dir", dir, "--key", key, "--format", "ocsf", "--cursor-file", cursor, "--host", "node-a")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var o struct {
			Metadata struct {
				Version string `json:"version"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil || o.Metadata.Version != export.OCSFVersion {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines != 30 {
		t.Fatalf("%d lines, want 30", lines)
	}
	cur, err := export.ReadCursor(cursor)
	if err != nil || cur == nil || cur.Seq < last.Seq || cur.Checkpoint.Size <= cur.Seq || cur.InFlight != 0 {
		t.Fatalf("cursor %+v (%v); the last event is record %d", cur, err, last.Seq)
	}
	if out, msg, code := runExportCmd(t, "--data-dir", dir, "--key", key, "--cursor-file", cursor); code != 0 || out != "" {
		t.Fatalf("a second run: exit %d, %d bytes out (%s)", code, len(out), msg)
	}

	other := filepath.Join(t.TempDir(), "other")
	otherKey, err := testkit.BuildQueryLog(other, 3, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	out, msg, code = runExportCmd(t, "--data-dir", other, "--key", otherKey, "--cursor-file", cursor)
	if code != 2 || out != "" || !strings.Contains(msg, "belongs to another log") {
		t.Fatalf("another log's cursor: exit %d, %q, %s", code, out, msg)
	}
}
