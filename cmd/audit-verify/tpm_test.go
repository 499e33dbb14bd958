package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
)

// The tests of this file run the auditor's commands against logs anchored
// in a real swtpm (manufactured with an EK certificate by swtpm_setup), as
// the sealer writes them: the TPM identity recorded at every start, then
// anchored checkpoints. The tests may use go-tpm and package tpm; the
// audit-verify binary does not (scripts/test.sh checks its dependencies).

var bg = context.Background()

// tpmFixture is a TPM, a log it anchors, and an old copy of that log.
type tpmFixture struct {
	counter *tpm.Counter
	id      *tpm.Identity
	ekPEM   string // the TPM's EK certificate, PEM
	caFile  string // swtpm's local CA (root and intermediate)
	key     string // the log key, PEM
	dir     string // the log
	old     string // a copy of the log taken before the last run
}

// newTPMFixture manufactures a swtpm with an EK certificate, and writes a
// log in two runs of a sealer anchored in it (each run records the TPM
// identity first, then events and anchored checkpoints); the old copy is
// the log after the first run: a rollback the counter exposes.
func newTPMFixture(t *testing.T) *tpmFixture {
	t.Helper()
	state := t.TempDir()
	f := &tpmFixture{caFile: swtpmtest.ProvisionEK(t, state)}
	s := swtpmtest.StartSwtpm(t, state)
	f.counter, _ = swtpmtest.Counter(t, s.Transport())
	var err error
	if f.id, err = tpm.ReadIdentity(bg, f.counter); err != nil {
		t.Fatal(err)
	}
	der, err := tpm.ReadEKCertificate(bg, f.counter)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	f.ekPEM = filepath.Join(root, "ek.pem")
	os.WriteFile(f.ekPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	key := testkit.Key("main")
	f.key = filepath.Join(root, "sealer.pem")
	os.WriteFile(f.key, key.Public().MarshalPEM(), 0o644)
	f.dir, f.old = filepath.Join(root, "log"), filepath.Join(root, "old")
	ident := identityEvent(f.id, der)
	clock := testkit.NewClock()
	for run := range 2 {
		if run == 1 {
			if err := testkit.CopyDir(f.dir, f.old); err != nil {
				t.Fatal(err)
			}
		}
		l, _, err := ledger.Open(ledger.Config{Dir: f.dir, Signer: key, Dev: true, Now: clock.Now, Counter: f.counter, AnchorIndex: f.counter.Index()})
		if err != nil {
			t.Fatal(err)
		}
		ident.Timestamp = clock.Now()
		if _, err := l.AppendSealerEvent(&ident); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			now := clock.Now()
			service, raw := testkit.EventJSON(i, now.Add(-time.Millisecond))
			ev, err := event.Decode(raw, event.DecodeOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := event.Encode(ev)
			if _, _, err := l.Append(chain.KindEvent, service, ev.EventType(), body, now); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Seal(bg, ledger.SealOptions{Anchor: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func identityEvent(id *tpm.Identity, ekDER []byte) event.TPMIdentity {
	return event.TPMIdentity{AKName: hex.EncodeToString(id.AKName), AKPublic: base64.StdEncoding.EncodeToString(id.AKPublic),
		NVIndex: id.NVIndex, NVName: hex.EncodeToString(id.NVName), EKCertificate: base64.StdEncoding.EncodeToString(ekDER)}
}

// certify has the TPM certify its counter with a fresh nonce, as the
// operator does, and returns the evidence file and the nonce.
func (f *tpmFixture) certify(t *testing.T) (string, string) {
	t.Helper()
	nonce := make([]byte, 16)
	rand.Read(nonce)
	data, err := tpm.Certify(bg, f.counter, nonce)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "evidence.json")
	os.WriteFile(path, data, 0o644)
	return path, hex.EncodeToString(nonce)
}

// report runs audit-verify --json and returns the exit code and report.
func report(t *testing.T, args ...string) (int, map[string]any) {
	t.Helper()
	code, out, stderr := runCLI(append(args, "--json")...)
	var rep map[string]any
	if code != 2 {
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: exit %d, output is not JSON: %v\n%s%s", args, code, err, out, stderr)
		}
	}
	return code, rep
}

func reason(rep map[string]any) string {
	ff, _ := rep["first_failure"].(map[string]any)
	r, _ := ff["reason"].(string)
	return r
}

// TestTPMEvidenceIsFromTheLogsAK: evidence by the TPM's AK, which the log
// records, verifies, and the AK Name is reported; evidence that a software
// ECDSA key made (a public area claiming fixedTPM and restricted, which the
// evidence alone cannot refute) "certifying" the old copy's counter is
// refused with unknown_ak, on the old copy and on the current log; so is
// any AK when the log records no TPM identity.
func TestTPMEvidenceIsFromTheLogsAK(t *testing.T) {
	f := newTPMFixture(t)
	akHex := hex.EncodeToString(f.id.AKName)
	ev, nonce := f.certify(t)
	code, rep := report(t, "--key", f.key, "--tpm-evidence", ev, "--nonce", nonce, f.dir)
	if code != 0 {
		t.Fatalf("evidence by the log's AK: exit %d %v", code, rep)
	}
	if e, _ := rep["tpm_evidence"].(map[string]any); e["ak_name"] != akHex {
		t.Fatalf("tpm_evidence %v, want ak_name %s", e, akHex)
	}
	if id, _ := rep["tpm_identity"].(map[string]any); id["ak_name"] != akHex || id["ek_certificate"] == "" {
		t.Fatalf("tpm_identity %v", id)
	}
	_, out, _ := runCLI("--key", f.key, "--tpm-evidence", ev, "--nonce", nonce, f.dir)
	if !strings.Contains(out, "TPM identity: attestation key "+akHex) || !strings.Contains(out, "certified by attestation key "+akHex) {
		t.Fatalf("the text output does not name the AK:\n%s", out)
	}
	// The real TPM calls the old copy rolled back.
	if code, rep := report(t, "--key", f.key, "--tpm-evidence", ev, "--nonce", nonce, f.old); code != 1 || reason(rep) != "rolled_back" {
		t.Fatalf("old copy with the TPM's evidence: exit %d %v", code, rep)
	}

	// The attack of issue 13: evidence by a software key certifying the
	// old copy's last anchor, with the auditor's nonce.
	oldAnchor := lastAnchor(t, f.key, f.old)
	forged, forgedNonce := forgeEvidence(t, ev, oldAnchor)
	data, _ := os.ReadFile(forged)
	if e, err := evidence.Parse(data); err != nil {
		t.Fatal(err)
	} else if r, err := e.Verify(forgedNonce); err != nil || r.Counter != oldAnchor {
		t.Fatalf("the forged evidence should verify by itself (that is the attack): %+v, %v", r, err)
	}
	for _, dir := range []string{f.old, f.dir} {
		code, rep := report(t, "--key", f.key, "--tpm-evidence", forged, "--nonce", hex.EncodeToString(forgedNonce), dir)
		if code != 1 || reason(rep) != "unknown_ak" {
			t.Fatalf("software-key evidence on %s: exit %d %v", filepath.Base(dir), code, rep)
		}
	}
	code, out, _ = runCLI("--key", f.key, "--tpm-evidence", forged, "--nonce", hex.EncodeToString(forgedNonce), f.old)
	if code != 1 || !strings.Contains(out, "unknown_ak") || !strings.Contains(out, akHex) {
		t.Fatalf("text output for software-key evidence: exit %d\n%s", code, out)
	}

	// A log without a TPM identity: no evidence counts.
	bare := t.TempDir()
	bareKey := filepath.Join(bare, "key.pem")
	os.WriteFile(bareKey, testkit.Key("main").Public().MarshalPEM(), 0o644)
	l, _, err := ledger.Open(ledger.Config{Dir: filepath.Join(bare, "log"), Signer: testkit.Key("main"), Dev: true, Counter: f.counter, AnchorIndex: f.counter.Index()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(bg, ledger.SealOptions{Anchor: true}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	ev, nonce = f.certify(t)
	if code, rep := report(t, "--key", bareKey, "--tpm-evidence", ev, "--nonce", nonce, filepath.Join(bare, "log")); code != 1 || reason(rep) != "unknown_ak" {
		t.Fatalf("a log without TPM identity: exit %d %v", code, rep)
	}
}

// TestAKNamePin: --ak-name pins the AK: the log's identity and the evidence
// must name it; another Name fails with unknown_ak, with or without
// evidence; a malformed one cannot be checked.
func TestAKNamePin(t *testing.T) {
	f := newTPMFixture(t)
	akHex := hex.EncodeToString(f.id.AKName)
	other := bytes.Clone(f.id.AKName)
	other[9] ^= 0x40
	ev, nonce := f.certify(t)
	code, rep := report(t, "--key", f.key, "--ak-name", akHex, "--tpm-evidence", ev, "--nonce", nonce, f.dir)
	if e, _ := rep["tpm_evidence"].(map[string]any); code != 0 || e["ak_pinned"] != true {
		t.Fatalf("the right pin: exit %d %v", code, rep)
	}
	if code, rep := report(t, "--key", f.key, "--ak-name", akHex, f.dir); code != 0 {
		t.Fatalf("the right pin without evidence: exit %d %v", code, rep)
	}
	for _, args := range [][]string{
		{"--key", f.key, "--ak-name", hex.EncodeToString(other), "--tpm-evidence", ev, "--nonce", nonce, f.dir},
		{"--key", f.key, "--ak-name", hex.EncodeToString(other), f.dir},
	} {
		if code, rep := report(t, args...); code != 1 || reason(rep) != "unknown_ak" {
			t.Fatalf("%v: exit %d %v", args, code, rep)
		}
	}
	for _, bad := range []string{"zz", "000b00", strings.Repeat("00", 34)} {
		if code, _, stderr := runCLI("--key", f.key, "--ak-name", bad, f.dir); code != 2 || !strings.Contains(stderr, "--ak-name") {
			t.Errorf("--ak-name %s: exit %d\n%s", bad, code, stderr)
		}
	}
}

// TestEKChallenge: the auditor makes a challenge from the EK certificate
// and the AK Name, the TPM answers it, and audit-verify checks that the AK
// is in the TPM whose EK swtpm's CA certified. Another CA, another secret,
// a challenge for another AK, a challenge file altered on its way, and an
// EK-certified AK of another TPM all fail.
func TestEKChallenge(t *testing.T) {
	f := newTPMFixture(t)
	akHex := hex.EncodeToString(f.id.AKName)
	dir := t.TempDir()
	chFile := filepath.Join(dir, "challenge.json")
	code, out, stderr := runCLI("tpm", "challenge", "--ek-cert", f.ekPEM, "--ak-name", akHex, "--out", chFile)
	if code != 0 {
		t.Fatalf("tpm challenge: exit %d\n%s", code, stderr)
	}
	secret := strings.TrimSpace(out)
	if len(secret) != 64 {
		t.Fatalf("tpm challenge printed %q, want a 32-byte hex secret", out)
	}
	ev := answer(t, f.counter, chFile)
	args := func(extra ...string) []string {
		return append([]string{"--key", f.key, "--tpm-evidence", ev, "--challenge", chFile, "--challenge-secret", secret, "--ek-ca", f.caFile}, extra...)
	}
	code, rep := report(t, args(f.dir)...)
	e, _ := rep["tpm_evidence"].(map[string]any)
	if code != 0 || e["ek_ca"] != "CN=swtpm-localca-rootca" || e["nonce_checked"] != true {
		t.Fatalf("the answered challenge: exit %d %v", code, rep)
	}
	_, out, _ = runCLI(args(f.dir)...)
	if !strings.Contains(out, `in the TPM whose EK "CN=swtpm-localca-rootca" certified`) {
		t.Fatalf("text output:\n%s", out)
	}
	// The old copy: the AK is genuine, and the counter shows the rollback.
	if code, rep := report(t, args(f.old)...); code != 1 || reason(rep) != "rolled_back" {
		t.Fatalf("old copy: exit %d %v", code, rep)
	}

	// Another CA (another swtpm_setup's): unknown_ak.
	otherCA := swtpmtest.ProvisionEK(t, t.TempDir())
	bad := args(f.dir)
	bad[9] = otherCA
	if code, rep := report(t, bad...); code != 1 || reason(rep) != "unknown_ak" {
		t.Fatalf("another CA: exit %d %v", code, rep)
	}
	// Another secret: the evidence does not answer the challenge (exit 2,
	// as with a wrong --nonce).
	bad = args(f.dir)
	bad[7] = strings.Repeat("ab", 32)
	if code, _, stderr := runCLI(bad...); code != 2 || !strings.Contains(stderr, "nonce") {
		t.Fatalf("another secret: exit %d\n%s", code, stderr)
	}
	// A challenge for another AK: the operator's TPM cannot answer it...
	otherAK := bytes.Clone(f.id.AKName)
	otherAK[3] ^= 1
	otherCh := filepath.Join(dir, "other.json")
	code, out, _ = runCLI("tpm", "challenge", "--ek-cert", f.ekPEM, "--ak-name", hex.EncodeToString(otherAK), "--out", otherCh)
	if code != 0 {
		t.Fatal("tpm challenge for another AK failed")
	}
	data, _ := os.ReadFile(otherCh)
	ch, err := evidence.ParseChallenge(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpm.CertifyChallenge(bg, f.counter, ch); err == nil {
		t.Fatal("the TPM answered a challenge for another AK")
	}
	// ...and the evidence of the first challenge does not answer it.
	bad = args(f.dir)
	bad[5], bad[7] = otherCh, strings.TrimSpace(out)
	if code, _, stderr := runCLI(bad...); code != 2 {
		t.Fatalf("evidence checked against a challenge for another AK: exit %d\n%s", code, stderr)
	}
	// The challenge file, altered on its way to name another AK: the
	// credential the auditor computes no longer matches.
	var m map[string]any
	orig, _ := os.ReadFile(chFile)
	json.Unmarshal(orig, &m)
	m["ak_name"] = hex.EncodeToString(otherAK)
	altered := filepath.Join(dir, "altered.json")
	b, _ := json.Marshal(m)
	os.WriteFile(altered, b, 0o644)
	bad = args(f.dir)
	bad[5] = altered
	if code, _, _ := runCLI(bad...); code != 2 {
		t.Fatalf("altered challenge: exit %d", code)
	}

	// Another TPM, EK-certified by the same kind of CA, answers a challenge
	// for its own AK: genuine, but not the log's TPM.
	g := newTPMFixture(t)
	gCh := filepath.Join(dir, "g.json")
	code, out, _ = runCLI("tpm", "challenge", "--ek-cert", g.ekPEM, "--ak-name", hex.EncodeToString(g.id.AKName), "--out", gCh)
	if code != 0 {
		t.Fatal("tpm challenge for the other TPM failed")
	}
	gEv := answer(t, g.counter, gCh)
	code, rep = report(t, "--key", f.key, "--tpm-evidence", gEv, "--challenge", gCh, "--challenge-secret", strings.TrimSpace(out), "--ek-ca", g.caFile, f.dir)
	if code != 1 || reason(rep) != "unknown_ak" {
		t.Fatalf("another TPM's EK-certified AK: exit %d %v", code, rep)
	}

	// Flags that go together.
	for _, a := range [][]string{
		{"--key", f.key, "--tpm-evidence", ev, "--challenge", chFile, f.dir},
		{"--key", f.key, "--challenge", chFile, "--challenge-secret", secret, "--ek-ca", f.caFile, f.dir},
		{"--key", f.key, "--tpm-evidence", ev, "--nonce", "00", "--challenge", chFile, "--challenge-secret", secret, "--ek-ca", f.caFile, f.dir},
		{"--key", f.key, "--tpm-evidence", ev, "--challenge", chFile, "--challenge-secret", "00", "--ek-ca", f.caFile, f.dir},
		{"--key", f.key, "--tpm-evidence", ev, "--challenge", chFile, "--challenge-secret", secret, "--ek-ca", f.ekPEM, f.dir}, // no root
	} {
		if code, _, _ := runCLI(a...); code != 2 {
			t.Errorf("%v: exit %d, want 2", a, code)
		}
	}
}

// answer has the TPM answer a challenge file, as audit-sealer tpm certify
// --challenge does, and returns the evidence file.
func answer(t *testing.T, c *tpm.Counter, chFile string) string {
	t.Helper()
	data, err := os.ReadFile(chFile)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := evidence.ParseChallenge(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tpm.CertifyChallenge(bg, c, ch)
	if err != nil {
		t.Fatalf("CertifyChallenge: %v", err)
	}
	path := filepath.Join(t.TempDir(), "evidence.json")
	os.WriteFile(path, out, 0o644)
	return path
}

// lastAnchor returns the counter of a log's last anchored checkpoint.
func lastAnchor(t *testing.T, key, dir string) uint64 {
	t.Helper()
	_, rep := report(t, "--key", key, dir)
	la, _ := rep["last_anchor"].(map[string]any)
	if la == nil {
		t.Fatalf("no anchor in %s: %v", dir, rep)
	}
	return uint64(la["counter"].(float64))
}

// forgeEvidence makes what an attacker without the TPM can make: evidence
// by a software ECDSA key whose public area claims an endorsement-hierarchy
// AK (fixedTPM, restricted, sign), certifying value for the real counter
// index (its public area taken from real evidence). It returns the file and
// the nonce it carries.
func forgeEvidence(t *testing.T, real string, value uint64) (string, []byte) {
	t.Helper()
	data, _ := os.ReadFile(real)
	re, err := evidence.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
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
	akPublic := tpm2.Marshal(pub)
	name, _ := tpm2.ObjectName(&pub)
	qn := sha256.Sum256(append(binary.BigEndian.AppendUint32(nil, uint32(tpm2.TPMRHEndorsement)), name.Buffer...))
	nvName := sha256.Sum256(re.NVPublic)
	nonce := make([]byte, 16)
	rand.Read(nonce)
	contents := binary.BigEndian.AppendUint64(nil, value)
	attest := tpm2.Marshal(tpm2.TPMSAttest{
		Magic: tpm2.TPMGeneratedValue, Type: tpm2.TPMSTAttestNV,
		QualifiedSigner: tpm2.TPM2BName{Buffer: append([]byte{0, 0x0b}, qn[:]...)},
		ExtraData:       tpm2.TPM2BData{Buffer: nonce},
		ClockInfo:       tpm2.TPMSClockInfo{Clock: 1000, ResetCount: 1, Safe: true},
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestNV, &tpm2.TPMSNVCertifyInfo{
			IndexName:  tpm2.TPM2BName{Buffer: append([]byte{0, 0x0b}, nvName[:]...)},
			NVContents: tpm2.TPM2BData{Buffer: contents},
		}),
	})
	digest := sha256.Sum256(attest)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := tpm2.Marshal(tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgECDSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
		Hash:       tpm2.TPMAlgSHA256,
		SignatureR: tpm2.TPM2BECCParameter{Buffer: r.FillBytes(make([]byte, 32))},
		SignatureS: tpm2.TPM2BECCParameter{Buffer: s.FillBytes(make([]byte, 32))},
	})})
	out, err := (&evidence.Evidence{Nonce: nonce, AKPublic: akPublic, NVPublic: re.NVPublic, Attest: attest, Signature: sig,
		CreatedAt: time.Now().UTC().Truncate(time.Second)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "forged.json")
	os.WriteFile(path, out, 0o644)
	return path, nonce
}

// TestChallengeInputsAreSizeChecked: the files of the credential challenge
// flow are refused (exit 2) when larger than their kind can be, before
// they are read.
func TestChallengeInputsAreSizeChecked(t *testing.T) {
	root := t.TempDir()
	v := generatedVector(t, root, "intact_with_trusted")
	huge := filepath.Join(root, "huge")
	hf, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	hf.Truncate(1 << 30)
	hf.Close()
	ekKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ek"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ekKey.PublicKey, ekKey)
	ek := filepath.Join(root, "ek.der")
	os.WriteFile(ek, der, 0o644)
	ch := filepath.Join(root, "challenge.json")
	code, out, stderr := runCLI("tpm", "challenge", "--ek-cert", ek, "--ak-name", "000b"+strings.Repeat("11", 32), "--out", ch)
	if code != 0 {
		t.Fatalf("tpm challenge: exit %d\n%s", code, stderr)
	}
	secret := strings.TrimSpace(out)
	for _, args := range [][]string{
		{"tpm", "challenge", "--ek-cert", huge, "--ak-name", "000b" + strings.Repeat("11", 32), "--out", filepath.Join(root, "x.json")},
		{"--key", v.KeyFile, "--tpm-evidence", huge, "--challenge", huge, "--challenge-secret", secret, "--ek-ca", huge, v.Dir},
		{"--key", v.KeyFile, "--tpm-evidence", huge, "--challenge", ch, "--challenge-secret", secret, "--ek-ca", huge, v.Dir},
	} {
		code, out, stderr := runCLI(args...)
		if code != 2 || !strings.Contains(stderr, "file too large") {
			t.Errorf("%v: exit %d, want 2 (file too large)\n%s%s", args, code, out, stderr)
		}
	}
}
