package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
)

// runRead runs a query or export command and returns its output and exit
// status (what main would exit with).
func runRead(t *testing.T, cmd *cobra.Command, args ...string) (string, int, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard) // notes and warnings
	cmd.SetArgs(args)
	err := cmd.Execute()
	var ee *exitError
	switch {
	case err == nil:
		return out.String(), 0, nil
	case errors.As(err, &ee):
		return out.String(), ee.code, err
	}
	return out.String(), 1, err
}

// TestReadCommandsRefuseTamperedLogs: query, export and export --follow
// fail on a tampered log with the verifier's reason code and exit status
// 1, and never print a forged record: every line they print is the
// genuine record of intact_multi, which the vectors are made from.
// Without a key to trust they exit 2.
func TestReadCommandsRefuseTamperedLogs(t *testing.T) {
	vs, err := testkit.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]testkit.Vector{}
	for _, v := range vs {
		byName[v.Name] = v
	}
	genuine := map[uint64]string{}
	testkit.Records(byName["intact_multi"].Dir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindEvent || rec.Kind == chain.KindSealerEvent {
			genuine[rec.Seq] = string(rec.Event)
		}
		return true
	})
	for name, reason := range map[string]string{
		"forged_key_introduced":     "unknown_key",
		"modified_event":            "modified",
		"forged_commit":             "bad_signature",
		"cosigned_checkpoint":       "modified",
		"final_checkpoint_resigned": "unknown_key",
		"segment_missing_middle":    "segment_missing",
		"intact_multi":              "",
		"forged_tail_event":         "", // not sealed: not printed
	} {
		v := byName[name]
		for _, c := range []struct {
			what string
			cmd  func() *cobra.Command
			args []string
		}{
			{"query", queryCommand, []string{"--json", "--sealer"}},
			{"query --type", queryCommand, []string{"--json", "--sealer", "--type", "auth.*"}},
			{"export", exportCommand, []string{"--format", "jsonl", "--sealer"}},
			{"export --follow", exportCommand, []string{"--format", "jsonl", "--sealer", "--follow", "--poll", "10ms"}},
		} {
			if c.what == "export --follow" && reason == "" {
				continue // it would follow for ever
			}
			out, code, err := runRead(t, c.cmd(), append([]string{"--data-dir", v.Dir, "--key", v.KeyFile}, c.args...)...)
			if reason == "" && code != 0 || reason != "" && (code != 1 || !strings.Contains(err.Error(), reason+":")) {
				t.Errorf("%s on %s: exit %d, %v; want %q", c.what, name, code, err, reason)
			}
			lines := 0
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), `{"summary"`) {
					continue
				}
				var m struct {
					Seq   uint64          `json:"seq"`
					Event json.RawMessage `json:"event"`
				}
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					t.Fatalf("%s on %s: %q: %v", c.what, name, sc.Text(), err)
				}
				if genuine[m.Seq] != string(m.Event) {
					t.Fatalf("%s on %s printed record %d, which is not the genuine one: %s", c.what, name, m.Seq, m.Event)
				}
				lines++
			}
			if name == "intact_multi" && lines == 0 {
				t.Fatalf("%s printed nothing from an intact log", c.what)
			}
		}
	}

	// No --key: the configuration's key, here the --dev key of the data
	// directory; without one, exit 2 (it cannot check).
	v := byName["intact_multi"]
	dir := filepath.Join(t.TempDir(), "data")
	if err := testkit.CopyDir(v.Dir, dir); err != nil {
		t.Fatal(err)
	}
	if _, code, err := runRead(t, queryCommand(), "--data-dir", dir, "--dev"); code != 2 || !strings.Contains(err.Error(), "cannot check") {
		t.Fatalf("query --dev without a development key: exit %d, %v", code, err)
	}
	if err := testkit.Key("main").WriteKeyFile(filepath.Join(dir, storage.DevKeyFile)); err != nil {
		t.Fatal(err)
	}
	if out, code, err := runRead(t, queryCommand(), "--data-dir", dir, "--dev", "--json"); code != 0 || strings.Count(out, "\n") < 80 {
		t.Fatalf("query --dev with the development key: exit %d, %v\n%s", code, err, out)
	}
	if _, code, err := runRead(t, exportCommand(), "--data-dir", filepath.Join(t.TempDir(), "none"), "--key", filepath.Join(t.TempDir(), "none.pem")); code != 2 {
		t.Fatalf("export with a missing key file: exit %d, %v", code, err)
	}
}
