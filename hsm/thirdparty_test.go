//go:build cgo

package hsm_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/signer"
)

const (
	setupScript = "../scripts/softhsm/setup.sh"
	checkScript = "../scripts/softhsm/check.sh"
)

// checkEnv returns the environment of check.sh for key label on token.
func checkEnv(t *testing.T, conf, token, label string) []string {
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(userPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(),
		"SOFTHSM2_CONF="+conf,
		hsm.EnvModule+"="+hsm.DefaultModule,
		hsm.EnvTokenLabel+"="+token,
		hsm.EnvKeyLabel+"="+label,
		hsm.EnvPINFile+"="+pinFile,
	)
}

// runCheck runs check.sh and returns its combined output and error.
func runCheck(t *testing.T, environ []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{checkScript}, args...)...)
	cmd.Env = environ
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeSigned signs msg with s and writes the message, the signature and the
// public key PEM into a temporary directory.
func writeSigned(t *testing.T, s signer.Signer, msg []byte) (msgPath, sigPath, pemPath string) {
	t.Helper()
	dir := t.TempDir()
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	msgPath, sigPath, pemPath = filepath.Join(dir, "msg"), filepath.Join(dir, "sig"), filepath.Join(dir, "key.pem")
	for p, b := range map[string][]byte{msgPath: msg, sigPath: sig, pemPath: s.Public().MarshalPEM()} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return msgPath, sigPath, pemPath
}

// TestThirdPartyTools runs scripts/softhsm/check.sh: pkcs11-tool (opensc)
// shows the key GenerateKey made as sensitive and never extractable, and
// openssl verifies a checkpoint signature made through the token with the PEM
// from signer.PublicKey.MarshalPEM. It also checks that the script fails
// for a tampered message and for an extractable key.
func TestThirdPartyTools(t *testing.T) {
	requireSoftHSM(t)
	requireTool(t, "pkcs11-tool", "opensc")
	requireTool(t, "openssl", "openssl")
	for _, a := range algorithms {
		t.Run(string(a.alg), func(t *testing.T) {
			s, cfg := newSigner(t, a.token, a.alg)
			msg := []byte("sealer.example/log\n42\nq7Kh6m0xOm4fCgmhC9rYvXhsuSVtAPYvDj0GTAyw7ho=\n")
			msgPath, sigPath, pemPath := writeSigned(t, s, msg)
			environ := checkEnv(t, env.conf, a.token, cfg.KeyLabel)
			args := []string{"--algorithm", string(a.alg), "--pem", pemPath, "--msg", msgPath, "--sig", sigPath}
			out, err := runCheck(t, environ, args...)
			if err != nil {
				t.Fatalf("check.sh: %v\n%s", err, out)
			}
			for _, want := range []string{"never extractable", "ok: pkcs11-tool", "ok: openssl"} {
				if !strings.Contains(out, want) {
					t.Errorf("check.sh output lacks %q:\n%s", want, out)
				}
			}
			t.Logf("check.sh:\n%s", out)

			if err := os.WriteFile(msgPath, bytes.Replace(msg, []byte("42"), []byte("43"), 1), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := runCheck(t, environ, args...); err == nil || !strings.Contains(out, "FAIL: openssl") {
				t.Errorf("check.sh accepted a tampered message: %v\n%s", err, out)
			}
		})
	}

	t.Run("extractable", func(t *testing.T) {
		r := rawSession(t, "misc", userPIN)
		label := keyLabel(t, "weak")
		a := pkcs11.NewAttribute
		_, _, err := r.ctx.GenerateKeyPair(r.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
			[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
				a(pkcs11.CKA_EC_PARAMS, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}), a(pkcs11.CKA_LABEL, label)},
			[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
				a(pkcs11.CKA_PRIVATE, true), a(pkcs11.CKA_SIGN, true), a(pkcs11.CKA_SENSITIVE, true), a(pkcs11.CKA_EXTRACTABLE, true),
				a(pkcs11.CKA_LABEL, label)})
		if err != nil {
			t.Fatal(err)
		}
		out, err := runCheck(t, checkEnv(t, env.conf, "misc", label), "--algorithm", "ecdsa-p256")
		if err == nil || !strings.Contains(out, "never extractable") {
			t.Errorf("check.sh accepted an extractable key: %v\n%s", err, out)
		}
	})
}

// TestSetupScript runs scripts/softhsm/setup.sh for each algorithm (the key
// comes from `audit-sealer keys generate`), evaluates its output in bash, and then, in a separate process that has only that
// environment, opens the key with the variables' values and signs; the
// signature verifies with the PEM that setup.sh wrote, and check.sh accepts
// the key and the signature.
func TestSetupScript(t *testing.T) {
	requireSoftHSM(t)
	requireTool(t, "go", "golang")
	requireTool(t, "pkcs11-tool", "opensc")
	requireTool(t, "openssl", "openssl")
	vars := []string{"SOFTHSM2_CONF", hsm.EnvModule, hsm.EnvTokenLabel, hsm.EnvKeyLabel, hsm.EnvPINFile, hsm.EnvRequireFIPS}
	// The Ed25519 run generates the key with `go run ./cmd/audit-sealer keys
	// generate`, the ECDSA one with a built binary named by AUDIT_SEALER_BIN.
	bin := filepath.Join(t.TempDir(), "audit-sealer")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/audit-sealer").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/audit-sealer: %v\n%s", err, out)
	}
	for _, alg := range []signer.Algorithm{signer.Ed25519, signer.ECDSAP256} {
		t.Run(string(alg), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "softhsm dir's") // to test the quoting
			cmd := exec.Command("bash", "-c", `eval "$("$0" "$1" --algorithm "$2")" && for v in "${@:3}"; do printf '%s=%s\n' "$v" "${!v}"; done`,
				setupScript, dir, string(alg))
			cmd.Args = append(cmd.Args, vars...)
			cmd.Env = os.Environ()
			if alg == signer.ECDSAP256 {
				cmd.Env = append(cmd.Env, "AUDIT_SEALER_BIN="+bin)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("setup.sh: %v\n%s", err, stderr.String())
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				k, v, _ := strings.Cut(line, "=")
				got[k] = v
			}
			want := map[string]string{
				"SOFTHSM2_CONF":   filepath.Join(dir, "softhsm2.conf"),
				hsm.EnvModule:     hsm.DefaultModule,
				hsm.EnvTokenLabel: "audit-sealer",
				hsm.EnvKeyLabel:   "checkpoint",
				hsm.EnvPINFile:    filepath.Join(dir, "pin"),
				// SoftHSM2 is not validated, and the environment says so.
				hsm.EnvRequireFIPS: "false",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("after eval, %s=%q, want %q", k, got[k], v)
				}
			}
			for _, f := range []string{"pin", "so-pin"} {
				if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
				}
			}

			// Sign in a process whose only PKCS#11 settings are the exports.
			msgPath := filepath.Join(dir, "msg")
			msg := []byte("signed on the setup.sh token\n")
			if err := os.WriteFile(msgPath, msg, 0o600); err != nil {
				t.Fatal(err)
			}
			sigPath := filepath.Join(dir, "sig")
			helper := exec.Command(os.Args[0], "-test.run=^TestSetupHelper$", "-test.count=1")
			helper.Env = append(os.Environ(), helperEnv+"=1", "HSM_HELPER_MSG="+msgPath, "HSM_HELPER_SIG="+sigPath)
			for k, v := range got {
				helper.Env = append(helper.Env, k+"="+v)
			}
			if out, err := helper.CombinedOutput(); err != nil {
				t.Fatalf("helper process: %v\n%s", err, out)
			}
			sig, err := os.ReadFile(sigPath)
			if err != nil {
				t.Fatal(err)
			}
			pemBytes, err := os.ReadFile(filepath.Join(dir, "checkpoint.pem"))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := signer.ParsePublicKey(pemBytes)
			if err != nil || pub.Algorithm != alg || !pub.Verify(msg, sig) {
				t.Fatalf("the setup.sh key's signature does not verify with checkpoint.pem (%v)", err)
			}

			environ := os.Environ()
			for k, v := range got {
				environ = append(environ, k+"="+v)
			}
			outs, err := runCheck(t, environ, "--algorithm", string(alg), "--pem", filepath.Join(dir, "checkpoint.pem"), "--msg", msgPath, "--sig", sigPath)
			if err != nil {
				t.Fatalf("check.sh on the setup.sh token: %v\n%s", err, outs)
			}
		})
	}
}

// TestSetupHelper is the process TestSetupScript starts: it builds a Config
// from the variables setup.sh exports, as the daemon will, and signs a file.
func TestSetupHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("runs only as TestSetupScript's helper process")
	}
	pin, err := hsm.PINFromFile(os.Getenv(hsm.EnvPINFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := hsm.Open(hsm.Config{
		Module:     os.Getenv(hsm.EnvModule),
		TokenLabel: os.Getenv(hsm.EnvTokenLabel),
		KeyLabel:   os.Getenv(hsm.EnvKeyLabel),
		PIN:        pin,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg, err := os.ReadFile(os.Getenv("HSM_HELPER_MSG"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv("HSM_HELPER_SIG"), sig, 0o600); err != nil {
		t.Fatal(err)
	}
}
