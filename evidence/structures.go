package evidence

import (
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
)

// TPM 2.0 constants (Part 2) used by the structures below.
const (
	algECC    = 0x0023 // TPM_ALG_ECC
	algECDSA  = 0x0018 // TPM_ALG_ECDSA
	algNull   = 0x0010 // TPM_ALG_NULL
	algSHA256 = 0x000B // TPM_ALG_SHA256
	algSHA384 = 0x000C // TPM_ALG_SHA384
	algSHA512 = 0x000D // TPM_ALG_SHA512

	curveNISTP256 = 0x0003 // TPM_ECC_NIST_P256

	generatedValue = 0xFF544347 // TPM_GENERATED_VALUE
	stAttestNV     = 0x8014     // TPM_ST_ATTEST_NV

	// TPMA_OBJECT bits.
	objFixedTPM   = 1 << 1
	objRestricted = 1 << 16
	objDecrypt    = 1 << 17
	objSign       = 1 << 18

	// TPMA_NV bits and fields.
	nvTypeShift  = 4
	nvTypeMask   = 0xF << nvTypeShift
	ntCounter    = 0x1 // TPM_NT_COUNTER
	nvOrderly    = 1 << 26
	nvWritten    = 1 << 29
	nvIndexFirst = 0x01000000
	nvIndexLast  = 0x01FFFFFF

	// The endorsement hierarchy's permanent handle, which is its Name.
	rhEndorsement = 0x4000000B
)

// reader reads big-endian TPM fields from b. The first failure sticks: later
// reads return zero values, and err says where it happened.
type reader struct {
	what string // the structure, for messages
	b    []byte
	off  int
	err  error
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.off {
		r.err = badf("%s: truncated in %s at byte %d", r.what, field, r.off)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8(field string) uint8 {
	if p := r.take(1, field); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16(field string) uint16 {
	if p := r.take(2, field); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if p := r.take(4, field); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if p := r.take(8, field); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

// sized reads a TPM2B: a 2-byte size and at most max bytes.
func (r *reader) sized(field string, max int) []byte {
	n := int(r.u16(field))
	if r.err == nil && n > max {
		r.err = badf("%s: %s is %d bytes, at most %d allowed", r.what, field, n, max)
		return nil
	}
	return r.take(n, field)
}

// fail records err unless an earlier error is already recorded.
func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = badf(r.what+": "+format, args...)
	}
}

// end reports the first error, or an error if bytes are left over.
func (r *reader) end() error {
	if r.err == nil && r.off != len(r.b) {
		r.err = badf("%s: %d bytes after the end of the structure", r.what, len(r.b)-r.off)
	}
	return r.err
}

// nameHash returns the hash for a TPM name algorithm, or nil for an
// algorithm this package does not accept (SHA-1 among them).
func nameHash(alg uint16) func() hash.Hash {
	switch alg {
	case algSHA256:
		return sha256.New
	case algSHA384:
		return sha512.New384
	case algSHA512:
		return sha512.New
	}
	return nil
}

// digestSize returns the digest size of a name algorithm, or 0.
func digestSize(alg uint16) int {
	if h := nameHash(alg); h != nil {
		return h().Size()
	}
	return 0
}

// name computes the TPM Name of an entity whose public area is pub: nameAlg
// (2 bytes) || H_nameAlg(pub).
func name(alg uint16, pub ...[]byte) []byte {
	h := nameHash(alg)()
	for _, p := range pub {
		h.Write(p)
	}
	return h.Sum(binary.BigEndian.AppendUint16(nil, alg))
}

// The largest name: a 2-byte algorithm and a SHA-512 digest.
const maxNameSize = 2 + 64

// eccPublic is the part of a TPMT_PUBLIC for an ECC key that Verify needs.
type eccPublic struct {
	nameAlg    uint16
	attributes uint32
	scheme     uint16 // algECDSA or algNull
	schemeHash uint16 // when scheme is algECDSA
	x, y       []byte
}

// parseECCPublic parses a marshalled TPMT_PUBLIC that must be an ECC NIST
// P-256 key with no symmetric algorithm, an ECDSA or null scheme and a null
// KDF, and nothing after it.
func parseECCPublic(b []byte) (*eccPublic, error) {
	r := &reader{what: "ak_public", b: b}
	p := new(eccPublic)
	if typ := r.u16("type"); r.err == nil && typ != algECC {
		r.fail("type 0x%04x, want TPM_ALG_ECC (0x%04x)", typ, algECC)
	}
	p.nameAlg = r.u16("nameAlg")
	if r.err == nil && nameHash(p.nameAlg) == nil {
		r.fail("nameAlg 0x%04x is not SHA-256, SHA-384 or SHA-512", p.nameAlg)
	}
	p.attributes = r.u32("objectAttributes")
	r.sized("authPolicy", 64)
	if sym := r.u16("symmetric"); r.err == nil && sym != algNull {
		r.fail("symmetric algorithm 0x%04x, want TPM_ALG_NULL", sym)
	}
	p.scheme = r.u16("scheme")
	switch {
	case r.err != nil:
	case p.scheme == algECDSA:
		p.schemeHash = r.u16("scheme hash")
	case p.scheme != algNull:
		r.fail("scheme 0x%04x, want TPM_ALG_ECDSA or TPM_ALG_NULL", p.scheme)
	}
	if curve := r.u16("curveID"); r.err == nil && curve != curveNISTP256 {
		r.fail("curve 0x%04x, want TPM_ECC_NIST_P256 (0x%04x)", curve, curveNISTP256)
	}
	if kdf := r.u16("kdf"); r.err == nil && kdf != algNull {
		r.fail("kdf 0x%04x, want TPM_ALG_NULL", kdf)
	}
	p.x = r.sized("unique.x", 32)
	p.y = r.sized("unique.y", 32)
	if err := r.end(); err != nil {
		return nil, err
	}
	return p, nil
}

// nvPublic is a parsed TPMS_NV_PUBLIC.
type nvPublic struct {
	index      uint32
	nameAlg    uint16
	attributes uint32
	authPolicy []byte
	dataSize   uint16
}

func parseNVPublic(b []byte) (*nvPublic, error) {
	r := &reader{what: "nv_public", b: b}
	p := &nvPublic{
		index:      r.u32("nvIndex"),
		nameAlg:    r.u16("nameAlg"),
		attributes: r.u32("attributes"),
		authPolicy: r.sized("authPolicy", 64),
		dataSize:   r.u16("dataSize"),
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	if nameHash(p.nameAlg) == nil {
		return nil, badf("nv_public: nameAlg 0x%04x is not SHA-256, SHA-384 or SHA-512", p.nameAlg)
	}
	return p, nil
}

// attestNV is a parsed TPMS_ATTEST of type TPM_ST_ATTEST_NV.
type attestNV struct {
	qualifiedSigner []byte
	extraData       []byte
	clock           uint64
	resetCount      uint32
	restartCount    uint32
	safe            bool
	firmwareVersion uint64
	indexName       []byte
	offset          uint16
	nvContents      []byte
}

func parseAttestNV(b []byte) (*attestNV, error) {
	r := &reader{what: "attest", b: b}
	if magic := r.u32("magic"); r.err == nil && magic != generatedValue {
		r.fail("magic 0x%08x, want TPM_GENERATED_VALUE (0x%08x)", magic, uint32(generatedValue))
	}
	if typ := r.u16("type"); r.err == nil && typ != stAttestNV {
		r.fail("type 0x%04x, want TPM_ST_ATTEST_NV (0x%04x)", typ, stAttestNV)
	}
	a := new(attestNV)
	a.qualifiedSigner = r.sized("qualifiedSigner", maxNameSize)
	a.extraData = r.sized("extraData", MaxNonceSize)
	a.clock = r.u64("clockInfo.clock")
	a.resetCount = r.u32("clockInfo.resetCount")
	a.restartCount = r.u32("clockInfo.restartCount")
	switch safe := r.u8("clockInfo.safe"); {
	case r.err != nil:
	case safe > 1:
		r.fail("clockInfo.safe is %d, want 0 or 1", safe)
	default:
		a.safe = safe == 1
	}
	a.firmwareVersion = r.u64("firmwareVersion")
	a.indexName = r.sized("indexName", maxNameSize)
	a.offset = r.u16("offset")
	a.nvContents = r.sized("nvContents", 2048)
	if err := r.end(); err != nil {
		return nil, err
	}
	return a, nil
}

// ecdsaSignature is a parsed TPMT_SIGNATURE with sigAlg TPM_ALG_ECDSA.
type ecdsaSignature struct {
	hash uint16
	r, s []byte
}

func parseECDSASignature(b []byte) (*ecdsaSignature, error) {
	r := &reader{what: "signature", b: b}
	if alg := r.u16("sigAlg"); r.err == nil && alg != algECDSA {
		r.fail("sigAlg 0x%04x, want TPM_ALG_ECDSA (0x%04x)", alg, algECDSA)
	}
	s := &ecdsaSignature{hash: r.u16("hash")}
	if r.err == nil && s.hash != algSHA256 {
		r.fail("hash 0x%04x, want TPM_ALG_SHA256 (0x%04x)", s.hash, algSHA256)
	}
	s.r = r.sized("signatureR", 32)
	s.s = r.sized("signatureS", 32)
	if err := r.end(); err != nil {
		return nil, err
	}
	return s, nil
}

// qualifiedName returns the Qualified Name of a primary key of the
// hierarchy whose permanent handle is hierarchy: nameAlg ||
// H_nameAlg(hierarchy (4 bytes) || Name). (The Qualified Name of a
// hierarchy is its handle.)
func qualifiedName(nameAlg uint16, hierarchy uint32, akName []byte) []byte {
	return name(nameAlg, binary.BigEndian.AppendUint32(nil, hierarchy), akName)
}

// cryptoHash maps TPM hash algorithms to crypto.Hash, for messages.
func cryptoHash(alg uint16) string {
	switch alg {
	case algSHA256:
		return crypto.SHA256.String()
	case algSHA384:
		return crypto.SHA384.String()
	case algSHA512:
		return crypto.SHA512.String()
	}
	return fmt.Sprintf("0x%04x", alg)
}
