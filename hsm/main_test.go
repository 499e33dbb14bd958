//go:build cgo

package hsm_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/signer"
)

// The tests run against a real SoftHSM2 token store that TestMain creates in
// a temporary directory with a private SOFTHSM2_CONF, before anything in the
// process initialises the module (the module reads SOFTHSM2_CONF only in
// C_Initialize, and it is initialised once per process).
const (
	soPIN   = "5678"
	userPIN = "1234"
)

// The tokens TestMain creates, one per concern, so that a test that changes
// a token (its PIN, its directory) does not disturb the others.
var testTokens = []string{"ed25519", "ecdsa", "pin", "gone", "misc"}

var env struct {
	conf      string            // the SOFTHSM2_CONF of the test process
	tokenRoot string            // its directories.tokendir
	tokenDirs map[string]string // token label -> its directory in tokenRoot
	err       error             // why SoftHSM2 cannot be used, if it cannot
}

// helperEnv marks a subprocess started by TestSetupScript: it uses the
// environment it is given and creates no tokens.
const helperEnv = "AUDIT_SEALER_HSM_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "hsm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env.err = setupSoftHSM(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeConf writes a SoftHSM2 configuration for tokenDir, with extra lines.
func writeConf(path, tokenDir string, extra ...string) error {
	conf := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\nlibrary.reset_on_fork = false\n", tokenDir)
	if len(extra) == 0 {
		extra = []string{"slots.mechanisms = ALL"}
	}
	conf += strings.Join(extra, "\n") + "\n"
	return os.WriteFile(path, []byte(conf), 0o600)
}

func setupSoftHSM(dir string) error {
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return errors.New("softhsm2-util is not installed")
	}
	if _, err := os.Stat(hsm.DefaultModule); err != nil {
		return fmt.Errorf("PKCS#11 module: %v", err)
	}
	env.tokenRoot = filepath.Join(dir, "tokens")
	env.conf = filepath.Join(dir, "softhsm2.conf")
	env.tokenDirs = make(map[string]string)
	if err := os.Mkdir(env.tokenRoot, 0o700); err != nil {
		return err
	}
	if err := writeConf(env.conf, env.tokenRoot); err != nil {
		return err
	}
	if err := os.Setenv("SOFTHSM2_CONF", env.conf); err != nil {
		return err
	}
	for _, label := range testTokens {
		before, _ := os.ReadDir(env.tokenRoot)
		out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", soPIN, "--pin", userPIN).CombinedOutput()
		if err != nil {
			return fmt.Errorf("softhsm2-util --init-token --label %s: %v\n%s", label, err, out)
		}
		after, _ := os.ReadDir(env.tokenRoot)
		for _, e := range after {
			if !slices.ContainsFunc(before, func(b os.DirEntry) bool { return b.Name() == e.Name() }) {
				env.tokenDirs[label] = filepath.Join(env.tokenRoot, e.Name())
			}
		}
	}
	return nil
}

// requireSoftHSM skips the test when SoftHSM2 is missing on a developer's
// machine, and fails it under CI=true.
func requireSoftHSM(t testing.TB) {
	t.Helper()
	if env.err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("SoftHSM2 is required under CI=true: %v (apt-get install softhsm2)", env.err)
	}
	t.Skipf("SoftHSM2 is not available: %v (apt-get install softhsm2 to run this test)", env.err)
}

// requireTool is requireSoftHSM for a command-line tool of package pkg.
func requireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true (apt-get install %s)", name, pkg)
		}
		t.Skipf("%s is not installed (apt-get install %s to run this test)", name, pkg)
	}
	return path
}

// config returns the Config of key label on token.
func config(token, label string) hsm.Config {
	return hsm.Config{TokenLabel: token, KeyLabel: label, PIN: userPIN, KeyName: "sealer.example"}
}

// keyLabel returns a key label unique to the test and to the process (tokens
// outlive a test under -count=N).
func keyLabel(t testing.TB, suffix signer.Algorithm) string {
	return fmt.Sprintf("%s-%s-%d", strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()), suffix, labels.Add(1))
}

var labels atomic.Int64

// newSigner generates a fresh key for alg on token and opens a Signer on it.
func newSigner(t testing.TB, token string, alg signer.Algorithm) (*hsm.Signer, hsm.Config) {
	t.Helper()
	requireSoftHSM(t)
	cfg := config(token, keyLabel(t, alg))
	if _, err := hsm.GenerateKey(cfg, alg, cfg.KeyLabel); err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	s, err := hsm.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, cfg
}

// raw is a PKCS#11 session of the test's own, outside package hsm: a second
// pkcs11.Ctx on the same module (its C_Initialize reports
// CKR_CRYPTOKI_ALREADY_INITIALIZED, which is fine; it never finalises).
type raw struct {
	ctx  *pkcs11.Ctx
	sh   pkcs11.SessionHandle
	slot uint
	info pkcs11.TokenInfo
}

func rawSession(t testing.TB, token string, pin string) *raw {
	t.Helper()
	requireSoftHSM(t)
	ctx := pkcs11.New(hsm.DefaultModule)
	if ctx == nil {
		t.Fatal("pkcs11.New failed")
	}
	if err := ctx.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("C_Initialize: %v", err)
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	r := &raw{ctx: ctx}
	found := false
	for _, slot := range slots {
		ti, err := ctx.GetTokenInfo(slot)
		if err == nil && ti.Label == token {
			r.slot, r.info, found = slot, ti, true
		}
	}
	if !found {
		t.Fatalf("token %q not found", token)
	}
	if r.sh, err = ctx.OpenSession(r.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION); err != nil {
		t.Fatal(err)
	}
	if pin != "" {
		if err := ctx.Login(r.sh, pkcs11.CKU_USER, pin); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
			t.Fatalf("C_Login: %v", err)
		}
	}
	t.Cleanup(func() {
		ctx.CloseSession(r.sh)
		ctx.Destroy()
	})
	return r
}

// find returns the objects of class with label.
func (r *raw) find(t testing.TB, class uint, label string) []pkcs11.ObjectHandle {
	t.Helper()
	if err := r.ctx.FindObjectsInit(r.sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)}); err != nil {
		t.Fatal(err)
	}
	hs, _, err := r.ctx.FindObjects(r.sh, 100)
	r.ctx.FindObjectsFinal(r.sh)
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// attr reads one attribute of o.
func (r *raw) attr(o pkcs11.ObjectHandle, typ uint) ([]byte, error) {
	a, err := r.ctx.GetAttributeValue(r.sh, o, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	if err != nil {
		return nil, err
	}
	return a[0].Value, nil
}
