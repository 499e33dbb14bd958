package tpm_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
)

func nonce(t *testing.T) []byte {
	t.Helper()
	n := make([]byte, 32)
	rand.Read(n)
	return n
}

// certify makes evidence for c, writes it to a file and reads it back, as
// an auditor would get it.
func certify(t *testing.T, c *tpm.Counter, n []byte) *evidence.Evidence {
	t.Helper()
	data, err := tpm.Certify(ctx, c, n)
	if err != nil {
		t.Fatalf("Certify: %v", err)
	}
	path := filepath.Join(t.TempDir(), "evidence.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := evidence.Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	return e
}

// TestCertifyRoundTrip: evidence from swtpm verifies offline, certifies the
// value Read returns, the index's Name and the real reset count; the AK is
// the same for every quote of the same TPM; and it cross-checks the
// evidence package's hand-written parser against go-tpm's.
func TestCertifyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := swtpmtest.StartSwtpm(t, dir)
	c, cfg := swtpmtest.Counter(t, s.Transport())
	increment(t, c)
	value := read(t, c)

	n := nonce(t)
	e := certify(t, c, n)
	res, err := e.Verify(n)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Counter != value || res.Index != tpm.DefaultIndex || !bytes.Equal(res.IndexName, c.Name()) || !res.NonceChecked {
		t.Errorf("Verify = %+v; want counter %d, index 0x%08x, name %x", res, value, tpm.DefaultIndex, c.Name())
	}
	if res.ResetCount == 0 || res.ResetCount > 100 {
		t.Errorf("ResetCount %d looks obfuscated (an owner-hierarchy AK?)", res.ResetCount)
	}
	if len(res.AKName) != 34 || res.AKName[0] != 0 || res.AKName[1] != 0x0b {
		t.Errorf("AKName %x is not a SHA-256 Name", res.AKName)
	}
	if r, err := e.Verify(nil); err != nil || r.NonceChecked {
		t.Errorf("Verify(nil) = %+v, %v", r, err)
	}

	// go-tpm reads the same structures the same way.
	att, err := tpm2.Unmarshal[tpm2.TPMSAttest](e.Attest)
	if err != nil {
		t.Fatal(err)
	}
	nv, err := att.Attested.NV()
	if err != nil {
		t.Fatal(err)
	}
	if att.Type != tpm2.TPMSTAttestNV || binary.BigEndian.Uint64(nv.NVContents.Buffer) != res.Counter ||
		att.ClockInfo.Clock != res.ClockMillis || att.ClockInfo.ResetCount != res.ResetCount ||
		att.ClockInfo.RestartCount != res.RestartCount || att.FirmwareVersion != res.FirmwareVersion ||
		!bytes.Equal(att.ExtraData.Buffer, n) || !bytes.Equal(nv.IndexName.Buffer, res.IndexName) {
		t.Errorf("go-tpm reads %+v / %+v; the evidence package %+v", att, nv, res)
	}
	akPub, err := tpm2.Unmarshal[tpm2.TPMTPublic](e.AKPublic)
	if err != nil {
		t.Fatal(err)
	}
	akName, _ := tpm2.ObjectName(akPub)
	if !bytes.Equal(akName.Buffer, res.AKName) {
		t.Errorf("AK Name %x, go-tpm computes %x", res.AKName, akName.Buffer)
	}
	nvPub, err := tpm2.Unmarshal[tpm2.TPMSNVPublic](e.NVPublic)
	if err != nil || !nvPub.Attributes.Written || nvPub.Attributes.Orderly || nvPub.DataSize != 8 {
		t.Errorf("nv_public = %+v, %v", nvPub, err)
	}

	// The same AK, and a higher counter, after an increment and a restart
	// (a power cycle: the reset count goes up).
	increment(t, c)
	s.Stop()
	s = swtpmtest.StartSwtpm(t, dir)
	c = open(t, s.Transport(), cfg)
	n2 := nonce(t)
	res2, err := certify(t, c, n2).Verify(n2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res2.AKName, res.AKName) {
		t.Errorf("AK Name changed across a restart: %x, then %x", res.AKName, res2.AKName)
	}
	if res2.Counter != value+1 || res2.ResetCount <= res.ResetCount {
		t.Errorf("after an increment and a restart: %+v; before: %+v", res2, res)
	}
}

// TestCertifyRejected: evidence that was tampered with, or answers another
// nonce, fails verification with the matching error.
func TestCertifyRejected(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	c, _ := swtpmtest.Counter(t, tr)
	n := nonce(t)
	good := certify(t, c, n)

	if _, err := good.Verify(nonce(t)); !errors.Is(err, evidence.ErrNonceMismatch) {
		t.Errorf("another nonce: %v, want ErrNonceMismatch", err)
	}

	e := *good
	e.Attest = bytes.Clone(good.Attest)
	e.Attest[len(e.Attest)-1]++ // the counter's last byte
	if _, err := e.Verify(n); !errors.Is(err, evidence.ErrBadSignature) {
		t.Errorf("modified counter in attest: %v, want ErrBadSignature", err)
	}

	e = *good
	e.Nonce = nonce(t)
	if _, err := e.Verify(e.Nonce); err == nil {
		t.Error("evidence with an edited nonce member verified")
	}

	// nv_public of an ORDERLY index (recomputed Name will not match).
	e = *good
	e.NVPublic = bytes.Clone(good.NVPublic)
	e.NVPublic[6] |= 0x04 // attributes byte 0: bit 26 (ORDERLY)
	if _, err := e.Verify(n); !errors.Is(err, evidence.ErrBadEvidence) {
		t.Errorf("ORDERLY nv_public: %v, want ErrBadEvidence", err)
	}

	// The AK of another TPM.
	other, _ := swtpmtest.Start(t, "")
	oc, _ := swtpmtest.Counter(t, other)
	foreign := certify(t, oc, n)
	e = *good
	e.AKPublic = foreign.AKPublic
	if _, err := e.Verify(n); !errors.Is(err, evidence.ErrBadSignature) {
		t.Errorf("another TPM's AK: %v, want ErrBadSignature", err)
	}
	// The other TPM's quote is valid by itself, with another AK Name.
	r1, err1 := good.Verify(n)
	r2, err2 := foreign.Verify(n)
	if err1 != nil || err2 != nil || bytes.Equal(r1.AKName, r2.AKName) {
		t.Errorf("two TPMs: %v, %v; AK Names %x and %x", err1, err2, r1.AKName, r2.AKName)
	}

	// A file edited in JSON.
	data, _ := good.Marshal()
	var m map[string]any
	json.Unmarshal(data, &m)
	m["extra"] = "x"
	edited, _ := json.Marshal(m)
	if _, err := evidence.Parse(edited); !errors.Is(err, evidence.ErrBadEvidence) {
		t.Errorf("unknown member: %v", err)
	}

	if _, err := tpm.Certify(ctx, c, make([]byte, 65)); err == nil {
		t.Error("Certify with a 65-byte nonce succeeded")
	}
	// An empty nonce is allowed; such evidence proves no freshness.
	if r, err := certify(t, c, nil).Verify(nil); err != nil || r.NonceChecked {
		t.Errorf("empty nonce: %+v, %v", r, err)
	}
}

// TestCertifyFlushesAK: Certify leaves no transient object behind (swtpm
// holds only 3, so a leak would fail the fourth call).
func TestCertifyFlushesAK(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	c, _ := swtpmtest.Counter(t, tr)
	for range 8 {
		if _, err := tpm.Certify(ctx, c, []byte("n")); err != nil {
			t.Fatal(err)
		}
	}
	caps, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapHandles,
		Property:      uint32(tpm2.TPMHTTransient) << 24,
		PropertyCount: 16,
	}.Execute(tr)
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
