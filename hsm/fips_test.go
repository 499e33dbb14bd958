//go:build cgo

package hsm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/signer"
)

// TestFIPSOnSoftHSM: SoftHSM2 is not FIPS 140 validated and says nothing
// about it through PKCS#11: a Signer reports FIPSUnreported; with
// RequireFIPS, Open refuses the token with ErrNotFIPS, naming the token and
// the override, and GenerateKey refuses before it makes a key.
func TestFIPSOnSoftHSM(t *testing.T) {
	for _, alg := range []signer.Algorithm{signer.Ed25519, signer.ECDSAP256} {
		s, cfg := newSigner(t, "misc", alg)
		st := s.FIPS()
		if st.State != hsm.FIPSUnreported || st.Validation != "" || !strings.Contains(st.Detail, "reports no FIPS 140 validation") || !strings.Contains(st.Detail, "SoftHSM") {
			t.Errorf("%s: FIPS() = %+v, want unreported", alg, st)
		}
		cfg.RequireFIPS = true
		_, err := hsm.Open(cfg)
		if !errors.Is(err, hsm.ErrNotFIPS) {
			t.Fatalf("%s: Open with RequireFIPS on SoftHSM2: %v, want ErrNotFIPS", alg, err)
		}
		for _, want := range []string{`token "misc"`, "SoftHSM", "require_fips = false", "hsm_fips unreported"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: the refusal does not say %q: %v", alg, want, err)
			}
		}
		// The refusal is a configuration decision, not a lost token: a
		// caller must not retry it as if the token could come back.
		if errors.Is(err, signer.ErrUnavailable) {
			t.Errorf("%s: the refusal wraps signer.ErrUnavailable: %v", alg, err)
		}
		label := keyLabel(t, "fips")
		if _, err := hsm.GenerateKey(cfg, alg, label); !errors.Is(err, hsm.ErrNotFIPS) {
			t.Errorf("%s: GenerateKey with RequireFIPS on SoftHSM2: %v, want ErrNotFIPS", alg, err)
		}
		r := rawSession(t, "misc", userPIN)
		if n := len(r.find(t, pkcs11.CKO_PRIVATE_KEY, label)) + len(r.find(t, pkcs11.CKO_PUBLIC_KEY, label)); n != 0 {
			t.Errorf("%s: the refused GenerateKey left %d objects on the token", alg, n)
		}
	}
}

// TestUnapprovedKeyRefused: a key of a scheme this package does not use
// (ECDSA P-384 here) is refused, in every mode, with a message that names
// the approved schemes it signs with.
func TestUnapprovedKeyRefused(t *testing.T) {
	r := rawSession(t, "misc", userPIN)
	label := keyLabel(t, "p384")
	a := pkcs11.NewAttribute
	p384 := []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}
	_, _, err := r.ctx.GenerateKeyPair(r.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
		[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
			a(pkcs11.CKA_EC_PARAMS, p384), a(pkcs11.CKA_LABEL, label), a(pkcs11.CKA_ID, []byte("p3"))},
		[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
			a(pkcs11.CKA_PRIVATE, true), a(pkcs11.CKA_SIGN, true), a(pkcs11.CKA_SENSITIVE, true), a(pkcs11.CKA_EXTRACTABLE, false),
			a(pkcs11.CKA_LABEL, label), a(pkcs11.CKA_ID, []byte("p3"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, require := range []bool{false, true} {
		cfg := config("misc", label)
		cfg.RequireFIPS = require
		_, err := hsm.Open(cfg)
		if !errors.Is(err, hsm.ErrUnsupportedKey) || !strings.Contains(err.Error(), "FIPS 186-5") || !strings.Contains(err.Error(), "CKM_EDDSA") {
			t.Errorf("RequireFIPS %v: a P-384 key: %v, want ErrUnsupportedKey naming the approved schemes", require, err)
		}
	}
}
