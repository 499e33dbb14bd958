package evidence_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/internal/strictjson"
)

// pki is a test TPM vendor: a root CA, an intermediate CA that issues EK
// certificates, and EK certificates made as the TCG EK Credential Profile
// says (the TPM named in a critical subjectAltName directoryName).
type pki struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func newPKI(t testing.TB, name string) *pki {
	t.Helper()
	p := &pki{rootKey: mustKey(), interKey: mustKey()}
	p.root = makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: name + " root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, &p.rootKey.PublicKey, p.rootKey)
	p.inter = makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: name + " EK CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, p.root, &p.interKey.PublicKey, p.rootKey)
	return p
}

var serial int64

func makeCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tpmSAN is a critical subjectAltName holding a directoryName with the TPM
// manufacturer, model and version attributes (TCG OIDs 2.23.133.2.1-3).
func tpmSAN(t testing.TB) pkix.Extension {
	t.Helper()
	name, err := asn1.Marshal(pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 1}, Value: "id:00001014"}},
		{{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 2}, Value: "swtpm"}},
		{{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 3}, Value: "id:20191023"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: san}
}

// ekCert issues an EK certificate for pub.
func (p *pki) ekCert(t testing.TB, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	return makeCert(t, &x509.Certificate{KeyUsage: x509.KeyUsageKeyEncipherment, ExtraExtensions: []pkix.Extension{tpmSAN(t)}},
		p.inter, pub, p.interKey)
}

func TestVerifyEKCertificate(t *testing.T) {
	vendor, other := newPKI(t, "vendor"), newPKI(t, "other")
	cert := vendor.ekCert(t, &rsaEK.PublicKey)
	if len(cert.UnhandledCriticalExtensions) != 1 {
		t.Fatalf("the test certificate should carry a critical SAN that crypto/x509 does not handle: %v", cert.UnhandledCriticalExtensions)
	}
	now := time.Now()
	chain, err := evidence.VerifyEKCertificate(cert, []*x509.Certificate{vendor.root}, []*x509.Certificate{vendor.inter}, now)
	if err != nil || len(chain) != 3 || !chain[2].Equal(vendor.root) {
		t.Fatalf("VerifyEKCertificate = %v, %v", chain, err)
	}
	if len(cert.UnhandledCriticalExtensions) != 1 {
		t.Fatal("VerifyEKCertificate changed the certificate")
	}
	for _, tc := range []struct {
		name           string
		anchors, inter []*x509.Certificate
		now            time.Time
	}{
		{"another vendor's root", []*x509.Certificate{other.root}, []*x509.Certificate{vendor.inter}, now},
		{"no intermediate", []*x509.Certificate{vendor.root}, nil, now},
		{"expired", []*x509.Certificate{vendor.root}, []*x509.Certificate{vendor.inter}, now.Add(48 * time.Hour)},
	} {
		if _, err := evidence.VerifyEKCertificate(cert, tc.anchors, tc.inter, tc.now); !errors.Is(err, evidence.ErrUntrustedEK) {
			t.Errorf("%s: %v, want ErrUntrustedEK", tc.name, err)
		}
	}
	// Another unhandled critical extension is still refused.
	odd := makeCert(t, &x509.Certificate{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}}},
		vendor.inter, &rsaEK.PublicKey, vendor.interKey)
	if _, err := evidence.VerifyEKCertificate(odd, []*x509.Certificate{vendor.root}, []*x509.Certificate{vendor.inter}, now); !errors.Is(err, evidence.ErrUntrustedEK) {
		t.Errorf("unknown critical extension: %v", err)
	}
}

func TestParseEKCertificate(t *testing.T) {
	vendor := newPKI(t, "vendor")
	der := vendor.ekCert(t, &rsaEK.PublicKey).Raw
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"der", der, true},
		{"der padded with zeros, as in an NV index", append(bytes.Clone(der), 0, 0, 0), true},
		{"pem", pemData, true},
		{"ecc p256", vendor.ekCert(t, &eccEK.PublicKey).Raw, true},
		{"der then garbage", append(bytes.Clone(der), 0, 1), false},
		{"pem then more", append(bytes.Clone(pemData), pemData...), false},
		{"truncated", der[:len(der)-1], false},
		{"p384", vendor.ekCert(t, &p384.PublicKey).Raw, false},
		{"rsa1024", vendor.ekCert(t, &small.PublicKey).Raw, false},
		{"empty", nil, false},
		{"huge", make([]byte, 9<<10), false},
	} {
		c, err := evidence.ParseEKCertificate(tc.data)
		switch {
		case tc.ok && (err != nil || !bytes.HasPrefix(tc.data, c.Raw) && !bytes.Equal(c.Raw, der)):
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && !errors.Is(err, evidence.ErrBadEKCertificate):
			t.Errorf("%s: %v, want ErrBadEKCertificate", tc.name, err)
		}
	}
}

func TestParseCAFile(t *testing.T) {
	vendor := newPKI(t, "vendor")
	enc := func(cs ...*x509.Certificate) []byte {
		var b []byte
		for _, c := range cs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return b
	}
	anchors, inter, err := evidence.ParseCAFile(enc(vendor.inter, vendor.root))
	if err != nil || len(anchors) != 1 || !anchors[0].Equal(vendor.root) || len(inter) != 1 || !inter[0].Equal(vendor.inter) {
		t.Fatalf("ParseCAFile = %v, %v, %v", anchors, inter, err)
	}
	for name, data := range map[string][]byte{
		"no root":   enc(vendor.inter),
		"empty":     nil,
		"garbage":   append(enc(vendor.root), "junk"...),
		"a key":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}),
		"bad certs": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
	} {
		if _, _, err := evidence.ParseCAFile(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestChallengeRoundTrip: a challenge made for an EK certificate and an AK
// Name survives its file, and the TPM holding the EK (here, the software
// ActivateCredential with the EK's private key) recovers exactly the nonce
// the auditor computes from the secret, for that AK Name only; any change
// to the file's AK Name or EK certificate changes the nonce.
func TestChallengeRoundTrip(t *testing.T) {
	vendor := newPKI(t, "vendor")
	for _, tc := range []struct {
		name string
		ek   any
		pub  crypto.PublicKey
	}{
		{"rsa2048", rsaEK, &rsaEK.PublicKey},
		{"p256", eccEK, &eccEK.PublicKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := vendor.ekCert(t, tc.pub)
			ch, secret, err := evidence.NewChallenge(rand.Reader, cert.Raw, akName(7))
			if err != nil {
				t.Fatal(err)
			}
			if len(secret) != evidence.SecretSize {
				t.Fatalf("secret of %d bytes", len(secret))
			}
			data, err := ch.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := evidence.ParseChallenge(data)
			if err != nil {
				t.Fatalf("ParseChallenge: %v\n%s", err, data)
			}
			again, _ := got.Marshal()
			if !bytes.Equal(again, data) {
				t.Fatalf("Marshal(Parse(f)) != f:\n%s\n%s", again, data)
			}
			nonce := got.Nonce(secret)
			if !bytes.Equal(nonce, ch.Nonce(secret)) || len(nonce) != 32 {
				t.Fatalf("nonce %x", nonce)
			}
			cred, err := softActivate(tc.ek, akName(7), got.CredentialBlob, got.EncryptedSecret)
			if err != nil || !bytes.Equal(cred, nonce) {
				t.Fatalf("activate: %x, %v; want the nonce %x", cred, err, nonce)
			}
			if _, err := softActivate(tc.ek, akName(8), got.CredentialBlob, got.EncryptedSecret); err == nil {
				t.Fatal("another AK activated the credential")
			}
			altered := *got
			altered.AKName = akName(8)
			if bytes.Equal(altered.Nonce(secret), nonce) {
				t.Fatal("the nonce does not depend on the AK Name")
			}
			altered = *got
			altered.EKCertificate = vendor.ekCert(t, tc.pub).Raw
			if bytes.Equal(altered.Nonce(secret), nonce) {
				t.Fatal("the nonce does not depend on the EK certificate")
			}
		})
	}
}

// goodChallenge returns a valid challenge file as a JSON object to edit.
func goodChallenge(t testing.TB) map[string]any {
	t.Helper()
	ch, _, err := evidence.NewChallenge(rand.Reader, newPKI(t, "v").ekCert(t, &rsaEK.PublicKey).Raw, akName(1))
	if err != nil {
		t.Fatal(err)
	}
	data, err := ch.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseChallengeStrict(t *testing.T) {
	good := goodChallenge(t)
	marshal := func(m map[string]any) []byte {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := evidence.ParseChallenge(marshal(good)); err != nil {
		t.Fatalf("good: %v", err)
	}
	with := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return marshal(m)
	}
	cert := good["ek_certificate"].(string)
	der, _ := base64.StdEncoding.DecodeString(cert)
	goodJSON := string(marshal(good))
	for _, tc := range []struct {
		name string
		data []byte
		sub  error
	}{
		{"format", with("format", "audit-sealer tpm credential challenge v2"), nil},
		{"missing member", with("credential_blob", nil), strictjson.ErrMissing},
		{"unknown member", with("nonce", "AA=="), strictjson.ErrUnknown},
		{"case variant", with("AK_NAME", good["ak_name"]), strictjson.ErrUnknown},
		{"duplicate", []byte(strings.Replace(goodJSON, `"format"`, `"ak_name":"00","format"`, 1)), strictjson.ErrDuplicate},
		{"uppercase hex", with("ak_name", strings.ToUpper(good["ak_name"].(string))), nil},
		{"short name", with("ak_name", "000b00"), nil},
		{"sha1 name", with("ak_name", "0004"+strings.Repeat("00", 20)), nil},
		{"unpadded base64", with("credential_blob", strings.TrimRight(good["credential_blob"].(string), "=")), nil},
		{"base64 with newline", with("encrypted_secret", good["encrypted_secret"].(string)[:8]+"\n"+good["encrypted_secret"].(string)[8:]), nil},
		{"certificate padded", with("ek_certificate", base64.StdEncoding.EncodeToString(append(bytes.Clone(der), 0))), nil},
		{"not a certificate", with("ek_certificate", "AAAA"), evidence.ErrBadEKCertificate},
		{"empty blob", with("credential_blob", ""), nil},
		{"bad time", with("created_at", "yesterday"), nil},
		{"null", with("ak_name", json.RawMessage("null")), strictjson.ErrNull},
		{"trailing data", append(marshal(good), "{}"...), strictjson.ErrSyntax},
		{"too large", append(marshal(good), bytes.Repeat([]byte(" "), evidence.MaxChallengeSize)...), nil},
	} {
		_, err := evidence.ParseChallenge(tc.data)
		if !errors.Is(err, evidence.ErrBadChallenge) || (tc.sub != nil && !errors.Is(err, tc.sub)) {
			t.Errorf("%s: %v, want ErrBadChallenge (and %v)", tc.name, err, tc.sub)
		}
	}
}

func TestNewChallengeRefuses(t *testing.T) {
	cert := newPKI(t, "v").ekCert(t, &rsaEK.PublicKey).Raw
	if _, _, err := evidence.NewChallenge(rand.Reader, cert, []byte{0, 0x0b, 1}); !errors.Is(err, evidence.ErrBadChallenge) {
		t.Errorf("short AK name: %v", err)
	}
	if _, _, err := evidence.NewChallenge(rand.Reader, []byte("no"), akName(1)); !errors.Is(err, evidence.ErrBadEKCertificate) {
		t.Errorf("bad certificate: %v", err)
	}
}
