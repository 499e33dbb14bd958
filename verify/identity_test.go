package verify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// The tests of this file check the rules for audit.tpm_identity records and
// the attestation key of TPM evidence (FORMAT.md §5.4) on logs written by
// the ledger with a software counter; the evidence results stand for
// evidence files that verified (package evidence checks those; the tests
// of cmd/audit-verify use a real swtpm).

const testIndex = 0x01500100

// akIdentity returns an audit.tpm_identity for a synthetic attestation key
// (a software key in an AK's public area), and the AK's Name.
func akIdentity(t *testing.T, nvName []byte) (event.TPMIdentity, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub := tpm2.TPMTPublic{
		Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, NoDA: true, Restricted: true, SignEncrypt: true},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
			CurveID:   tpm2.TPMECCNistP256, KDF: tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: key.X.FillBytes(make([]byte, 32))},
			Y: tpm2.TPM2BECCParameter{Buffer: key.Y.FillBytes(make([]byte, 32))},
		}),
	}
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		t.Fatal(err)
	}
	return event.TPMIdentity{AKName: hex.EncodeToString(name.Buffer), AKPublic: base64.StdEncoding.EncodeToString(tpm2.Marshal(pub)),
		NVIndex: testIndex, NVName: hex.EncodeToString(nvName)}, name.Buffer
}

var nvName = append([]byte{0, 0x0b}, bytes.Repeat([]byte{0x5a}, 32)...)

// identityLog writes a log in runs, each recording ids[i] at its start
// (as the sealer does) and anchoring; it returns the directory, the key
// and the counter.
func identityLog(t *testing.T, ids ...event.TPMIdentity) (string, verify.Options, *testkit.Counter) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	ctr := &testkit.Counter{Value: 40}
	for _, id := range ids {
		l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true, Now: clock.Now, Counter: ctr, AnchorIndex: testIndex})
		if err != nil {
			t.Fatal(err)
		}
		id.Timestamp = clock.Now()
		if _, err := l.AppendSealerEvent(&id); err != nil {
			t.Fatal(err)
		}
		appendEvents(t, l, clock, 3)
		if _, err := l.Seal(context.Background(), ledger.SealOptions{Anchor: true}); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir, verify.Options{Keys: signer.Verifiers{testkit.Key("main").Public()}}, ctr
}

func check(t *testing.T, dir string, opts verify.Options) *verify.Report {
	t.Helper()
	rep, err := verify.Dir(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func reasonOf(rep *verify.Report) verify.Reason {
	if rep.FirstFailure == nil {
		return ""
	}
	return rep.FirstFailure.Reason
}

// TestTPMIdentity: the last authenticated identity is the one evidence must
// match; an identity whose AK changed is an exception; a pinned AK Name
// must be the last identity's; evidence by an earlier identity's AK, by
// another AK, or for another index, does not count.
func TestTPMIdentity(t *testing.T) {
	idA, akA := akIdentity(t, nvName)
	idB, akB := akIdentity(t, nvName)
	dir, opts, ctr := identityLog(t, idA, idA, idB)
	rep := check(t, dir, opts)
	if rep.Verdict != verify.Intact || rep.TPMIdentity == nil || rep.TPMIdentity.AKName != idB.AKName || rep.TPMIdentity.NVIndex != "0x01500100" {
		t.Fatalf("report: %+v %+v", rep.FirstFailure, rep.TPMIdentity)
	}
	var changed []verify.Exception
	for _, e := range rep.Exceptions {
		if e.Code == "tpm_identity_changed" {
			changed = append(changed, e)
		}
	}
	if len(changed) != 1 || changed[0].Seq != rep.TPMIdentity.Seq {
		t.Fatalf("exceptions %+v, want one tpm_identity_changed at record %d", rep.Exceptions, rep.TPMIdentity.Seq)
	}

	result := func(ak []byte) *evidence.Result {
		return &evidence.Result{Counter: ctr.Value, Index: testIndex, IndexName: nvName, AKName: ak, NonceChecked: true}
	}
	o := opts
	o.Evidence = result(akB)
	if rep := check(t, dir, o); rep.Verdict != verify.Intact || rep.Evidence == nil || rep.Evidence.AKName != idB.AKName {
		t.Fatalf("evidence by the last identity's AK: %+v", rep.FirstFailure)
	}
	o.Evidence = result(akA)
	if rep := check(t, dir, o); reasonOf(rep) != verify.ReasonUnknownAK || rep.Verdict != verify.Tampered {
		t.Fatalf("evidence by an earlier identity's AK: %+v", rep.FirstFailure)
	}
	o.Evidence = result(akB)
	o.Evidence.IndexName = append([]byte{0, 0x0b}, bytes.Repeat([]byte{1}, 32)...)
	if rep := check(t, dir, o); reasonOf(rep) != verify.ReasonEvidenceMismatch {
		t.Fatalf("evidence for an index of another Name: %+v", rep.FirstFailure)
	}

	o = opts
	o.AKName = akB
	if rep := check(t, dir, o); rep.Verdict != verify.Intact {
		t.Fatalf("pinned the last AK: %+v", rep.FirstFailure)
	}
	o.AKName = akA
	if rep := check(t, dir, o); reasonOf(rep) != verify.ReasonUnknownAK {
		t.Fatalf("pinned an earlier AK: %+v", rep.FirstFailure)
	}
	o.Evidence = result(akA)
	if rep := check(t, dir, o); reasonOf(rep) != verify.ReasonUnknownAK {
		t.Fatalf("pinned an earlier AK, evidence by it: %+v", rep.FirstFailure)
	}
}

// TestTPMIdentityUnauthenticated: an identity record a disk writer appended
// (no commit or checkpoint authenticates it) counts for nothing: evidence
// by the authenticated identity's AK still reaches the verdict
// unauthenticated_tail, and evidence by the appended AK is unknown_ak.
func TestTPMIdentityUnauthenticated(t *testing.T) {
	idA, akA := akIdentity(t, nvName)
	idX, akX := akIdentity(t, nvName)
	dir, opts, ctr := identityLog(t, idA)
	// Appended without the run key: the ledger syncs records without a
	// commit until a checkpoint names its run key.
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	idX.Timestamp = time.Now().UTC()
	if _, err := l.AppendSealerEvent(&idX); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Abandon()

	rep := check(t, dir, opts)
	if reasonOf(rep) != verify.ReasonUnauthenticatedTail || rep.TPMIdentity == nil || rep.TPMIdentity.AKName != idA.AKName {
		t.Fatalf("report: %+v %+v", rep.FirstFailure, rep.TPMIdentity)
	}
	o := opts
	o.Evidence = &evidence.Result{Counter: ctr.Value, Index: testIndex, IndexName: nvName, AKName: akA}
	if rep := check(t, dir, o); reasonOf(rep) != verify.ReasonUnauthenticatedTail {
		t.Fatalf("evidence by the authenticated AK: %+v", rep.FirstFailure)
	}
	o.Evidence.AKName = akX
	if rep := check(t, dir, o); reasonOf(rep) != verify.ReasonUnknownAK {
		t.Fatalf("evidence by the appended AK: %+v", rep.FirstFailure)
	}
}

// TestTPMIdentityMustBeConsistent: a record whose ak_name is not the Name
// of its ak_public, or whose ak_public is no attestation key, is refused.
func TestTPMIdentityMustBeConsistent(t *testing.T) {
	idA, _ := akIdentity(t, nvName)
	idB, _ := akIdentity(t, nvName)
	bad := idA
	bad.AKName = idB.AKName
	dir, opts, _ := identityLog(t, bad)
	if rep := check(t, dir, opts); reasonOf(rep) != verify.ReasonSchemaInvalid {
		t.Fatalf("ak_name of another key: %+v", rep.FirstFailure)
	}
	bad = idA
	bad.AKPublic = base64.StdEncoding.EncodeToString([]byte("not a TPMT_PUBLIC"))
	dir, opts, _ = identityLog(t, bad)
	if rep := check(t, dir, opts); reasonOf(rep) != verify.ReasonSchemaInvalid {
		t.Fatalf("ak_public that is no AK: %+v", rep.FirstFailure)
	}
}

// TestEKChallengeRules: with a credential challenge, the evidence must be
// by the AK the challenge names, carry its credential as the nonce, and the
// EK certificate must chain to a pinned CA; each failure is unknown_ak.
func TestEKChallengeRules(t *testing.T) {
	idA, akA := akIdentity(t, nvName)
	dir, opts, ctr := identityLog(t, idA)
	ekKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vendor root"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	ekDER, _ := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ek"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}, ca, &ekKey.PublicKey, caKey)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &otherKey.PublicKey, otherKey)
	other, _ := x509.ParseCertificate(otherDER)

	ch, secret, err := evidence.NewChallenge(rand.Reader, ekDER, akA)
	if err != nil {
		t.Fatal(err)
	}
	result := &evidence.Result{Counter: ctr.Value, Index: testIndex, IndexName: nvName, AKName: akA, Nonce: ch.Nonce(secret), NonceChecked: true}
	o := opts
	o.Evidence = result
	o.EKChallenge = &verify.EKChallenge{Challenge: ch, Secret: secret, Anchors: []*x509.Certificate{ca}}
	if rep := check(t, dir, o); rep.Verdict != verify.Intact || rep.Evidence.EKCA != "CN=vendor root" {
		t.Fatalf("answered challenge: %+v %+v", rep.FirstFailure, rep.Evidence)
	}
	for name, mut := range map[string]func(c *verify.EKChallenge, r *evidence.Result){
		"another CA":      func(c *verify.EKChallenge, r *evidence.Result) { c.Anchors = []*x509.Certificate{other} },
		"expired":         func(c *verify.EKChallenge, r *evidence.Result) { c.Now = time.Now().Add(2 * time.Hour) },
		"another secret":  func(c *verify.EKChallenge, r *evidence.Result) { c.Secret = make([]byte, 32) },
		"another nonce":   func(c *verify.EKChallenge, r *evidence.Result) { r.Nonce = []byte("fresh but not the credential") },
		"for another AK":  func(c *verify.EKChallenge, r *evidence.Result) { c.Challenge.AKName = nvName },
		"no nonce at all": func(c *verify.EKChallenge, r *evidence.Result) { r.Nonce = nil },
		"no CA to trust":  func(c *verify.EKChallenge, r *evidence.Result) { c.Anchors = nil },
		"a cert as its CA": func(c *verify.EKChallenge, r *evidence.Result) {
			c.Anchors = nil
			c.Intermediates = []*x509.Certificate{ca}
		},
	} {
		c := *o.EKChallenge
		cc := *ch
		c.Challenge = &cc
		r := *result
		mut(&c, &r)
		oo := o
		oo.EKChallenge, oo.Evidence = &c, &r
		if rep := check(t, dir, oo); reasonOf(rep) != verify.ReasonUnknownAK {
			t.Errorf("%s: %+v", name, rep.FirstFailure)
		}
	}
}
