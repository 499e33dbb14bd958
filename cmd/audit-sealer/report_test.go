package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// TestReportExitCodes: audit-sealer report exits as audit-verify does: 0
// intact, 1 tampered, 2 when it cannot verify (a key the log was not
// signed with: the JSON report still says so) or cannot run (a missing
// data directory, a bad --format or a GDPR report without --customer,
// which leave no --out file behind).
func TestReportExitCodes(t *testing.T) {
	root := t.TempDir()
	vs, err := testkit.Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	byName := testkit.ByName(vs)
	good, bad := byName["intact_multi"], byName["modified_event"]
	wrong := filepath.Join(root, "attacker.pem")
	os.WriteFile(wrong, testkit.Key("attacker").Public().MarshalPEM(), 0o600)
	out := filepath.Join(root, "out")
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"intact", []string{"soc2", "--data-dir", good.Dir, "--key", good.KeyFile}, 0},
		{"tampered", []string{"soc2", "--data-dir", bad.Dir, "--key", bad.KeyFile}, 1},
		{"wrong key", []string{"soc2", "--data-dir", good.Dir, "--key", wrong}, 2},
		{"missing data dir", []string{"soc2", "--data-dir", filepath.Join(root, "absent"), "--key", good.KeyFile}, 2},
		{"missing key file", []string{"soc2", "--data-dir", good.Dir, "--key", filepath.Join(root, "absent.pem")}, 2},
		{"bad format", []string{"soc2", "--data-dir", good.Dir, "--key", good.KeyFile, "--format", "csv", "--out", out}, 2},
		{"gdpr without customer", []string{"gdpr", "--data-dir", good.Dir, "--key", good.KeyFile, "--out", out}, 2},
		{"pci", []string{"pci", "--data-dir", good.Dir, "--key", good.KeyFile, "--from", "2026-11-01", "--to", "today"}, 0},
		{"iso27001", []string{"iso27001", "--data-dir", good.Dir, "--key", good.KeyFile, "--format", "html"}, 0},
		{"unknown kind", []string{"hipaa", "--data-dir", good.Dir, "--key", good.KeyFile, "--out", out}, 2},
		{"bad --from", []string{"soc2", "--data-dir", good.Dir, "--key", good.KeyFile, "--from", "last tuesday", "--out", out}, 2},
		{"period ends before it starts", []string{"soc2", "--data-dir", good.Dir, "--key", good.KeyFile, "--from", "today", "--to", "yesterday", "--out", out}, 2},
		{"--sig without --socket", []string{"soc2", "--data-dir", good.Dir, "--key", good.KeyFile, "--out", out, "--sig", out + ".sig"}, 2},
		{"--socket with --data-dir", []string{"soc2", "--socket", filepath.Join(root, "s.sock"), "--data-dir", good.Dir, "--out", out}, 2},
		{"no sealer at --socket", []string{"soc2", "--socket", filepath.Join(root, "s.sock"), "--out", out}, 2},
	} {
		stdout, code, err := runRead(t, reportCommand(), c.args...)
		if code != c.code {
			t.Errorf("%s: exit %d (%v), want %d", c.name, code, err, c.code)
		}
		if c.name == "wrong key" {
			var r struct {
				Coverage struct {
					Verdict string `json:"verdict"`
				} `json:"coverage"`
			}
			if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Coverage.Verdict != "unverifiable" {
				t.Errorf("wrong key: %v\n%s", err, stdout)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: left %s behind", c.name, out)
		}
	}
}
