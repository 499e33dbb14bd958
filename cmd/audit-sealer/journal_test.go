package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/internal/config"
)

// streamOf returns the JOURNAL_STREAM value that names f.
func streamOf(t *testing.T, f *os.File) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// logTo writes an error, a warning, an info and a debug line through the
// daemon's logger to a file standing for stderr and returns its lines.
func logTo(t *testing.T, format, journalStream func(*os.File) string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("JOURNAL_STREAM", journalStream(f))
	cfg := config.Defaults()
	cfg.Log.Level, cfg.Log.Format = "debug", format(f)
	log := newLogger(cfg, f)
	log.Error("cannot anchor in the TPM counter", "error", "tpm: gone")
	log.Warn("degraded")
	log.Info("sealer ready")
	log.Debug("detail")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestJournalPriorityPrefixes: when JOURNAL_STREAM names the logger's
// stderr, each line starts with its syslog priority (<3> error, <4>
// warning, <6> info, <7> debug) and carries no timestamp, in text and in
// JSON; when it names another stream (a redirected stderr) or is unset,
// lines are as before: no prefix, a timestamp.
func TestJournalPriorityPrefixes(t *testing.T) {
	want := []string{"<3>", "<4>", "<6>", "<7>"}
	for _, format := range []string{"text", "json"} {
		fmtOf := func(*os.File) string { return format }
		lines := logTo(t, fmtOf, func(f *os.File) string { return streamOf(t, f) })
		if len(lines) != len(want) {
			t.Fatalf("%s: want %d lines, got %q", format, len(want), lines)
		}
		for i, l := range lines {
			if !strings.HasPrefix(l, want[i]) {
				t.Errorf("%s under journald: line %q does not start with %s", format, l, want[i])
			}
			if hasTimestamp(format, l[3:]) {
				t.Errorf("%s under journald: line %q carries a timestamp", format, l)
			}
		}
		if format == "text" && !strings.HasPrefix(lines[0], "<3>[ERROR] audit-sealer: cannot anchor") {
			t.Errorf("text under journald: %q", lines[0])
		}
		for name, stream := range map[string]func(*os.File) string{
			"other stream": func(*os.File) string { return "1:2" },
			"unset":        func(*os.File) string { return "" },
		} {
			for _, l := range logTo(t, fmtOf, stream) {
				if strings.HasPrefix(l, "<") {
					t.Errorf("%s, %s: line %q has a priority prefix", format, name, l)
				}
				if !hasTimestamp(format, l) {
					t.Errorf("%s, %s: line %q has no timestamp", format, name, l)
				}
			}
		}
	}
}

// hasTimestamp reports whether a log line carries hclog's timestamp: a
// leading RFC 3339 time in text, "@timestamp" in JSON.
func hasTimestamp(format, line string) bool {
	if format == "json" {
		return strings.Contains(line, `"@timestamp"`)
	}
	return len(line) > 0 && line[0] >= '0' && line[0] <= '9'
}

// TestJournalWriterPrefixesEveryLine: a multi-line entry (hclog writes
// long values on their own lines) has the prefix on each line, so no line
// of an error falls to journald's default priority.
func TestJournalWriterPrefixesEveryLine(t *testing.T) {
	var b strings.Builder
	journalWriter{w: &b}.LevelWrite(hclog.Warn, []byte("[WARN]  x: msg\n  | line two\n"))
	if got := b.String(); got != "<4>[WARN]  x: msg\n<4>  | line two\n" {
		t.Fatalf("got %q", got)
	}
}
