package evidence_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/evidence"
)

// FuzzParseVerify feeds arbitrary files and nonces to Parse and Verify: they
// must never panic, and whatever verifies must parse again from its own
// Marshal output to the same result.
func FuzzParseVerify(f *testing.F) {
	s := goodSpec()
	good, err := s.build().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, s.extraData)
	f.Add(good, []byte("other"))
	f.Add([]byte(`{"format":"audit-sealer tpm evidence v1"}`), []byte(nil))
	f.Fuzz(func(t *testing.T, data, nonce []byte) {
		e, err := evidence.Parse(data)
		if err != nil {
			return
		}
		res, err := e.Verify(nonce)
		if err != nil {
			return
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a verified file: %v", err)
		}
		e2, err := evidence.Parse(again)
		if err != nil {
			t.Fatalf("Parse(Marshal(e)): %v", err)
		}
		res2, err := e2.Verify(nonce)
		if err != nil || !equalResult(*res, *res2) {
			t.Fatalf("round trip: %+v, %v; want %+v", res2, err, res)
		}
	})
}

// FuzzParseChallenge feeds arbitrary files to ParseChallenge: it must never
// panic, and whatever it accepts must marshal to a file that parses to the
// same challenge (and the same nonce for any secret).
func FuzzParseChallenge(f *testing.F) {
	good, err := json.Marshal(goodChallenge(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, []byte("secret"))
	f.Add([]byte(`{"format":"audit-sealer tpm credential challenge v1"}`), []byte(nil))
	f.Add(bytes.Replace(good, []byte(`"ak_name"`), []byte(`"AK_NAME"`), 1), []byte{1})
	f.Fuzz(func(t *testing.T, data, secret []byte) {
		c, err := evidence.ParseChallenge(data)
		if err != nil {
			if !errors.Is(err, evidence.ErrBadChallenge) {
				t.Fatalf("error does not wrap ErrBadChallenge: %v", err)
			}
			return
		}
		again, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed challenge: %v", err)
		}
		c2, err := evidence.ParseChallenge(again)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)): %v\n%s", err, again)
		}
		if !bytes.Equal(c.Nonce(secret), c2.Nonce(secret)) || !bytes.Equal(c.CredentialBlob, c2.CredentialBlob) ||
			!bytes.Equal(c.EncryptedSecret, c2.EncryptedSecret) || !c.CreatedAt.Equal(c2.CreatedAt) {
			t.Fatalf("round trip changed the challenge: %+v\n%+v", c, c2)
		}
	})
}

// FuzzParseEKCertificate feeds arbitrary certificates and CA files to the
// parsers audit-verify runs on --ek-cert and --ek-ca: they must never panic,
// and an accepted certificate must verify against itself as an anchor
// without panicking either.
func FuzzParseEKCertificate(f *testing.F) {
	p := newPKI(f, "fuzz")
	cert := p.ekCert(f, &rsaEK.PublicKey)
	f.Add(cert.Raw)
	f.Add(append(bytes.Clone(cert.Raw), 0, 0))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	f.Add(append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.inter.Raw}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw})...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := evidence.ParseEKCertificate(data); err == nil {
			evidence.VerifyEKCertificate(c, []*x509.Certificate{c}, nil, time.Now())
		} else if !errors.Is(err, evidence.ErrBadEKCertificate) {
			t.Fatalf("error does not wrap ErrBadEKCertificate: %v", err)
		}
		if anchors, _, err := evidence.ParseCAFile(data); err == nil && len(anchors) == 0 {
			t.Fatal("ParseCAFile accepted a file without an anchor")
		}
	})
}
