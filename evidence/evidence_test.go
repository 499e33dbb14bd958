package evidence_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/internal/strictjson"
)

// The tests build evidence with a software ECDSA key standing in for the
// TPM's attestation key, and marshal the TPM structures by hand here, from
// the TPM 2.0 Part 2 tables, independently of the package's parser.

// enc is a big-endian TPM marshaller.
type enc struct{ b []byte }

func (e *enc) u8(v uint8) *enc   { e.b = append(e.b, v); return e }
func (e *enc) u16(v uint16) *enc { e.b = binary.BigEndian.AppendUint16(e.b, v); return e }
func (e *enc) u32(v uint32) *enc { e.b = binary.BigEndian.AppendUint32(e.b, v); return e }
func (e *enc) u64(v uint64) *enc { e.b = binary.BigEndian.AppendUint64(e.b, v); return e }
func (e *enc) raw(p []byte) *enc { e.b = append(e.b, p...); return e }
func (e *enc) tpm2b(p []byte) *enc {
	return e.u16(uint16(len(p))).raw(p)
}

const (
	algECC, algECDSA, algNull, algSHA256, algSHA384, algRSASSA = 0x0023, 0x0018, 0x0010, 0x000B, 0x000C, 0x0014
	// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA |
	// restricted | sign, as package tpm creates the AK.
	akAttributes = 1<<1 | 1<<4 | 1<<5 | 1<<6 | 1<<10 | 1<<16 | 1<<18
	// The counter as package tpm provisions it, written.
	nvAttributes = 0x22060014
	testIndex    = 0x01500100
)

// spec describes one synthetic evidence file; mutate fields to break it.
type spec struct {
	key *ecdsa.PrivateKey // the "AK"

	akType, akNameAlg    uint16
	akAttrs              uint32
	akSym, akScheme      uint16
	akSchemeHash         uint16
	akCurve, akKDF       uint16
	akX, akY             []byte // nil: the key's coordinates
	akTrailer            []byte
	nvIndex              uint32
	nvNameAlg            uint16
	nvAttrs              uint32
	nvPolicy             []byte
	nvSize               uint16
	nvTrailer            []byte
	magic                uint32
	attType              uint16
	qualifiedSigner      []byte // nil: the QN of the AK as a primary key of hierarchy
	hierarchy            uint32
	extraData            []byte
	clock                uint64
	resetCount, restarts uint32
	safe                 uint8
	firmware             uint64
	indexName            []byte // nil: the Name of the nv_public
	offset               uint16
	contents             []byte
	attTrailer           []byte
	sigAlg, sigHash      uint16
	signer               *ecdsa.PrivateKey // nil: key
	sigTrailer           []byte
	nonceField           []byte // the JSON nonce; nil: extraData
}

var testKey, otherKey = mustKey(), mustKey()

func mustKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func goodSpec() *spec {
	return &spec{
		key:    testKey,
		akType: algECC, akNameAlg: algSHA256, akAttrs: akAttributes,
		akSym: algNull, akScheme: algECDSA, akSchemeHash: algSHA256, akCurve: 0x0003, akKDF: algNull,
		nvIndex: testIndex, nvNameAlg: algSHA256, nvAttrs: nvAttributes, nvSize: 8,
		magic: 0xFF544347, attType: 0x8014, hierarchy: 0x4000000B,
		extraData: []byte("a fresh nonce from the auditor.."),
		clock:     123456789, resetCount: 7, restarts: 2, safe: 1, firmware: 0x2019102300163636,
		contents: []byte{0, 0, 0, 0, 0, 0, 0x01, 0x2c},
		sigAlg:   algECDSA, sigHash: algSHA256,
	}
}

func fixed32(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }

func tpmName(alg uint16, data ...[]byte) []byte {
	h := sha256.New()
	if alg == algSHA384 {
		h = sha512.New384()
	}
	for _, d := range data {
		h.Write(d)
	}
	return h.Sum(binary.BigEndian.AppendUint16(nil, alg))
}

// build returns the evidence for s.
func (s *spec) build() *evidence.Evidence {
	x, y := s.akX, s.akY
	if x == nil {
		x = s.key.PublicKey.X.FillBytes(make([]byte, 32))
		y = s.key.PublicKey.Y.FillBytes(make([]byte, 32))
	}
	ak := new(enc).u16(s.akType).u16(s.akNameAlg).u32(s.akAttrs).tpm2b(nil).u16(s.akSym).u16(s.akScheme)
	if s.akScheme == algECDSA {
		ak.u16(s.akSchemeHash)
	}
	ak.u16(s.akCurve).u16(s.akKDF).tpm2b(x).tpm2b(y).raw(s.akTrailer)

	nv := new(enc).u32(s.nvIndex).u16(s.nvNameAlg).u32(s.nvAttrs).tpm2b(s.nvPolicy).u16(s.nvSize).raw(s.nvTrailer)

	qs := s.qualifiedSigner
	if qs == nil {
		qs = tpmName(algSHA256, binary.BigEndian.AppendUint32(nil, s.hierarchy), tpmName(algSHA256, ak.b))
	}
	in := s.indexName
	if in == nil {
		in = tpmName(s.nvNameAlg, nv.b)
	}
	att := new(enc).u32(s.magic).u16(s.attType).tpm2b(qs).tpm2b(s.extraData).
		u64(s.clock).u32(s.resetCount).u32(s.restarts).u8(s.safe).u64(s.firmware).
		tpm2b(in).u16(s.offset).tpm2b(s.contents).raw(s.attTrailer)

	signer := s.signer
	if signer == nil {
		signer = s.key
	}
	d := sha256.Sum256(att.b)
	r, ss, err := ecdsa.Sign(rand.Reader, signer, d[:])
	if err != nil {
		panic(err)
	}
	sig := new(enc).u16(s.sigAlg).u16(s.sigHash).tpm2b(fixed32(r.Bytes())).tpm2b(fixed32(ss.Bytes())).raw(s.sigTrailer)

	nonce := s.nonceField
	if nonce == nil {
		nonce = s.extraData
	}
	return &evidence.Evidence{
		Nonce:     nonce,
		AKPublic:  ak.b,
		NVPublic:  nv.b,
		Attest:    att.b,
		Signature: sig.b,
		CreatedAt: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
	}
}

func TestVerifyGood(t *testing.T) {
	s := goodSpec()
	e := s.build()
	res, err := e.Verify(s.extraData)
	if err != nil {
		t.Fatal(err)
	}
	want := evidence.Result{
		Counter: 300, Index: testIndex,
		IndexName:   tpmName(algSHA256, e.NVPublic),
		AKName:      tpmName(algSHA256, e.AKPublic),
		ClockMillis: 123456789, ResetCount: 7, RestartCount: 2, Safe: true,
		FirmwareVersion: 0x2019102300163636,
		Nonce:           s.extraData,
		NonceChecked:    true,
	}
	if !equalResult(*res, want) {
		t.Errorf("Verify = %+v\nwant     %+v", *res, want)
	}

	res, err = e.Verify(nil)
	if err != nil || res.NonceChecked || res.Counter != 300 {
		t.Errorf("Verify(nil) = %+v, %v; want the counter, NonceChecked false", res, err)
	}
}

func equalResult(a, b evidence.Result) bool {
	return a.Counter == b.Counter && a.Index == b.Index && bytes.Equal(a.IndexName, b.IndexName) &&
		bytes.Equal(a.AKName, b.AKName) && a.ClockMillis == b.ClockMillis &&
		a.ResetCount == b.ResetCount && a.RestartCount == b.RestartCount && a.Safe == b.Safe &&
		a.FirmwareVersion == b.FirmwareVersion && a.NonceChecked == b.NonceChecked && bytes.Equal(a.Nonce, b.Nonce)
}

func TestVerifyVariantsAccepted(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*spec)
	}{
		{"null AK scheme", func(s *spec) { s.akScheme = algNull }},
		{"empty nonce", func(s *spec) { s.extraData = nil }},
		{"SHA-384 index name", func(s *spec) { s.nvNameAlg = algSHA384 }},
		{"unsafe clock", func(s *spec) { s.safe = 0 }},
		{"index with a policy", func(s *spec) { s.nvPolicy = make([]byte, 32) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := goodSpec()
			tc.mut(s)
			res, err := s.build().Verify(s.extraData)
			if err != nil {
				t.Fatal(err)
			}
			if res.NonceChecked != (len(s.extraData) > 0) {
				t.Errorf("NonceChecked = %v", res.NonceChecked)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mut   func(*spec)
		nonce []byte // the verifier's; nil: the spec's extraData
		want  error
		msg   string // in the error
	}{
		{"wrong nonce", nil, []byte("another nonce"), evidence.ErrNonceMismatch, "certified nonce"},
		{"other signer", func(s *spec) { s.signer = otherKey }, nil, evidence.ErrBadSignature, "does not verify"},
		{"other AK", func(s *spec) { s.key = otherKey; s.signer = testKey }, nil, evidence.ErrBadSignature, ""},
		{"owner AK", func(s *spec) { s.hierarchy = 0x40000001 }, nil, evidence.ErrBadEvidence, "qualifiedSigner"},
		{"platform AK", func(s *spec) { s.hierarchy = 0x4000000C }, nil, evidence.ErrBadEvidence, "qualifiedSigner"},
		{"AK not a primary key", func(s *spec) { s.qualifiedSigner = tpmName(algSHA256, []byte("parent")) }, nil, evidence.ErrBadEvidence, "qualifiedSigner"},
		{"wrong magic", func(s *spec) { s.magic = 0xFF544348 }, nil, evidence.ErrBadEvidence, "magic"},
		{"quote type", func(s *spec) { s.attType = 0x8018 }, nil, evidence.ErrBadEvidence, "TPM_ST_ATTEST_NV"},
		{"index name of another index", func(s *spec) { s.indexName = tpmName(algSHA256, []byte("x")) }, nil, evidence.ErrBadEvidence, "indexName"},
		{"orderly", func(s *spec) { s.nvAttrs |= 1 << 26 }, nil, evidence.ErrBadEvidence, "ORDERLY"},
		{"ordinary index", func(s *spec) { s.nvAttrs &^= 0xF0 }, nil, evidence.ErrBadEvidence, "TPM_NT_COUNTER"},
		{"bits index", func(s *spec) { s.nvAttrs = s.nvAttrs&^0xF0 | 0x20 }, nil, evidence.ErrBadEvidence, "TPM_NT_COUNTER"},
		{"not written", func(s *spec) { s.nvAttrs &^= 1 << 29 }, nil, evidence.ErrBadEvidence, "WRITTEN"},
		{"size 4", func(s *spec) { s.nvSize = 4 }, nil, evidence.ErrBadEvidence, "dataSize"},
		{"not an NV handle", func(s *spec) { s.nvIndex = 0x81000001 }, nil, evidence.ErrBadEvidence, "not an NV index"},
		{"SHA-1 index", func(s *spec) { s.nvNameAlg = 0x0004 }, nil, evidence.ErrBadEvidence, "nameAlg"},
		{"offset 2", func(s *spec) { s.offset = 2 }, nil, evidence.ErrBadEvidence, "offset"},
		{"4 bytes certified", func(s *spec) { s.contents = s.contents[4:] }, nil, evidence.ErrBadEvidence, "8 at offset 0"},
		{"AK not restricted", func(s *spec) { s.akAttrs &^= 1 << 16 }, nil, evidence.ErrBadEvidence, "restricted"},
		{"AK not fixedTPM", func(s *spec) { s.akAttrs &^= 1 << 1 }, nil, evidence.ErrBadEvidence, "fixedTPM"},
		{"AK not sign", func(s *spec) { s.akAttrs &^= 1 << 18 }, nil, evidence.ErrBadEvidence, "sign"},
		{"AK decrypts", func(s *spec) { s.akAttrs |= 1 << 17 }, nil, evidence.ErrBadEvidence, "decrypt"},
		{"AK RSA", func(s *spec) { s.akType = 0x0001 }, nil, evidence.ErrBadEvidence, "TPM_ALG_ECC"},
		{"AK P-384", func(s *spec) { s.akCurve = 0x0004 }, nil, evidence.ErrBadEvidence, "curve"},
		{"AK SHA-384 scheme", func(s *spec) { s.akSchemeHash = algSHA384 }, nil, evidence.ErrBadEvidence, "scheme hash"},
		{"AK ECDAA scheme", func(s *spec) { s.akScheme = 0x001A }, nil, evidence.ErrBadEvidence, "scheme"},
		{"AK symmetric", func(s *spec) { s.akSym = 0x0006 }, nil, evidence.ErrBadEvidence, "symmetric"},
		{"AK kdf", func(s *spec) { s.akKDF = 0x0020 }, nil, evidence.ErrBadEvidence, "kdf"},
		{"AK SHA-1 name", func(s *spec) { s.akNameAlg = 0x0004 }, nil, evidence.ErrBadEvidence, "nameAlg"},
		{"AK point off the curve", func(s *spec) { s.akX, s.akY = bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32) }, nil, evidence.ErrBadEvidence, "ak_public"},
		{"AK x too long", func(s *spec) { s.akX, s.akY = make([]byte, 33), make([]byte, 32) }, nil, evidence.ErrBadEvidence, "unique.x"},
		{"RSA signature", func(s *spec) { s.sigAlg = algRSASSA }, nil, evidence.ErrBadEvidence, "sigAlg"},
		{"SHA-384 signature", func(s *spec) { s.sigHash = algSHA384 }, nil, evidence.ErrBadEvidence, "hash"},
		{"bytes after ak_public", func(s *spec) { s.akTrailer = []byte{0} }, nil, evidence.ErrBadEvidence, "after the end"},
		{"bytes after nv_public", func(s *spec) { s.nvTrailer = []byte{0} }, nil, evidence.ErrBadEvidence, "after the end"},
		{"bytes after attest", func(s *spec) { s.attTrailer = []byte{0} }, nil, evidence.ErrBadEvidence, "after the end"},
		{"bytes after signature", func(s *spec) { s.sigTrailer = []byte{0} }, nil, evidence.ErrBadEvidence, "after the end"},
		{"bad safe flag", func(s *spec) { s.safe = 2 }, nil, evidence.ErrBadEvidence, "safe"},
		{"nonce member not the certified one", func(s *spec) { s.nonceField = []byte("edited") }, nil, evidence.ErrBadEvidence, "nonce member"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := goodSpec()
			if tc.mut != nil {
				tc.mut(s)
			}
			nonce := tc.nonce
			if nonce == nil {
				nonce = s.extraData
			}
			res, err := s.build().Verify(nonce)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %+v, %v; want an error wrapping %v", res, err, tc.want)
			}
			for _, other := range []error{evidence.ErrBadEvidence, evidence.ErrBadSignature, evidence.ErrNonceMismatch} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("error %q also wraps %v", err, other)
				}
			}
			if !strings.HasPrefix(err.Error(), "evidence: ") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q: want the prefix \"evidence: \" and %q", err, tc.msg)
			}
		})
	}
}

// TestVerifyModifiedBytes flips every bit of each signed or named structure
// in turn: nothing modified may verify.
func TestVerifyModifiedBytes(t *testing.T) {
	s := goodSpec()
	good := s.build()
	for _, field := range []string{"ak_public", "nv_public", "attest", "signature"} {
		orig := *fieldOf(good, field)
		for i := range len(orig) * 8 {
			e := *good
			b := bytes.Clone(orig)
			b[i/8] ^= 1 << (i % 8)
			*fieldOf(&e, field) = b
			if res, err := e.Verify(s.extraData); err == nil {
				t.Fatalf("%s with bit %d flipped verified: %+v", field, i, res)
			}
		}
	}
}

func fieldOf(e *evidence.Evidence, name string) *[]byte {
	switch name {
	case "ak_public":
		return &e.AKPublic
	case "nv_public":
		return &e.NVPublic
	case "attest":
		return &e.Attest
	}
	return &e.Signature
}

// TestVerifyTruncated cuts each structure at every length.
func TestVerifyTruncated(t *testing.T) {
	s := goodSpec()
	good := s.build()
	for _, field := range []string{"ak_public", "nv_public", "attest", "signature"} {
		orig := *fieldOf(good, field)
		for n := range len(orig) {
			e := *good
			*fieldOf(&e, field) = orig[:n]
			if _, err := e.Verify(s.extraData); !errors.Is(err, evidence.ErrBadEvidence) && !errors.Is(err, evidence.ErrBadSignature) {
				t.Fatalf("%s cut to %d bytes: %v", field, n, err)
			}
		}
	}
}

func TestMarshalParse(t *testing.T) {
	e := goodSpec().build()
	data, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The members, in the documented order.
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v json.RawMessage
		dec.Decode(&v)
	}
	if got := strings.Join(keys, " "); got != "format nonce ak_public nv_public attest signature created_at" {
		t.Errorf("members %s", got)
	}
	if !bytes.Contains(data, []byte(`"format": "audit-sealer tpm evidence v1"`)) || !bytes.Contains(data, []byte(`"created_at": "2026-11-27T12:00:00Z"`)) {
		t.Errorf("file:\n%s", data)
	}
	p, err := evidence.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Nonce, e.Nonce) || !bytes.Equal(p.AKPublic, e.AKPublic) || !bytes.Equal(p.NVPublic, e.NVPublic) ||
		!bytes.Equal(p.Attest, e.Attest) || !bytes.Equal(p.Signature, e.Signature) || !p.CreatedAt.Equal(e.CreatedAt) {
		t.Errorf("Parse(Marshal(e)) = %+v, want %+v", p, e)
	}
	if _, err := p.Verify(e.Nonce); err != nil {
		t.Error(err)
	}

	for _, bad := range []*evidence.Evidence{
		{Nonce: e.Nonce, AKPublic: e.AKPublic, NVPublic: e.NVPublic, Attest: e.Attest, Signature: e.Signature},
		{Nonce: make([]byte, 65), AKPublic: e.AKPublic, NVPublic: e.NVPublic, Attest: e.Attest, Signature: e.Signature, CreatedAt: e.CreatedAt},
		{Nonce: e.Nonce, NVPublic: e.NVPublic, Attest: e.Attest, Signature: e.Signature, CreatedAt: e.CreatedAt},
	} {
		if _, err := bad.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) succeeded", bad)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good, err := goodSpec().build().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	with := func(k string, v any) []byte {
		c := make(map[string]any)
		for k, v := range m {
			c[k] = v
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		return b
	}
	nonce := m["nonce"].(string)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not an object", []byte(`["format"]`)},
		{"unknown member", with("comment", "hello")},
		{"missing member", with("signature", nil)},
		{"duplicate member", bytes.Replace(good, []byte(`"nonce":`), []byte(`"nonce": "", "nonce":`), 1)},
		{"member in capitals", bytes.Replace(good, []byte(`"nonce":`), []byte(`"NONCE":`), 1)},
		{"member in capitals before", bytes.Replace(good, []byte(`"nonce":`), []byte(`"NONCE": "", "nonce":`), 1)},
		{"member in capitals after", bytes.Replace(good, []byte(`"created_at":`), []byte(`"NONCE": "", "created_at":`), 1)},
		{"member capitalised after", bytes.Replace(good, []byte(`"created_at":`), []byte(`"Nonce": "", "created_at":`), 1)},
		{"format in capitals", bytes.Replace(good, []byte(`"nonce":`), []byte(`"FORMAT": "x", "nonce":`), 1)},
		{"duplicate member escaped", bytes.Replace(good, []byte(`"nonce":`), []byte(`"\u006eonce": "", "nonce":`), 1)},
		{"trailing bracket", append(bytes.Clone(good), ']')},
		{"other format", with("format", "audit-sealer tpm evidence v2")},
		{"number", with("nonce", 12)},
		{"null", bytes.Replace(good, []byte(`"nonce": "`+nonce+`"`), []byte(`"nonce": null`), 1)},
		{"base64 without padding", with("nonce", strings.TrimRight(nonce, "="))},
		{"URL base64", with("ak_public", "_"+m["ak_public"].(string)[1:])},
		{"base64 with a newline", with("attest", m["attest"].(string)[:8]+"\n"+m["attest"].(string)[8:])},
		{"empty ak_public", with("ak_public", "")},
		{"nonce too long", with("nonce", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")},
		{"bad time", with("created_at", "27 Nov 2026")},
		{"trailing data", append(bytes.Clone(good), []byte(`{}`)...)},
		{"too large", append(bytes.Clone(good), bytes.Repeat([]byte(" "), evidence.MaxSize)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := evidence.Parse(tc.data)
			if !errors.Is(err, evidence.ErrBadEvidence) || !strings.HasPrefix(err.Error(), "evidence: ") {
				t.Errorf("Parse = %+v, %v; want an error wrapping ErrBadEvidence", e, err)
			}
		})
	}
	// White space around the object is fine.
	if _, err := evidence.Parse(append([]byte("\n "), append(good, "\n\n"...)...)); err != nil {
		t.Errorf("white space: %v", err)
	}
}

// TestNoTPMLibrary makes sure the package links no TPM library: the offline
// verifier imports it, and must stay pure Go.
func TestNoTPMLibrary(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/audit-sealer/audit-sealer/evidence" && dep != "github.com/audit-sealer/audit-sealer/internal/strictjson" {
			t.Errorf("evidence depends on %s; it may use the standard library (and internal/strictjson) only", dep)
		}
	}
}

// TestParseNamesTheProblem: a case variant beside a member, or a member
// repeated under an escaped name, is refused for what it is, not because
// some later check happens to fail.
func TestParseNamesTheProblem(t *testing.T) {
	good, err := goodSpec().build().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		data []byte
		want error
		msg  string
	}{
		{bytes.Replace(good, []byte(`"created_at":`), []byte(`"NONCE": "AAAA", "created_at":`), 1), strictjson.ErrUnknown, `"NONCE"`},
		{bytes.Replace(good, []byte(`"nonce":`), []byte(`"\u006eonce": "AAAA", "nonce":`), 1), strictjson.ErrDuplicate, `"nonce"`},
		{append(bytes.Clone(good), "{}"...), strictjson.ErrSyntax, "data after the value"},
	} {
		_, err := evidence.Parse(tc.data)
		if !errors.Is(err, evidence.ErrBadEvidence) || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse = %v; want %v naming %s", err, tc.want, tc.msg)
		}
	}
}
