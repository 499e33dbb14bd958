package signer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// C2SP signed-note signature type identifiers.
const (
	noteTypeEd25519 = 0x01
	noteTypeECDSA   = 0x02
)

// DefaultKeyName is the note key name used when none is configured. It only
// labels signature lines; the key ID and the public key decide trust.
const DefaultKeyName = "audit-sealer"

// PublicKey is a checkpoint verification key as an auditor holds it.
type PublicKey struct {
	// Name is the signed-note key name. A key read from PEM has no name of
	// its own and matches signature lines of any name (see Verifiers).
	Name      string
	Algorithm Algorithm
	// Ed25519 or ECDSA holds the key, according to Algorithm.
	Ed25519 ed25519.PublicKey
	ECDSA   *ecdsa.PublicKey
}

// ErrBadKey is wrapped by every key parsing error.
var ErrBadKey = errors.New("signer: bad public key")

// NewEd25519PublicKey returns the PublicKey of an Ed25519 key.
func NewEd25519PublicKey(name string, key ed25519.PublicKey) PublicKey {
	return PublicKey{Name: name, Algorithm: Ed25519, Ed25519: append(ed25519.PublicKey(nil), key...)}
}

// NewECDSAPublicKey returns the PublicKey of an ECDSA P-256 key.
func NewECDSAPublicKey(name string, key *ecdsa.PublicKey) (PublicKey, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return PublicKey{}, fmt.Errorf("%w: ecdsa key is not on P-256", ErrBadKey)
	}
	return PublicKey{Name: name, Algorithm: ECDSAP256, ECDSA: key}, nil
}

// Raw returns the public key bytes: 32 bytes for Ed25519, the 65-byte
// uncompressed point for ECDSA P-256.
func (k PublicKey) Raw() []byte {
	switch k.Algorithm {
	case Ed25519:
		return append([]byte(nil), k.Ed25519...)
	case ECDSAP256:
		b, err := k.ECDSA.Bytes()
		if err != nil {
			panic("signer: invalid ecdsa key in PublicKey") // construction checks the curve
		}
		return b
	}
	return nil
}

// SPKI returns the DER SubjectPublicKeyInfo encoding of the key.
func (k PublicKey) SPKI() []byte {
	var pub any = k.Ed25519
	if k.Algorithm == ECDSAP256 {
		pub = k.ECDSA
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic("signer: cannot marshal public key: " + err.Error())
	}
	return der
}

// ID returns a stable identifier of the key for logs, status and the key
// history: lowercase hex of the first 16 bytes of SHA-256 of its DER
// SubjectPublicKeyInfo. It does not depend on the key name.
func (k PublicKey) ID() string {
	sum := sha256.Sum256(k.SPKI())
	return hex.EncodeToString(sum[:16])
}

// KeyHash returns the C2SP signed-note key ID of the key under name.
func (k PublicKey) KeyHash(name string) uint32 {
	var sum [32]byte
	switch k.Algorithm {
	case Ed25519:
		sum = sha256.Sum256(append(append([]byte(name+"\n"), noteTypeEd25519), k.Ed25519...))
	case ECDSAP256:
		sum = sha256.Sum256(k.SPKI())
	}
	return binary.BigEndian.Uint32(sum[:4])
}

// VerifierKey returns the note verifier key text "name+hash+base64(type||key)".
// For ECDSA the key bytes are the DER SubjectPublicKeyInfo.
func (k PublicKey) VerifierKey() string {
	name := k.Name
	if name == "" {
		name = DefaultKeyName
	}
	var body []byte
	switch k.Algorithm {
	case Ed25519:
		body = append([]byte{noteTypeEd25519}, k.Ed25519...)
	case ECDSAP256:
		body = append([]byte{noteTypeECDSA}, k.SPKI()...)
	}
	return fmt.Sprintf("%s+%08x+%s", name, k.KeyHash(name), base64.StdEncoding.EncodeToString(body))
}

// MarshalPEM returns the key as a PEM "PUBLIC KEY" block (SubjectPublicKeyInfo),
// the form openssl reads.
func (k PublicKey) MarshalPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.SPKI()})
}

// Equal reports whether k and o are the same key (names are not compared).
func (k PublicKey) Equal(o PublicKey) bool {
	return k.Algorithm == o.Algorithm && bytes.Equal(k.SPKI(), o.SPKI())
}

// ParsePublicKey parses a PEM "PUBLIC KEY" block (Ed25519 or ECDSA P-256) or a
// note verifier key. Surrounding white space is ignored.
func ParsePublicKey(data []byte) (PublicKey, error) {
	data = bytes.TrimSpace(data)
	if bytes.HasPrefix(data, []byte("-----BEGIN")) {
		block, rest := pem.Decode(data)
		if block == nil {
			return PublicKey{}, fmt.Errorf("%w: malformed PEM", ErrBadKey)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return PublicKey{}, fmt.Errorf("%w: trailing data after PEM block", ErrBadKey)
		}
		if block.Type != "PUBLIC KEY" {
			return PublicKey{}, fmt.Errorf("%w: PEM block type %q, want PUBLIC KEY", ErrBadKey, block.Type)
		}
		return parseSPKI("", block.Bytes)
	}
	return ParseVerifierKey(string(data))
}

func parseSPKI(name string, der []byte) (PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return NewEd25519PublicKey(name, p), nil
	case *ecdsa.PublicKey:
		return NewECDSAPublicKey(name, p)
	}
	return PublicKey{}, fmt.Errorf("%w: unsupported key type %T", ErrBadKey, pub)
}

// ParseVerifierKey parses a note verifier key "name+hash+base64(type||key)".
func ParseVerifierKey(vkey string) (PublicKey, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validKeyName(name) || len(hash16) != 8 {
		return PublicKey{}, fmt.Errorf("%w: malformed verifier key", ErrBadKey)
	}
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	body, err2 := base64.StdEncoding.Strict().DecodeString(key64)
	if err1 != nil || err2 != nil || len(body) < 2 {
		return PublicKey{}, fmt.Errorf("%w: malformed verifier key", ErrBadKey)
	}
	var k PublicKey
	var err error
	switch body[0] {
	case noteTypeEd25519:
		if len(body) != 1+ed25519.PublicKeySize {
			return PublicKey{}, fmt.Errorf("%w: ed25519 key of %d bytes", ErrBadKey, len(body)-1)
		}
		k = NewEd25519PublicKey(name, body[1:])
	case noteTypeECDSA:
		k, err = parseSPKI(name, body[1:])
		if err != nil {
			return PublicKey{}, err
		}
		if k.Algorithm != ECDSAP256 {
			return PublicKey{}, fmt.Errorf("%w: signature type 0x02 with a non-ECDSA key", ErrBadKey)
		}
	default:
		return PublicKey{}, fmt.Errorf("%w: unknown signature type 0x%02x", ErrBadKey, body[0])
	}
	if uint32(hash) != k.KeyHash(name) {
		return PublicKey{}, fmt.Errorf("%w: verifier key hash does not match the key", ErrBadKey)
	}
	return k, nil
}

// validKeyName reports whether name is a valid signed-note key name:
// non-empty, no Unicode spaces, no '+'.
func validKeyName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if unicode.IsSpace(r) || r == '+' || r < 0x20 {
			return false
		}
	}
	return true
}

// ValidKeyName reports whether name may be used as a signed-note key name.
func ValidKeyName(name string) bool { return validKeyName(name) }

// PublicKeyFromRaw builds a PublicKey from the algorithm and the bytes Raw
// returns (32 bytes for Ed25519, the 65-byte uncompressed point for ECDSA
// P-256), as the audit.key_introduced record carries them.
func PublicKeyFromRaw(name string, alg Algorithm, raw []byte) (PublicKey, error) {
	switch alg {
	case Ed25519:
		if len(raw) != ed25519.PublicKeySize {
			return PublicKey{}, fmt.Errorf("%w: ed25519 key of %d bytes", ErrBadKey, len(raw))
		}
		return NewEd25519PublicKey(name, raw), nil
	case ECDSAP256:
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return PublicKey{}, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		return NewECDSAPublicKey(name, k)
	}
	return PublicKey{}, fmt.Errorf("%w: unknown algorithm %q", ErrBadKey, alg)
}

// Contains reports whether vs holds k (names aside).
func (vs Verifiers) Contains(k PublicKey) bool {
	for _, v := range vs {
		if v.Equal(k) {
			return true
		}
	}
	return false
}

// LoadPublicKeys reads trusted public keys from files (PEM or note verifier
// keys), naming the file in any error.
func LoadPublicKeys(files []string) (Verifiers, error) {
	var vs Verifiers
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("signer: %w", err)
		}
		k, err := ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		vs = append(vs, k)
	}
	return vs, nil
}
