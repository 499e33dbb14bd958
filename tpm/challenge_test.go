package tpm_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
)

// ekTPM starts a swtpm manufactured with an EK certificate (swtpm_setup and
// its local CA) and returns its counter and the CA file.
func ekTPM(t *testing.T) (*tpm.Counter, transport.TPM, string) {
	t.Helper()
	state := t.TempDir()
	caFile := swtpmtest.ProvisionEK(t, state)
	s := swtpmtest.StartSwtpm(t, state)
	c, _ := swtpmtest.Counter(t, s.Transport())
	return c, s.Transport(), caFile
}

func caFromFile(t *testing.T, path string) (anchors, inter []*x509.Certificate) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	anchors, inter, err = evidence.ParseCAFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return anchors, inter
}

// TestIdentity: the identity names the AK that Certify's evidence is by,
// and the counter index; the EK certificate swtpm_setup wrote is read from
// its TCG index and chains to swtpm's local CA; a TPM without one says so.
func TestIdentity(t *testing.T) {
	c, _, caFile := ekTPM(t)
	id, err := tpm.ReadIdentity(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	n := nonce(t)
	res, err := certify(t, c, n).Verify(n)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(id.AKName, res.AKName) || id.NVIndex != tpm.DefaultIndex || !bytes.Equal(id.NVName, res.IndexName) {
		t.Fatalf("identity %+v; evidence %+v", id, res)
	}
	if name, err := evidence.AKName(id.AKPublic); err != nil || !bytes.Equal(name, id.AKName) {
		t.Fatalf("AKName(ak_public) = %x, %v; want %x", name, err, id.AKName)
	}
	der, err := tpm.ReadEKCertificate(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := evidence.ParseEKCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	anchors, inter := caFromFile(t, caFile)
	if _, err := evidence.VerifyEKCertificate(cert, anchors, inter, time.Now()); err != nil {
		t.Fatalf("swtpm's EK certificate does not chain to its local CA: %v", err)
	}

	tr, _ := swtpmtest.Start(t, "")
	plain, _ := swtpmtest.Counter(t, tr)
	if _, err := tpm.ReadEKCertificate(ctx, plain); !errors.Is(err, tpm.ErrNoEKCertificate) {
		t.Errorf("a TPM without EK certificate: %v, want ErrNoEKCertificate", err)
	}
}

// auditorChallenge makes a credential challenge as the auditor does, in
// its own process, which must not run with GODEBUG=fips140=only
// (evidence.ErrFIPSOnly: the credential protocol's AES-CFB). Under
// TestFIPSOnly the tests run in that mode, and only the TPM side, the
// sealer's, stays enforced.
func auditorChallenge(ekCert, akName []byte) (ch *evidence.Challenge, secret []byte, err error) {
	fips140.WithoutEnforcement(func() { ch, secret, err = evidence.NewChallenge(rand.Reader, ekCert, akName) })
	return ch, secret, err
}

// TestCertifyChallenge: the auditor's challenge, made in pure Go for the EK
// certificate and the AK Name, is answered by the TPM (credential
// activation with the real EK and AK), and the evidence's nonce is the
// credential the auditor computes from its secret. A challenge for another
// AK, for another TPM's EK, or altered on its way, is refused by the TPM.
func TestCertifyChallenge(t *testing.T) {
	c, tr, caFile := ekTPM(t)
	id, err := tpm.ReadIdentity(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ekCert, err := tpm.ReadEKCertificate(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ch, secret, err := auditorChallenge(ekCert, id.AKName)
	if err != nil {
		t.Fatal(err)
	}
	data, err := ch.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ch, err = evidence.ParseChallenge(data) // as the operator reads it
	if err != nil {
		t.Fatal(err)
	}
	out, err := tpm.CertifyChallenge(ctx, c, ch)
	if err != nil {
		t.Fatalf("CertifyChallenge: %v", err)
	}
	ev, err := evidence.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ev.Verify(ch.Nonce(secret))
	if err != nil {
		t.Fatalf("the evidence does not answer the challenge: %v", err)
	}
	if !bytes.Equal(res.AKName, id.AKName) || res.Counter != read(t, c) {
		t.Fatalf("evidence %+v", res)
	}
	anchors, inter := caFromFile(t, caFile)
	cert, _ := ch.Certificate()
	if _, err := evidence.VerifyEKCertificate(cert, anchors, inter, time.Now()); err != nil {
		t.Fatal(err)
	}
	// Another secret gives another nonce: the evidence does not answer it.
	if _, err := ev.Verify(ch.Nonce(make([]byte, 32))); !errors.Is(err, evidence.ErrNonceMismatch) {
		t.Fatalf("with another secret: %v", err)
	}

	// A challenge for another AK: refused before the TPM is asked.
	other := bytes.Clone(id.AKName)
	other[5] ^= 1
	wrong, _, err := auditorChallenge(ekCert, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpm.CertifyChallenge(ctx, c, wrong); !errors.Is(err, tpm.ErrWrongAK) {
		t.Fatalf("challenge for another AK: %v, want ErrWrongAK", err)
	}
	// A credential made for another AK in a file that names this TPM's:
	// the TPM's integrity check fails, nothing is recovered.
	wrong.AKName = id.AKName
	if _, err := tpm.CertifyChallenge(ctx, c, wrong); !errors.Is(err, tpm.ErrActivation) || !errors.Is(err, tpm2.TPMRCIntegrity) {
		t.Fatalf("credential for another AK: %v, want ErrActivation (TPM_RC_INTEGRITY)", err)
	}
	// An altered credential blob.
	altered := *ch
	altered.CredentialBlob = bytes.Clone(ch.CredentialBlob)
	altered.CredentialBlob[len(altered.CredentialBlob)-1] ^= 1
	if _, err := tpm.CertifyChallenge(ctx, c, &altered); !errors.Is(err, tpm.ErrActivation) {
		t.Fatalf("altered blob: %v, want ErrActivation", err)
	}
	// Another TPM's EK certificate: this TPM's EK is not that key.
	c2, _, _ := ekTPM(t)
	ek2, err := tpm.ReadEKCertificate(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := auditorChallenge(ek2, id.AKName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpm.CertifyChallenge(ctx, c, foreign); !errors.Is(err, tpm.ErrEKMismatch) {
		t.Fatalf("another TPM's EK certificate: %v, want ErrEKMismatch", err)
	}
	noTransients(t, tr)
}

// TestCertifyChallengeECC: the same with an ECC P-256 endorsement key
// (template L-2), whose certificate a test CA issues (swtpm_setup certifies
// an ECC P-384 EK, which this package does not use): the pure-Go ECDH
// MakeCredential is activated by the real TPM.
func TestCertifyChallengeECC(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	c, _ := swtpmtest.Counter(t, tr)
	ek, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(tpm2.ECCEKTemplate)}.Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ek.OutPublic.Contents()
	key, err := tpm2.Pub(*pub)
	if err != nil {
		t.Fatal(err)
	}
	tpm2.FlushContext{FlushHandle: ek.ObjectHandle}.Execute(tr)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test EK CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	ekDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ek"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyAgreement}, ca, key, caKey)
	if err != nil {
		t.Fatal(err)
	}
	id, err := tpm.ReadIdentity(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ch, secret, err := auditorChallenge(ekDER, id.AKName)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tpm.CertifyChallenge(ctx, c, ch)
	if err != nil {
		t.Fatalf("CertifyChallenge: %v", err)
	}
	ev, err := evidence.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Verify(ch.Nonce(secret)); err != nil {
		t.Fatalf("the evidence does not answer the challenge: %v", err)
	}
	noTransients(t, tr)
}

// noTransients fails if a transient object is left in the TPM (swtpm holds
// only 3).
func noTransients(t *testing.T, tr transport.TPM) {
	t.Helper()
	caps, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(tpm2.TPMHTTransient) << 24, PropertyCount: 16}.Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	handles, err := caps.CapabilityData.Data.Handles()
	if err != nil {
		t.Fatal(err)
	}
	if len(handles.Handle) != 0 {
		t.Errorf("transient handles left: %v", handles.Handle)
	}
}
