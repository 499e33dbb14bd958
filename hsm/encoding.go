package hsm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/asn1"
	"math/big"

	"github.com/audit-sealer/audit-sealer/signer"
)

// CKA_EC_PARAMS values. Ed25519 has two encodings in the wild (PKCS#11 v3.0
// allows both): the OID 1.3.101.112 and the PrintableString "edwards25519".
// SoftHSM2 2.6.1 accepts both, stores the public key's as given, and always
// reads the private key's back as the PrintableString.
var (
	paramsEd25519OID    = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}
	paramsEd25519String = append([]byte{0x13, 0x0c}, "edwards25519"...)
	paramsP256          = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
)

// curveOfParams names the curve of a CKA_EC_PARAMS value: "ed25519", "p256",
// or "" for anything else.
func curveOfParams(p []byte) string {
	switch {
	case bytes.Equal(p, paramsEd25519OID), bytes.Equal(p, paramsEd25519String):
		return "ed25519"
	case bytes.Equal(p, paramsP256):
		return "p256"
	}
	return ""
}

// unwrapPoint returns the raw point of a CKA_EC_POINT value of n raw bytes.
// PKCS#11 says the value is a DER OCTET STRING (SoftHSM2: 04 20 || 32 bytes
// for Ed25519, 04 41 || 04 X Y for P-256); some tokens return the raw bytes.
// Lengths tell the two apart without ambiguity.
func unwrapPoint(v []byte, n int) ([]byte, bool) {
	switch {
	case len(v) == n:
		return v, true
	case len(v) == n+2 && v[0] == 0x04 && int(v[1]) == n && n < 0x80:
		return v[2:], true
	}
	return nil, false
}

// publicFromToken builds the signer.PublicKey from a public key object's
// CKA_EC_PARAMS and CKA_EC_POINT.
func publicFromToken(name string, params, point []byte) (signer.PublicKey, error) {
	switch curveOfParams(params) {
	case "ed25519":
		raw, ok := unwrapPoint(point, ed25519.PublicKeySize)
		if !ok {
			return signer.PublicKey{}, errorf(kinds(ErrUnsupportedKey), "hsm: malformed Ed25519 CKA_EC_POINT %x", point)
		}
		return signer.NewEd25519PublicKey(name, raw), nil
	case "p256":
		raw, ok := unwrapPoint(point, 65)
		if !ok {
			return signer.PublicKey{}, errorf(kinds(ErrUnsupportedKey), "hsm: malformed P-256 CKA_EC_POINT %x", point)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return signer.PublicKey{}, errorf(kinds(ErrUnsupportedKey), "hsm: P-256 CKA_EC_POINT: %w", err)
		}
		return signer.NewECDSAPublicKey(name, pub)
	}
	return signer.PublicKey{}, errorf(kinds(ErrUnsupportedKey), "hsm: curve with CKA_EC_PARAMS %x is not Ed25519 or P-256", params)
}

// ecdsaDER converts a PKCS#11 CKM_ECDSA signature (r||s, each the size of
// the curve order: 32 bytes for P-256) to ASN.1 DER.
func ecdsaDER(rs []byte) ([]byte, bool) {
	if len(rs) != 64 {
		return nil, false
	}
	r := new(big.Int).SetBytes(rs[:32])
	s := new(big.Int).SetBytes(rs[32:])
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	return der, err == nil
}
