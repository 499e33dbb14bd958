package evidence

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
)

// Result is what a valid evidence file certifies.
type Result struct {
	// Counter is the certified value of the NV counter.
	Counter uint64
	// Index is the NV index handle of the counter (for example 0x01500100).
	Index uint32
	// IndexName is the index's TPM Name (nameAlg || hash of nv_public), the
	// value a verifier pins to recognise the index. It changes when the
	// index is undefined and defined again only if its attributes or name
	// algorithm change; a redefined counter starts above every counter the
	// TPM deleted before, so it never goes down.
	IndexName []byte
	// AKName is the attestation key's TPM Name (nameAlg || hash of
	// ak_public), the value a verifier pins to recognise the TPM.
	AKName []byte
	// ClockMillis is the TPM's clock (milliseconds the TPM has been
	// powered since it was last cleared); ResetCount counts TPM resets
	// (power cycles, TPM2_Startup(CLEAR)) since the last TPM2_Clear, and
	// RestartCount restarts since the last reset; Safe reports that the
	// clock has not gone back since it was last saved to NV.
	ClockMillis  uint64
	ResetCount   uint32
	RestartCount uint32
	Safe         bool
	// FirmwareVersion is the TPM vendor's firmware version.
	FirmwareVersion uint64
	// Nonce is the certified nonce (extraData in attest).
	Nonce []byte
	// NonceChecked reports whether the certified nonce was compared with a
	// nonce the verifier gave. When it is false, the evidence may be as
	// old as the counter value allows: nothing shows it is fresh.
	NonceChecked bool
}

// Verify checks e as the package documentation describes, and returns what
// it certifies. If nonce is not empty, the certified nonce must equal it
// (otherwise the error wraps [ErrNonceMismatch]); if nonce is empty, the
// nonce is not checked and Result.NonceChecked is false. A signature that
// does not verify wraps [ErrBadSignature]; every other failure wraps
// [ErrBadEvidence].
func (e *Evidence) Verify(nonce []byte) (*Result, error) {
	ak, key, err := parseAK(e.AKPublic)
	if err != nil {
		return nil, err
	}

	sig, err := parseECDSASignature(e.Signature)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(e.Attest)
	if !ecdsa.Verify(key, digest[:], new(big.Int).SetBytes(sig.r), new(big.Int).SetBytes(sig.s)) {
		return nil, fmt.Errorf("evidence: the ECDSA signature over attest does not verify with ak_public: %w", ErrBadSignature)
	}

	att, err := parseAttestNV(e.Attest)
	if err != nil {
		return nil, err
	}
	// The TPM names the key that signed in qualifiedSigner. For a primary
	// key of the endorsement hierarchy, the Qualified Name is nameAlg ||
	// H(TPM_RH_ENDORSEMENT || Name). This ties ak_public, every byte of it,
	// to the signed data, and shows the TPM did not obfuscate clockInfo
	// and firmwareVersion (it does for keys of other hierarchies).
	akName := name(ak.nameAlg, e.AKPublic)
	if qn := qualifiedName(ak.nameAlg, rhEndorsement, akName); !bytes.Equal(att.qualifiedSigner, qn) {
		return nil, badf("attest: qualifiedSigner %x is not ak_public as a primary key of the endorsement hierarchy (%x)", att.qualifiedSigner, qn)
	}
	nv, err := parseNVPublic(e.NVPublic)
	if err != nil {
		return nil, err
	}
	if nv.index < nvIndexFirst || nv.index > nvIndexLast {
		return nil, badf("nv_public: handle 0x%08x is not an NV index", nv.index)
	}
	if nt := (nv.attributes & nvTypeMask) >> nvTypeShift; nt != ntCounter {
		return nil, badf("nv_public: index type %d, want TPM_NT_COUNTER (%d)", nt, ntCounter)
	}
	if nv.attributes&nvOrderly != 0 {
		return nil, badf("nv_public: the counter is ORDERLY (it can roll back after TPM2_Clear)")
	}
	if nv.attributes&nvWritten == 0 {
		return nil, badf("nv_public: TPMA_NV_WRITTEN is not set")
	}
	if nv.dataSize != 8 {
		return nil, badf("nv_public: dataSize %d, want 8", nv.dataSize)
	}
	indexName := name(nv.nameAlg, e.NVPublic)
	if !bytes.Equal(att.indexName, indexName) {
		return nil, badf("attest: indexName %x is not the Name of nv_public (%x)", att.indexName, indexName)
	}
	if att.offset != 0 || len(att.nvContents) != 8 {
		return nil, badf("attest: certifies %d bytes at offset %d, want 8 at offset 0", len(att.nvContents), att.offset)
	}
	if !bytes.Equal(att.extraData, e.Nonce) {
		return nil, badf("the nonce member (%x) is not the certified nonce (%x)", e.Nonce, att.extraData)
	}
	checked := len(nonce) > 0
	if checked && !bytes.Equal(att.extraData, nonce) {
		return nil, fmt.Errorf("evidence: certified nonce %x, want %x: %w", att.extraData, nonce, ErrNonceMismatch)
	}
	return &Result{
		Nonce:           att.extraData,
		Counter:         binary.BigEndian.Uint64(att.nvContents),
		Index:           nv.index,
		IndexName:       indexName,
		AKName:          akName,
		ClockMillis:     att.clock,
		ResetCount:      att.resetCount,
		RestartCount:    att.restartCount,
		Safe:            att.safe,
		FirmwareVersion: att.firmwareVersion,
		NonceChecked:    checked,
	}, nil
}

// parseAK parses an AK's public area (ak_public) and checks that it is an
// attestation key as the package documentation describes: a restricted,
// signing-only, fixedTPM ECC P-256 key signing with ECDSA/SHA-256.
func parseAK(akPublic []byte) (*eccPublic, *ecdsa.PublicKey, error) {
	ak, err := parseECCPublic(akPublic)
	if err != nil {
		return nil, nil, err
	}
	const want = objFixedTPM | objRestricted | objSign
	if ak.attributes&want != want || ak.attributes&objDecrypt != 0 {
		return nil, nil, badf("ak_public: attributes 0x%08x: the AK must be fixedTPM, restricted and sign, and not decrypt", ak.attributes)
	}
	if ak.scheme == algECDSA && ak.schemeHash != algSHA256 {
		return nil, nil, badf("ak_public: scheme hash %s, want SHA-256", cryptoHash(ak.schemeHash))
	}
	pt := make([]byte, 65)
	pt[0] = 4
	copy(pt[1+32-len(ak.x):33], ak.x)
	copy(pt[33+32-len(ak.y):], ak.y)
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, nil, badf("ak_public: %v", err)
	}
	return ak, key, nil
}

// AKName checks an AK's public area (a marshalled TPMT_PUBLIC, as in the
// ak_public member of an evidence file and of an audit.tpm_identity record)
// as Verify does, and returns the AK's Name: nameAlg || H_nameAlg(akPublic).
// Every error wraps ErrBadEvidence.
func AKName(akPublic []byte) ([]byte, error) {
	ak, _, err := parseAK(akPublic)
	if err != nil {
		return nil, err
	}
	return name(ak.nameAlg, akPublic), nil
}
