package signer

import (
	"errors"
	"fmt"
)

// Algorithm names a checkpoint signature algorithm.
type Algorithm string

// The supported algorithms.
const (
	Ed25519   Algorithm = "ed25519"
	ECDSAP256 Algorithm = "ecdsa-p256"
)

// Kind says where a signing key lives. It is written into every checkpoint so
// that a verifier can demand a hardware-held key.
type Kind string

// The kinds of signing key.
const (
	// Software is a key in a file, for development (--dev) and tests only.
	Software Kind = "software"
	// PKCS11 is a non-extractable key inside a PKCS#11 token (an HSM).
	PKCS11 Kind = "pkcs11"
)

// ParseAlgorithm returns the Algorithm named s.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(s); a {
	case Ed25519, ECDSAP256:
		return a, nil
	}
	return "", fmt.Errorf("signer: unknown algorithm %q (want ed25519 or ecdsa-p256)", s)
}

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case Software, PKCS11:
		return k, nil
	}
	return "", fmt.Errorf("signer: unknown key kind %q (want software or pkcs11)", s)
}

// Signer signs checkpoint note text with one key.
//
// Sign returns the algorithm's raw signature over msg (for Ed25519 the 64-byte
// RFC 8032 signature of msg; for ECDSA P-256 the ASN.1 DER signature of
// SHA-256(msg)). Implementations must be safe for concurrent use; a signer
// backed by hardware returns an error wrapping ErrUnavailable when the device
// cannot be reached, so that the caller can retry later without losing data.
type Signer interface {
	Public() PublicKey
	Kind() Kind
	Sign(msg []byte) ([]byte, error)
}

// ErrUnavailable is wrapped by signing errors that may go away on their own
// (a token removed, a session lost); the sealer keeps records durable and
// retries sealing later.
var ErrUnavailable = errors.New("signer: signing key unavailable")
