package evidence

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// MaxCredentialSize is the largest credential MakeCredential protects: a
// TPM2B_DIGEST of the endorsement key's name algorithm (SHA-256).
const MaxCredentialSize = sha256.Size

// ErrUnsupportedEK is wrapped when an endorsement key is of a type this
// package cannot make a credential for: anything but RSA 2048 and ECC NIST
// P-256 (the TCG default EK templates L-1 and L-2).
var ErrUnsupportedEK = errors.New("unsupported endorsement key")

// ErrFIPSOnly is wrapped by MakeCredential in FIPS 140-only mode
// (GODEBUG=fips140=only): TPM 2.0 protects a credential with AES-128 in CFB
// mode, which the Go Cryptographic Module does not provide (crypto/cipher
// panics on CFB in that mode). Make the challenge in a process without
// fips140=only; checking the evidence that answers it needs no CFB.
var ErrFIPSOnly = errors.New("the TPM credential protocol's AES-CFB is outside the Go Cryptographic Module, and FIPS 140-only mode refuses it")

// MakeCredential is TPM2_MakeCredential in software (TPM 2.0 Part 1 §24,
// "Credential Protection"; Part 3 §12.6): it protects credential (1 to
// MaxCredentialSize bytes) so that only the TPM that holds the private half
// of ek recovers it, with TPM2_ActivateCredential, and only while the
// object whose Name is name (the attestation key) is loaded in that same
// TPM. ek must be the public key of an endorsement key created from the TCG
// default template for its type (TCG EK Credential Profile, templates L-1
// and L-2): RSA 2048 (*rsa.PublicKey), whose seed is encrypted with
// RSA-OAEP, or ECC NIST P-256 (*ecdsa.PublicKey or *ecdh.PublicKey), whose
// seed comes from one-pass ECDH with an ephemeral key; both templates name
// with SHA-256 and protect with AES-128 in CFB mode. random supplies the
// seed (RSA) or the ephemeral key (ECC). It returns the credential blob
// (the contents of a TPM2B_ID_OBJECT: outer HMAC as a TPM2B_DIGEST, then the
// encrypted credential) and the encrypted seed (the contents of a
// TPM2B_ENCRYPTED_SECRET), the two parameters of TPM2_ActivateCredential.
//
// The construction, with H = SHA-256 and KDFa, KDFe from Part 1 §11.4.10:
//
//	seed         RSA: 32 random bytes, sent as RSA-OAEP(ek, seed, label "IDENTITY\0", SHA-256)
//	             ECC: KDFe(H, Z, "IDENTITY", ephemeral.x, ek.x, 256), Z the ECDH shared x;
//	             sent as the ephemeral point (TPMS_ECC_POINT)
//	symKey       KDFa(H, seed, "STORAGE", name, "", 128)
//	encIdentity  AES-128-CFB(symKey, IV = 0, uint16(len(credential)) || credential)
//	hmacKey      KDFa(H, seed, "INTEGRITY", "", "", 256)
//	blob         uint16(32) || HMAC-H(hmacKey, encIdentity || name) || encIdentity
//
// In FIPS 140-only mode (GODEBUG=fips140=only) it returns an error wrapping
// ErrFIPSOnly and does nothing: the AES-CFB the protocol requires is not in
// the Go Cryptographic Module.
func MakeCredential(random io.Reader, ek any, name, credential []byte) (blob, encSecret []byte, err error) {
	if fips140.Enforced() {
		return nil, nil, fmt.Errorf("evidence: make credential: %w (TPM 2.0 Part 1 §24.4); make the challenge without GODEBUG=fips140=only", ErrFIPSOnly)
	}
	if len(credential) == 0 || len(credential) > MaxCredentialSize {
		return nil, nil, fmt.Errorf("evidence: make credential: the credential is %d bytes, want 1 to %d", len(credential), MaxCredentialSize)
	}
	if len(name) == 0 || len(name) > maxNameSize {
		return nil, nil, fmt.Errorf("evidence: make credential: the name is %d bytes, want 1 to %d", len(name), maxNameSize)
	}
	var seed []byte
	switch k := ek.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() != 2048 {
			return nil, nil, fmt.Errorf("evidence: make credential: %w: RSA key of %d bits, want 2048", ErrUnsupportedEK, k.N.BitLen())
		}
		seed = make([]byte, sha256.Size)
		if _, err := io.ReadFull(random, seed); err != nil {
			return nil, nil, fmt.Errorf("evidence: make credential: %w", err)
		}
		encSecret, err = rsa.EncryptOAEP(sha256.New(), random, k, seed, []byte(labelIdentity+"\x00"))
		if err != nil {
			return nil, nil, fmt.Errorf("evidence: make credential: %w", err)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, nil, fmt.Errorf("evidence: make credential: %w: ECC curve %s, want P-256", ErrUnsupportedEK, k.Curve.Params().Name)
		}
		pub, err := k.ECDH()
		if err != nil {
			return nil, nil, fmt.Errorf("evidence: make credential: %w", err)
		}
		return MakeCredential(random, pub, name, credential)
	case *ecdh.PublicKey:
		if k.Curve() != ecdh.P256() {
			return nil, nil, fmt.Errorf("evidence: make credential: %w: ECDH curve %v, want P-256", ErrUnsupportedEK, k.Curve())
		}
		eph, err := ecdh.P256().GenerateKey(random)
		if err != nil {
			return nil, nil, fmt.Errorf("evidence: make credential: %w", err)
		}
		z, err := eph.ECDH(k)
		if err != nil {
			return nil, nil, fmt.Errorf("evidence: make credential: %w", err)
		}
		ephPoint, ekPoint := eph.PublicKey().Bytes(), k.Bytes() // 04 || x || y, 32 bytes each
		ephX, ephY, ekX := ephPoint[1:33], ephPoint[33:], ekPoint[1:33]
		seed = kdfe(sha256.New, z, labelIdentity, ephX, ekX, 256)
		encSecret = binary.BigEndian.AppendUint16(nil, uint16(len(ephX)))
		encSecret = append(encSecret, ephX...)
		encSecret = binary.BigEndian.AppendUint16(encSecret, uint16(len(ephY)))
		encSecret = append(encSecret, ephY...)
	default:
		return nil, nil, fmt.Errorf("evidence: make credential: %w: %T", ErrUnsupportedEK, ek)
	}

	block, err := aes.NewCipher(kdfa(sha256.New, seed, labelStorage, name, nil, 128))
	if err != nil {
		return nil, nil, fmt.Errorf("evidence: make credential: %w", err)
	}
	plain := binary.BigEndian.AppendUint16(nil, uint16(len(credential)))
	plain = append(plain, credential...)
	encIdentity := make([]byte, len(plain))
	cipher.NewCFBEncrypter(block, make([]byte, aes.BlockSize)).XORKeyStream(encIdentity, plain)

	mac := hmac.New(sha256.New, kdfa(sha256.New, seed, labelIntegrity, nil, nil, 8*sha256.Size))
	mac.Write(encIdentity)
	mac.Write(name)
	blob = binary.BigEndian.AppendUint16(nil, sha256.Size)
	blob = mac.Sum(blob)
	blob = append(blob, encIdentity...)
	return blob, encSecret, nil
}

// The labels of Part 1 §24 (each followed by a zero byte where a KDF uses it).
const (
	labelIdentity  = "IDENTITY"
	labelStorage   = "STORAGE"
	labelIntegrity = "INTEGRITY"
)

// kdfa is KDFa (TPM 2.0 Part 1 §11.4.10.2, NIST SP 800-108 in counter mode
// with HMAC): bits of output from the HMAC of counter (4 bytes) || label ||
// 0x00 || contextU || contextV || bits (4 bytes), for counter = 1, 2, ...
func kdfa(h func() hash.Hash, key []byte, label string, contextU, contextV []byte, bits int) []byte {
	mac := hmac.New(h, key)
	return kdf(mac, bits, func() {
		mac.Write([]byte(label))
		mac.Write([]byte{0})
		mac.Write(contextU)
		mac.Write(contextV)
		mac.Write(binary.BigEndian.AppendUint32(nil, uint32(bits)))
	})
}

// kdfe is KDFe (TPM 2.0 Part 1 §11.4.10.3, NIST SP 800-56A's concatenation
// KDF): bits of output from the hash of counter (4 bytes) || Z || use ||
// 0x00 || partyUInfo || partyVInfo, for counter = 1, 2, ...
func kdfe(h func() hash.Hash, z []byte, use string, partyUInfo, partyVInfo []byte, bits int) []byte {
	d := h()
	return kdf(d, bits, func() {
		d.Write(z)
		d.Write([]byte(use))
		d.Write([]byte{0})
		d.Write(partyUInfo)
		d.Write(partyVInfo)
	})
}

// kdf runs the counter loop shared by KDFa and KDFe: it resets h, writes the
// counter, calls update for the rest of the block, and appends the digest,
// until there are enough bytes; unused high bits of the first byte are
// cleared (Part 1 §11.4.10.1).
func kdf(h hash.Hash, bits int, update func()) []byte {
	n := (bits + 7) / 8
	var out []byte
	for counter := uint32(1); len(out) < n; counter++ {
		h.Reset()
		h.Write(binary.BigEndian.AppendUint32(nil, counter))
		update()
		out = h.Sum(out)
	}
	out = out[:n]
	if r := bits % 8; r != 0 {
		out[0] &= 1<<r - 1
	}
	return out
}
