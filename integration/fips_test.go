package integration

import (
	"crypto/fips140"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
)

// fipsBuild reports whether the binaries under test run in FIPS 140-3 mode
// with a frozen Go Cryptographic Module: scripts/test.sh's FIPS pass
// (GOFIPS140=v1.0.0 GODEBUG=fips140=only); TestMain checked that they run
// this test process's module and mode.
func fipsBuild() bool {
	b := buildinfo.Read()
	return b.FIPS140Mode != buildinfo.FIPSOff && b.FIPS140Module != buildinfo.FIPSModuleLatest
}

// fipsGODEBUG is the environment that puts a binary in FIPS 140-3 mode:
// none when the tests run in it already, else GODEBUG=fips140=on (which a
// build without GOFIPS140 accepts, with the toolchain's own module).
func fipsGODEBUG() []string {
	if fips140.Enabled() {
		return nil
	}
	return []string{"GODEBUG=fips140=on"}
}

// TestRequireFIPSRefusesSoftHSM: a sealer in FIPS 140-3 mode that requires
// FIPS (require_fips, here explicitly) refuses SoftHSM2, which reports no
// FIPS 140 validation: exit 2 with the reason, before it writes anything.
// Requiring FIPS with the Go module out of FIPS mode is refused too.
func TestRequireFIPSRefusesSoftHSM(t *testing.T) {
	env := softHSM(t, "ecdsa-p256")
	dataDir := filepath.Join(t.TempDir(), "data")
	env = append(env, "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+filepath.Join(shortSocketDir(t), "s.sock"),
		"AUDIT_SEALER_REQUIRE_FIPS=true") // after setup.sh's false: the last one counts
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"go module in FIPS mode", fipsGODEBUG(), []string{"FIPS 140 required (require_fips)", "(SoftHSM project SoftHSM v2) reports no FIPS 140 validation", "require_fips = false"}},
		{"go module not in FIPS mode", []string{"GODEBUG=fips140=off"}, []string{"require_fips is set, but the Go Cryptographic Module is not in FIPS 140-3 mode", "GOFIPS140"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := sealerCmd(append(append([]string(nil), env...), tc.env...), "serve").CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("serve: %v, want exit 2\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the refusal does not say %q:\n%s", w, out)
				}
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Errorf("the refused sealer left %s: %v", dataDir, err)
			}
		})
	}
}

// TestFIPSRunsEndToEnd: each run's audit.sealer_started states its FIPS
// 140-3 mode, and audit-verify --require-fips judges it. A dev-mode run
// (the run key and the checkpoint key in the Go module) is FIPS exactly in
// the FIPS pass; a run on SoftHSM2, which the environment of setup.sh lets
// through (require_fips = false) with a warning in FIPS mode, never is
// (hsm_fips unreported).
func TestFIPSRunsEndToEnd(t *testing.T) {
	for _, out := range []string{"audit-sealer", "audit-verify"} {
		v, err := exec.Command(filepath.Join(bin, out), "--version").Output()
		if err != nil || !strings.Contains(string(v), "  fips140:     "+buildinfo.FIPSMode()) || !strings.Contains(string(v), "  fips module: "+buildinfo.Read().FIPS140Module) {
			t.Errorf("%s --version: %v\n%s", out, err, v)
		}
	}

	// Dev mode: software keys, in the Go module.
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	runClients(socket, 1, "fips-dev", closedAfter(100*time.Millisecond))
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	key := exportKey(t, dataDir)
	code, rep := auditVerifyArgs(t, "--key", key, "--require-fips", "--json", dataDir)
	runs := fipsRuns(t, rep)
	if len(runs) != 1 || runs[0]["fips140"] != buildinfo.FIPSMode() || runs[0]["fips140_module"] != buildinfo.Read().FIPS140Module || runs[0]["key_kind"] != "software" {
		t.Fatalf("dev run: %v", runs)
	}
	if fipsBuild() {
		if code != 0 || runs[0]["fips"] != true {
			t.Fatalf("a dev run of a FIPS build, --require-fips: exit %d %v", code, rep["first_failure"])
		}
	} else if code != 1 || reason(rep) != "not_fips" {
		t.Fatalf("a dev run outside FIPS 140-3 mode, --require-fips: exit %d %v", code, rep["first_failure"])
	}

	// SoftHSM2, let through by setup.sh's AUDIT_SEALER_REQUIRE_FIPS=false.
	env := softHSM(t, "ed25519")
	dataDir = filepath.Join(t.TempDir(), "data")
	env = append(env, append(fipsGODEBUG(), "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+socket)...)
	d = startDaemonEnv(t, env)
	runClients(socket, 1, "fips-hsm", closedAfter(100*time.Millisecond))
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	if !strings.Contains(d.stderr.String(), "FIPS 140-3 mode WITHOUT A VALIDATED HSM") || !strings.Contains(d.stderr.String(), "reports no FIPS 140 validation") {
		t.Errorf("a FIPS-mode sealer on SoftHSM2 did not warn:\n%s", d.stderr)
	}
	pem, err := sealerCmd(env, "keys", "export-public", "--current").Output()
	if err != nil {
		t.Fatal(err)
	}
	key = filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(key, pem, 0o600)
	code, rep = auditVerifyArgs(t, "--key", key, "--require-fips", "--json", dataDir)
	runs = fipsRuns(t, rep)
	if code != 1 || reason(rep) != "not_fips" || len(runs) != 1 || runs[0]["hsm_fips"] != "unreported" || runs[0]["key_kind"] != "pkcs11" || runs[0]["fips"] != false {
		t.Fatalf("a SoftHSM2 run, --require-fips: exit %d %v %v", code, rep["first_failure"], runs)
	}
	if code, _ := auditVerifyArgs(t, "--key", key, "--json", dataDir); code != 0 {
		t.Fatalf("the same log without --require-fips: exit %d", code)
	}
}

// fipsRuns returns the runs of the report's fips member.
func fipsRuns(t *testing.T, rep map[string]any) []map[string]any {
	t.Helper()
	f, _ := rep["fips"].(map[string]any)
	list, _ := f["runs"].([]any)
	var runs []map[string]any
	for _, r := range list {
		m, _ := r.(map[string]any)
		runs = append(runs, m)
	}
	return runs
}

// reason is the first failure's reason of a JSON report.
func reason(rep map[string]any) any {
	f, _ := rep["first_failure"].(map[string]any)
	return f["reason"]
}
