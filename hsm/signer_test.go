//go:build cgo

package hsm_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"golang.org/x/mod/sumdb/note"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/signer/signertest"
)

var algorithms = []struct {
	alg   signer.Algorithm
	token string
}{
	{signer.Ed25519, "ed25519"},
	{signer.ECDSAP256, "ecdsa"},
}

// prompt bounds calls that must not wait or loop.
const prompt = 2 * time.Second

// TestConformance runs the signer conformance suite on SoftHSM keys made by
// GenerateKey: signatures verify with the public key (also through PEM and
// verifier-key text), it is safe for concurrent use, and a signed note opens
// with golang.org/x/mod/sumdb/note.
func TestConformance(t *testing.T) {
	for _, a := range algorithms {
		t.Run(string(a.alg), func(t *testing.T) {
			s, cfg := newSigner(t, a.token, a.alg)
			if s.Kind() != signer.PKCS11 {
				t.Errorf("Kind() = %q, want %q", s.Kind(), signer.PKCS11)
			}
			if s.Public().Algorithm != a.alg || s.Public().Name != cfg.KeyName {
				t.Errorf("Public() = %s %q, want %s %q", s.Public().Algorithm, s.Public().Name, a.alg, cfg.KeyName)
			}
			signertest.Run(t, s)
		})
	}
}

// TestSignatureFormats checks the bytes: Ed25519 signatures are the 64-byte
// RFC 8032 signature (deterministic), ECDSA ones ASN.1 DER over SHA-256.
func TestSignatureFormats(t *testing.T) {
	ed, _ := newSigner(t, "ed25519", signer.Ed25519)
	msg := []byte("format\n")
	s1, err := ed.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ed.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != 64 || !bytes.Equal(s1, s2) {
		t.Errorf("Ed25519 signatures: %d bytes, deterministic %t; want 64, true", len(s1), bytes.Equal(s1, s2))
	}
	ec, _ := newSigner(t, "ecdsa", signer.ECDSAP256)
	der, err := ec.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if der[0] != 0x30 || len(der) < 8 || len(der) > 72 || int(der[1]) != len(der)-2 {
		t.Errorf("ECDSA signature is not a DER SEQUENCE: %x", der)
	}
}

// TestPrivateKeyStaysInToken reads the generated private key's attributes
// through a raw PKCS#11 session: CKA_VALUE gives CKR_ATTRIBUTE_SENSITIVE, the
// key is sensitive, never extractable, private and a token object, the
// protection cannot be lifted, and both halves share a random 16-byte CKA_ID.
func TestPrivateKeyStaysInToken(t *testing.T) {
	for _, a := range algorithms {
		t.Run(string(a.alg), func(t *testing.T) {
			s, cfg := newSigner(t, a.token, a.alg)
			r := rawSession(t, a.token, userPIN)
			privs := r.find(t, pkcs11.CKO_PRIVATE_KEY, cfg.KeyLabel)
			pubs := r.find(t, pkcs11.CKO_PUBLIC_KEY, cfg.KeyLabel)
			if len(privs) != 1 || len(pubs) != 1 {
				t.Fatalf("found %d private and %d public keys labelled %q, want 1 and 1", len(privs), len(pubs), cfg.KeyLabel)
			}
			priv := privs[0]
			if v, err := r.attr(priv, pkcs11.CKA_VALUE); !errors.Is(err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE)) {
				t.Errorf("reading CKA_VALUE: value %x, error %v; want CKR_ATTRIBUTE_SENSITIVE", v, err)
			}
			want := map[uint]bool{
				pkcs11.CKA_SENSITIVE: true, pkcs11.CKA_ALWAYS_SENSITIVE: true,
				pkcs11.CKA_EXTRACTABLE: false, pkcs11.CKA_NEVER_EXTRACTABLE: true,
				pkcs11.CKA_TOKEN: true, pkcs11.CKA_PRIVATE: true, pkcs11.CKA_SIGN: true,
			}
			for typ, w := range want {
				v, err := r.attr(priv, typ)
				if err != nil || len(v) != 1 || (v[0] != 0) != w {
					t.Errorf("attribute 0x%x = %x (%v), want %t", typ, v, err, w)
				}
			}
			for typ, v := range map[uint]bool{pkcs11.CKA_EXTRACTABLE: true, pkcs11.CKA_SENSITIVE: false} {
				err := r.ctx.SetAttributeValue(r.sh, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, v)})
				if err == nil {
					t.Errorf("setting attribute 0x%x to %t succeeded", typ, v)
				}
			}
			id1, _ := r.attr(priv, pkcs11.CKA_ID)
			id2, _ := r.attr(pubs[0], pkcs11.CKA_ID)
			if len(id1) != 16 || !bytes.Equal(id1, id2) {
				t.Errorf("CKA_ID private %x, public %x; want the same 16 bytes", id1, id2)
			}

			keys, err := hsm.ListKeys(config(a.token, ""))
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			var got *hsm.KeyInfo
			for i := range keys {
				if keys[i].Label == cfg.KeyLabel {
					got = &keys[i]
				}
			}
			if got == nil {
				t.Fatalf("ListKeys does not list %q: %+v", cfg.KeyLabel, keys)
			}
			if got.Algorithm != a.alg || got.KeyID != s.Public().ID() || got.ID != hex.EncodeToString(id1) ||
				!got.Sensitive || !got.AlwaysSensitive || got.Extractable || !got.NeverExtractable || !got.Public.Equal(s.Public()) {
				t.Errorf("ListKeys: %+v; want %s, key ID %s, id %x, sensitive and never extractable", *got, a.alg, s.Public().ID(), id1)
			}
		})
	}
}

// TestGenerateKeyRefusesExistingLabel: a second key with the same label is
// refused, and the first key is untouched.
func TestGenerateKeyRefusesExistingLabel(t *testing.T) {
	s, cfg := newSigner(t, "misc", signer.Ed25519)
	_, err := hsm.GenerateKey(cfg, signer.ECDSAP256, cfg.KeyLabel)
	if !errors.Is(err, hsm.ErrKeyExists) {
		t.Fatalf("GenerateKey with an existing label: %v, want ErrKeyExists", err)
	}
	if _, err := s.Sign([]byte("still works\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := hsm.GenerateKey(cfg, "rsa", "other"); !errors.Is(err, hsm.ErrConfig) {
		t.Errorf("GenerateKey(rsa): %v, want ErrConfig", err)
	}
}

// TestWrongPIN: a wrong PIN gives a clear error wrapping ErrPINIncorrect
// (and the PKCS#11 code), promptly, after exactly one C_Login.
func TestWrongPIN(t *testing.T) {
	requireSoftHSM(t)
	cfg := config("misc", "any")
	cfg.PIN = "0000"
	before := hsm.LoginCalls()
	start := time.Now()
	s, err := hsm.Open(cfg)
	if s != nil || !errors.Is(err, hsm.ErrPINIncorrect) || !errors.Is(err, pkcs11.Error(pkcs11.CKR_PIN_INCORRECT)) {
		t.Fatalf("Open with a wrong PIN: %v, want ErrPINIncorrect", err)
	}
	if time.Since(start) > prompt {
		t.Errorf("Open took %v", time.Since(start))
	}
	if n := hsm.LoginCalls() - before; n != 1 {
		t.Errorf("Open called C_Login %d times, want 1", n)
	}
	for _, want := range []string{"PIN incorrect", `"misc"`, "CKR_PIN_INCORRECT", "not retried"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "0000") {
		t.Errorf("error %q contains the PIN", err)
	}
	before = hsm.LoginCalls()
	if _, err := hsm.ListKeys(cfg); !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Errorf("ListKeys with a wrong PIN: %v", err)
	}
	if _, err := hsm.GenerateKey(cfg, signer.Ed25519, "never"); !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Errorf("GenerateKey with a wrong PIN: %v", err)
	}
	if n := hsm.LoginCalls() - before; n != 2 {
		t.Errorf("ListKeys and GenerateKey called C_Login %d times, want 2", n)
	}
}

// TestRefusedLoginIsNotRetried: the token's PIN changes under a running
// signer; Reopen's login is refused once, and later Signs fail at once with
// the same error without calling C_Login again, until Reopen succeeds after
// the PIN is restored.
func TestRefusedLoginIsNotRetried(t *testing.T) {
	s, _ := newSigner(t, "pin", signer.Ed25519)
	const newPIN = "4321"
	r := rawSession(t, "pin", userPIN)
	if err := r.ctx.SetPIN(r.sh, userPIN, newPIN); err != nil {
		t.Fatalf("C_SetPIN: %v", err)
	}
	restored := false
	t.Cleanup(func() {
		if !restored {
			r := rawSession(t, "pin", newPIN)
			r.ctx.SetPIN(r.sh, newPIN, userPIN)
		}
	})

	before := hsm.LoginCalls()
	err := s.Reopen()
	if !errors.Is(err, hsm.ErrPINIncorrect) || errors.Is(err, signer.ErrUnavailable) {
		t.Fatalf("Reopen after the PIN changed: %v, want ErrPINIncorrect and not ErrUnavailable", err)
	}
	if n := hsm.LoginCalls() - before; n != 1 {
		t.Fatalf("Reopen called C_Login %d times, want 1", n)
	}
	for i := 0; i < 5; i++ {
		start := time.Now()
		_, err := s.Sign([]byte("after a refused login\n"))
		if !errors.Is(err, hsm.ErrPINIncorrect) {
			t.Fatalf("Sign %d after a refused login: %v, want ErrPINIncorrect", i, err)
		}
		if d := time.Since(start); d > prompt {
			t.Errorf("Sign %d took %v", i, d)
		}
	}
	if n := hsm.LoginCalls() - before; n != 1 {
		t.Fatalf("Sign after a refused login called C_Login: %d calls in all, want 1", n)
	}

	r = rawSession(t, "pin", newPIN)
	if err := r.ctx.SetPIN(r.sh, newPIN, userPIN); err != nil {
		t.Fatalf("restore the PIN: %v", err)
	}
	restored = true
	if err := s.Reopen(); err != nil {
		t.Fatalf("Reopen after the PIN was restored: %v", err)
	}
	if n := hsm.LoginCalls() - before; n != 2 {
		t.Errorf("C_Login called %d times in all, want 2", n)
	}
	msg := []byte("signed again\n")
	sig, err := s.Sign(msg)
	if err != nil || !s.Public().Verify(msg, sig) {
		t.Fatalf("Sign after a successful Reopen: %v", err)
	}
}

// TestConfigPointedAway is the "token disappearing" case: the
// module's configuration is pointed at an empty token store and the signer is
// asked to reopen. Reopen and Sign fail with errors wrapping
// signer.ErrUnavailable (no login is attempted); when the configuration comes
// back, Reopen and Sign work again with the same key.
func TestConfigPointedAway(t *testing.T) {
	s, _ := newSigner(t, "gone", signer.ECDSAP256)
	pub := s.Public()
	empty := t.TempDir()
	emptyConf := filepath.Join(empty, "softhsm2.conf")
	if err := os.Mkdir(filepath.Join(empty, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeConf(emptyConf, filepath.Join(empty, "tokens")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Reopen() }) // leave the module on the real store
	before := hsm.LoginCalls()

	t.Setenv("SOFTHSM2_CONF", emptyConf)
	err := s.Reopen()
	if !errors.Is(err, signer.ErrUnavailable) || !errors.Is(err, hsm.ErrTokenNotFound) {
		t.Fatalf("Reopen with the token store gone: %v, want ErrUnavailable and ErrTokenNotFound", err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Sign([]byte("nowhere\n")); !errors.Is(err, signer.ErrUnavailable) {
			t.Fatalf("Sign with the token store gone: %v, want ErrUnavailable", err)
		}
	}

	// A configuration file that does not exist: SoftHSM2 says only
	// CKR_GENERAL_ERROR, the error names the file.
	missing := filepath.Join(empty, "missing.conf")
	os.Setenv("SOFTHSM2_CONF", missing)
	err = s.Reopen()
	if !errors.Is(err, signer.ErrUnavailable) || !errors.Is(err, hsm.ErrModule) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Reopen with a missing configuration file: %v, want ErrUnavailable, ErrModule and the path", err)
	}
	if _, err := s.Sign([]byte("nowhere\n")); !errors.Is(err, signer.ErrUnavailable) {
		t.Fatalf("Sign with the module uninitialised: %v, want ErrUnavailable", err)
	}
	if n := hsm.LoginCalls() - before; n != 0 {
		t.Errorf("C_Login called %d times while the token was gone", n)
	}

	os.Setenv("SOFTHSM2_CONF", env.conf)
	if err := s.Reopen(); err != nil {
		t.Fatalf("Reopen with the token back: %v", err)
	}
	msg := []byte("back\n")
	sig, err := s.Sign(msg)
	if err != nil || !pub.Verify(msg, sig) || !s.Public().Equal(pub) {
		t.Fatalf("Sign with the token back: %v", err)
	}
}

// TestTokenDirectoryMoved: the token's directory disappears while the signer
// runs. Sign fails with an error wrapping signer.ErrUnavailable (SoftHSM2
// reports the key handle invalid), the next Signs try to reconnect and fail
// the same way; with the directory back, Reopen (SoftHSM2 does not rescan
// without it) restores signing with the same key.
func TestTokenDirectoryMoved(t *testing.T) {
	s, _ := newSigner(t, "gone", signer.Ed25519)
	pub := s.Public()
	dir := env.tokenDirs["gone"]
	if dir == "" {
		t.Fatal("no token directory recorded for token gone")
	}
	if _, err := s.Sign([]byte("before\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	moved := true
	t.Cleanup(func() {
		if moved {
			os.Rename(dir+".away", dir)
		}
		s.Reopen()
	})
	for i := 0; i < 3; i++ {
		_, err := s.Sign([]byte("gone\n"))
		if !errors.Is(err, signer.ErrUnavailable) {
			t.Fatalf("Sign %d with the token directory gone: %v, want ErrUnavailable", i, err)
		}
		t.Logf("Sign %d: %v", i, err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	moved = false
	if err := s.Reopen(); err != nil {
		t.Fatalf("Reopen with the directory back: %v", err)
	}
	msg := []byte("back\n")
	sig, err := s.Sign(msg)
	if err != nil || !pub.Verify(msg, sig) {
		t.Fatalf("Sign after Reopen: %v", err)
	}
}

// TestSessionsClosedUnderSigner: all of the application's sessions on the
// token are closed behind the signer's back (so the token also forgets the
// login). One Sign fails with ErrUnavailable, the next reconnects, logs in
// once and signs.
func TestSessionsClosedUnderSigner(t *testing.T) {
	s, _ := newSigner(t, "misc", signer.ECDSAP256)
	r := rawSession(t, "misc", "")
	if err := r.ctx.CloseAllSessions(r.slot); err != nil {
		t.Fatal(err)
	}
	before := hsm.LoginCalls()
	_, err := s.Sign([]byte("x\n"))
	if !errors.Is(err, signer.ErrUnavailable) || !errors.Is(err, pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)) {
		t.Fatalf("Sign on a closed session: %v, want ErrUnavailable wrapping CKR_SESSION_HANDLE_INVALID", err)
	}
	msg := []byte("reconnected\n")
	sig, err := s.Sign(msg)
	if err != nil || !s.Public().Verify(msg, sig) {
		t.Fatalf("Sign after the sessions were lost: %v", err)
	}
	if n := hsm.LoginCalls() - before; n != 1 {
		t.Errorf("reconnect called C_Login %d times, want 1", n)
	}
}

// TestReopenLeavesOtherSignersWorking: Reopen re-initialises the module that
// every Signer in the process shares; the others reconnect on their own.
func TestReopenLeavesOtherSignersWorking(t *testing.T) {
	a, _ := newSigner(t, "ed25519", signer.Ed25519)
	b, _ := newSigner(t, "ecdsa", signer.ECDSAP256)
	for i := 0; i < 3; i++ {
		if err := a.Reopen(); err != nil {
			t.Fatal(err)
		}
		msg := []byte(fmt.Sprintf("after reopen %d\n", i))
		sig, err := b.Sign(msg)
		if err != nil || !b.Public().Verify(msg, sig) {
			t.Fatalf("the other signer after Reopen: %v", err)
		}
	}
}

// TestConcurrentSign signs from 16 goroutines with a pool of 4 sessions:
// every signature verifies (one PKCS#11 session used by two goroutines
// crashes SoftHSM2), and the signer never has more than 4 sessions open.
func TestConcurrentSign(t *testing.T) {
	for _, a := range algorithms {
		t.Run(string(a.alg), func(t *testing.T) {
			s, _ := newSigner(t, a.token, a.alg)
			const workers, each, maxSessions = 16, 40, hsm.DefaultMaxSessions
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			peak := 0
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						msg := []byte(fmt.Sprintf("worker %d message %d\n", w, i))
						sig, err := s.Sign(msg)
						if err != nil {
							errs <- err
							return
						}
						if !s.Public().Verify(msg, sig) {
							errs <- fmt.Errorf("worker %d message %d does not verify", w, i)
							return
						}
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
		watch:
			for {
				select {
				case <-done:
					break watch
				case <-time.After(100 * time.Microsecond):
					peak = max(peak, hsm.OpenSessions(s))
				}
			}
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if peak > maxSessions {
				t.Errorf("peak of %d open sessions, want at most %d", peak, maxSessions)
			}
			t.Logf("peak open sessions: %d of %d", peak, maxSessions)
		})
	}
}

// TestCheckpointNotes signs checkpoint notes with both HSM keys: the
// Ed25519 note opens with x/mod's own verifier from the verifier key text,
// and the ECDSA one (C2SP signed-note type 0x02) opens with the key read
// back from its PEM, whose Verify accepts the raw signature too.
func TestCheckpointNotes(t *testing.T) {
	text := "sealer.example/log\n42\nq7Kh6m0xOm4fCgmhC9rYvXhsuSVtAPYvDj0GTAyw7ho=\n"
	for _, a := range algorithms {
		t.Run(string(a.alg), func(t *testing.T) {
			s, cfg := newSigner(t, a.token, a.alg)
			msg, err := note.Sign(&note.Note{Text: text}, signer.NoteSigner(s, cfg.KeyName))
			if err != nil {
				t.Fatal(err)
			}
			fromPEM, err := signer.ParsePublicKey(s.Public().MarshalPEM())
			if err != nil {
				t.Fatal(err)
			}
			n, err := note.Open(msg, signer.Verifiers{fromPEM})
			if err != nil || n.Text != text || len(n.Sigs) != 1 {
				t.Fatalf("note.Open with the PEM key: %v", err)
			}
			if a.alg == signer.Ed25519 {
				v, err := note.NewVerifier(s.Public().VerifierKey())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
					t.Fatalf("x/mod sumdb/note rejects the HSM note: %v", err)
				}
			}
			sig, err := s.Sign([]byte(text))
			if err != nil || !fromPEM.Verify([]byte(text), sig) {
				t.Fatalf("signature does not verify with the PEM key: %v", err)
			}
			t.Logf("%s", msg)
		})
	}
}

// TestOpenErrors: configuration and token mistakes give clear errors.
func TestOpenErrors(t *testing.T) {
	requireSoftHSM(t)
	_, cfg := newSigner(t, "misc", signer.Ed25519)

	_, err := hsm.Open(config("no-such-token", cfg.KeyLabel))
	if !errors.Is(err, hsm.ErrTokenNotFound) || !strings.Contains(err.Error(), `"misc"`) || !strings.Contains(err.Error(), `"ed25519"`) {
		t.Errorf("unknown token: %v, want ErrTokenNotFound listing the tokens found", err)
	}
	if _, err := hsm.Open(config("misc", "no-such-key")); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Errorf("unknown key: %v, want ErrKeyNotFound", err)
	}
	bad := cfg
	bad.TokenLabel = ""
	if _, err := hsm.Open(bad); !errors.Is(err, hsm.ErrConfig) {
		t.Errorf("no token selected: %v, want ErrConfig", err)
	}
	bad = cfg
	bad.TokenSerial = "1"
	if _, err := hsm.Open(bad); !errors.Is(err, hsm.ErrConfig) {
		t.Errorf("token label and serial: %v, want ErrConfig", err)
	}
	bad = cfg
	bad.PIN = ""
	if _, err := hsm.Open(bad); !errors.Is(err, hsm.ErrNoPIN) {
		t.Errorf("no PIN: %v, want ErrNoPIN", err)
	}
	bad = cfg
	bad.KeyLabel = ""
	if _, err := hsm.Open(bad); !errors.Is(err, hsm.ErrConfig) {
		t.Errorf("no key selected: %v, want ErrConfig", err)
	}
	bad = cfg
	bad.Module = "/nonexistent/libpkcs11.so"
	if _, err := hsm.Open(bad); !errors.Is(err, hsm.ErrModule) || !strings.Contains(err.Error(), bad.Module) {
		t.Errorf("missing module: %v, want ErrModule naming it", err)
	}

	// By serial number (and by CKA_ID alone) instead of labels.
	r := rawSession(t, "misc", userPIN)
	bySerial := hsm.Config{TokenSerial: r.info.SerialNumber, PIN: userPIN}
	keys, err := hsm.ListKeys(bySerial)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Label == cfg.KeyLabel {
			bySerial.KeyID, _ = hex.DecodeString(k.ID)
		}
	}
	s, err := hsm.Open(bySerial)
	if err != nil {
		t.Fatalf("Open by token serial and key id: %v", err)
	}
	s.Close()
	if _, err := s.Sign([]byte("x")); !errors.Is(err, hsm.ErrClosed) {
		t.Errorf("Sign after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// A key that could leave the token is refused.
	label := keyLabel(t, "extractable")
	a := pkcs11.NewAttribute
	_, _, err = r.ctx.GenerateKeyPair(r.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
		[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
			a(pkcs11.CKA_EC_PARAMS, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}), a(pkcs11.CKA_LABEL, label), a(pkcs11.CKA_ID, []byte("x1"))},
		[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
			a(pkcs11.CKA_PRIVATE, true), a(pkcs11.CKA_SIGN, true), a(pkcs11.CKA_SENSITIVE, false), a(pkcs11.CKA_EXTRACTABLE, true),
			a(pkcs11.CKA_LABEL, label), a(pkcs11.CKA_ID, []byte("x1"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hsm.Open(config("misc", label)); !errors.Is(err, hsm.ErrWeakKey) {
		t.Errorf("extractable key: %v, want ErrWeakKey", err)
	}

	// Two private keys with one label: ambiguous unless the id is given.
	label = keyLabel(t, "twice")
	for _, id := range []string{"a1", "a2"} {
		_, _, err = r.ctx.GenerateKeyPair(r.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
			[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
				a(pkcs11.CKA_EC_PARAMS, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}), a(pkcs11.CKA_LABEL, label), a(pkcs11.CKA_ID, []byte(id))},
			[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
				a(pkcs11.CKA_PRIVATE, true), a(pkcs11.CKA_SIGN, true), a(pkcs11.CKA_SENSITIVE, true), a(pkcs11.CKA_EXTRACTABLE, false),
				a(pkcs11.CKA_LABEL, label), a(pkcs11.CKA_ID, []byte(id))})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hsm.Open(config("misc", label)); !errors.Is(err, hsm.ErrAmbiguousKey) {
		t.Errorf("two keys with one label: %v, want ErrAmbiguousKey", err)
	}
	c := config("misc", label)
	c.KeyID = []byte("a2")
	s, err = hsm.Open(c)
	if err != nil {
		t.Fatalf("Open by label and id: %v", err)
	}
	s.Close()
}

// TestMissingMechanism: a token without CKM_EDDSA (SoftHSM2 configured with
// a slots.mechanisms list that leaves it out) is reported by name, at Open and at
// GenerateKey, not at the first signature.
func TestMissingMechanism(t *testing.T) {
	s, cfg := newSigner(t, "misc", signer.Ed25519)
	conf := filepath.Join(t.TempDir(), "softhsm2.conf")
	if err := writeConf(conf, env.tokenRoot,
		// Not "-CKM_EDDSA": SoftHSM2 2.6.1 ignores the first name of a
		// negative list.
		"slots.mechanisms = CKM_ECDSA,CKM_EC_KEY_PAIR_GEN,CKM_EC_EDWARDS_KEY_PAIR_GEN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Reopen() })
	t.Setenv("SOFTHSM2_CONF", conf)
	err := s.Reopen()
	if !errors.Is(err, hsm.ErrMechanism) || !strings.Contains(err.Error(), `token "misc" lacks CKM_EDDSA`) {
		t.Fatalf("Reopen on a token without CKM_EDDSA: %v, want ErrMechanism naming CKM_EDDSA", err)
	}
	if _, err := hsm.Open(cfg); !errors.Is(err, hsm.ErrMechanism) {
		t.Errorf("Open on a token without CKM_EDDSA: %v, want ErrMechanism", err)
	}
	if _, err := hsm.GenerateKey(cfg, signer.Ed25519, keyLabel(t, "new")); !errors.Is(err, hsm.ErrMechanism) || !strings.Contains(err.Error(), "CKM_EDDSA") {
		t.Errorf("GenerateKey on a token without CKM_EDDSA: %v, want ErrMechanism", err)
	}
	os.Setenv("SOFTHSM2_CONF", env.conf)
}

// TestOpenEd25519StringParams: an Ed25519 key whose CKA_EC_PARAMS is the
// PrintableString "edwards25519" (what pkcs11-tool writes) opens and signs
// like one with the OID.
func TestOpenEd25519StringParams(t *testing.T) {
	r := rawSession(t, "misc", userPIN)
	label := keyLabel(t, signer.Ed25519)
	a := pkcs11.NewAttribute
	params := append([]byte{0x13, 0x0c}, "edwards25519"...)
	_, _, err := r.ctx.GenerateKeyPair(r.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(0x1055, nil)},
		[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), a(pkcs11.CKA_KEY_TYPE, 0x40), a(pkcs11.CKA_TOKEN, true),
			a(pkcs11.CKA_EC_PARAMS, params), a(pkcs11.CKA_LABEL, label), a(pkcs11.CKA_ID, []byte("s1"))},
		[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), a(pkcs11.CKA_KEY_TYPE, 0x40), a(pkcs11.CKA_TOKEN, true),
			a(pkcs11.CKA_PRIVATE, true), a(pkcs11.CKA_SIGN, true), a(pkcs11.CKA_SENSITIVE, true), a(pkcs11.CKA_EXTRACTABLE, false),
			a(pkcs11.CKA_LABEL, label), a(pkcs11.CKA_ID, []byte("s1"))})
	if err != nil {
		t.Fatal(err)
	}
	pub := r.find(t, pkcs11.CKO_PUBLIC_KEY, label)
	if v, _ := r.attr(pub[0], pkcs11.CKA_EC_PARAMS); !bytes.Equal(v, params) {
		t.Fatalf("the token stored CKA_EC_PARAMS %x, want %x", v, params)
	}
	s, err := hsm.Open(config("misc", label))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Public().Algorithm != signer.Ed25519 {
		t.Fatalf("algorithm %s", s.Public().Algorithm)
	}
	signertest.Run(t, s)
}

// TestReopenDuringSigning: Reopen (which finalises the module) while 8
// goroutines sign (on its Signer and on another one sharing the module)
// never crashes and never hands out a bad signature; a Sign that meets a
// re-initialised module reconnects, and any error wraps signer.ErrUnavailable.
func TestReopenDuringSigning(t *testing.T) {
	s, _ := newSigner(t, "ecdsa", signer.ECDSAP256)
	other, _ := newSigner(t, "ed25519", signer.Ed25519)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, unavailable := 0, 0
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sg := s
				if i%2 == 1 {
					sg = other
				}
				msg := []byte(fmt.Sprintf("worker %d message %d\n", w, i))
				sig, err := sg.Sign(msg)
				mu.Lock()
				switch {
				case err == nil && sg.Public().Verify(msg, sig):
					ok++
				case errors.Is(err, signer.ErrUnavailable):
					unavailable++
				default:
					t.Errorf("Sign during Reopen: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 10; i++ {
		time.Sleep(5 * time.Millisecond)
		if err := s.Reopen(); err != nil {
			t.Errorf("Reopen %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d signatures, %d ErrUnavailable during 10 Reopens", ok, unavailable)
	if ok == 0 {
		t.Error("no signature succeeded")
	}
}
