package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// TestQueryJSONPrintsCanonicalEvents: query --json, with and without
// --proofs, prints each record's canonical event bytes unchanged, so that
// audit-verify proof can compare them byte for byte; encoding/json would
// escape <, >, & and U+2028 in them.
func TestQueryJSONPrintsCanonicalEvents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const n = 12
	key, err := testkit.BuildLogOf(dir, n, testkit.EscapeEvent)
	if err != nil {
		t.Fatal(err)
	}
	events := map[uint64][]byte{}
	if err := testkit.Records(dir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindEvent {
			events[rec.Seq] = rec.Event
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--json"},
		{"--json", "--proofs", "--limit", "100"},
	} {
		cmd := queryCommand()
		var out, stderr bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&stderr)
		cmd.SetArgs(append([]string{"--data-dir", dir, "--key", key}, args...))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out.String(), stderr.String())
		}
		results := 0
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			line := sc.Bytes()
			if bytes.HasPrefix(line, []byte(`{"summary"`)) {
				continue
			}
			var m struct {
				Seq   uint64          `json:"seq"`
				Event json.RawMessage `json:"event"`
			}
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, line)
			}
			want := events[m.Seq]
			if !bytes.Equal(m.Event, want) || !bytes.Contains(line, append([]byte(`"event":`), want...)) {
				t.Errorf("%v: record %d: the line's event is not the canonical bytes\n got %s\nwant %s", args, m.Seq, m.Event, want)
			}
			results++
		}
		if results != n {
			t.Errorf("%v: %d results, want %d\n%s", args, results, n, out.String())
		}
	}
	// The events hold what HTML escaping would rewrite.
	all := string(bytes.Join(func() (b [][]byte) {
		for _, e := range events {
			b = append(b, e)
		}
		return
	}(), nil))
	for _, s := range []string{"<", ">", "&", "\u2028", "\u2029", `\"`, `\\`, "é"} {
		if !strings.Contains(all, s) {
			t.Errorf("no event holds %q", s)
		}
	}
}
