package witness

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SigTypeCosignatureV1 is the signed-note signature type of an Ed25519
// cosignature/v1 key (c2sp.org/tlog-cosignature): the byte that opens the
// key material of its verifier key and enters its key ID.
const SigTypeCosignatureV1 = 0x04

// cosignatureSize is the size of a cosignature/v1 signature after its key
// ID: the uint64 timestamp and the Ed25519 signature.
const cosignatureSize = 8 + ed25519.SignatureSize

// Errors of ParseVerifierKey, ParseCosignature and VerifyCosignature.
var (
	ErrBadVerifierKey       = errors.New("witness: bad verifier key")
	ErrMalformedCosignature = errors.New("witness: malformed cosignature line")
	ErrBadCosignature       = errors.New("witness: cosignature does not verify")
)

// Verifier checks the cosignatures of one witness key: an Ed25519 key that
// signs cosignature/v1 messages. It implements note.Verifier of
// golang.org/x/mod/sumdb/note, so note.Open verifies a checkpoint's
// cosignature with it (a witness's cosignature is a note signature over the
// checkpoint's text whose signature bytes are timestamp || Ed25519
// signature, see Verify).
type Verifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

// NewVerifier returns the Verifier of the witness key key under name.
func NewVerifier(name string, key ed25519.PublicKey) (*Verifier, error) {
	if !validName(name) {
		return nil, fmt.Errorf("%w: invalid key name %q", ErrBadVerifierKey, name)
	}
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: ed25519 key of %d bytes", ErrBadVerifierKey, len(key))
	}
	k := append(ed25519.PublicKey(nil), key...)
	return &Verifier{name: name, hash: keyHash(name, k), key: k}, nil
}

// ParseVerifierKey parses a witness's verifier key, as litewitness prints it
// when it starts: "name+hash+base64(0x04 || 32-byte Ed25519 key)", hash being
// the key ID in 8 lowercase hexadecimal digits, SHA-256(name || "\n" || 0x04
// || key)[:4] (c2sp.org/tlog-cosignature; the signed-note vkey encoding).
// It is strict: canonical base64, the key ID must match, and any other
// signature type is refused (0x01, a log's Ed25519 note key, does not sign
// cosignatures; 0x06, ML-DSA-44 cosignatures, is not supported).
func ParseVerifierKey(vkey string) (*Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: want name+hash+key", ErrBadVerifierKey)
	}
	hash, err := strconv.ParseUint(hash16, 16, 32)
	if err != nil || len(hash16) != 8 || strings.ToLower(hash16) != hash16 {
		return nil, fmt.Errorf("%w: key ID %q is not 8 lowercase hexadecimal digits", ErrBadVerifierKey, hash16)
	}
	body, err := decodeBase64(key64)
	if err != nil || len(body) == 0 {
		return nil, fmt.Errorf("%w: key is not canonical base64", ErrBadVerifierKey)
	}
	if body[0] != SigTypeCosignatureV1 {
		return nil, fmt.Errorf("%w: signature type 0x%02x, want 0x%02x (an Ed25519 cosignature/v1 key)", ErrBadVerifierKey, body[0], SigTypeCosignatureV1)
	}
	v, err := NewVerifier(name, body[1:])
	if err != nil {
		return nil, err
	}
	if uint32(hash) != v.hash {
		return nil, fmt.Errorf("%w: key ID %s does not match the key (%08x)", ErrBadVerifierKey, hash16, v.hash)
	}
	return v, nil
}

// Name returns the witness's key name.
func (v *Verifier) Name() string { return v.name }

// KeyHash returns the key ID: the first 4 bytes of SHA-256(name || "\n" ||
// 0x04 || key), big-endian.
func (v *Verifier) KeyHash() uint32 { return v.hash }

// PublicKey returns the witness's Ed25519 public key.
func (v *Verifier) PublicKey() ed25519.PublicKey { return append(ed25519.PublicKey(nil), v.key...) }

// String returns the verifier key, in the form ParseVerifierKey reads.
func (v *Verifier) String() string {
	return fmt.Sprintf("%s+%08x+%s", v.name, v.hash,
		base64.StdEncoding.EncodeToString(append([]byte{SigTypeCosignatureV1}, v.key...)))
}

// Verify implements note.Verifier: it reports whether sig, the signature
// bytes of a cosignature line after the key ID (an 8-byte big-endian
// timestamp then a 64-byte Ed25519 signature), is v's cosignature of the
// note text msg at that timestamp. A timestamp above 2^63-1 never verifies.
func (v *Verifier) Verify(msg, sig []byte) bool {
	if len(sig) != cosignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t > math.MaxInt64 {
		return false
	}
	return ed25519.Verify(v.key, SignedMessage(msg, t), sig[8:])
}

// VerifyCosignature checks that c is v's valid cosignature of the checkpoint
// note text (the text only, up to and including its last newline, without
// signature lines). It fails with ErrBadCosignature when c is by another key
// (name or key ID) or its signature does not verify.
func (v *Verifier) VerifyCosignature(text []byte, c Cosignature) error {
	if c.Name != v.name || c.KeyHash != v.hash {
		return fmt.Errorf("%w: by %s+%08x, not by %s+%08x", ErrBadCosignature, c.Name, c.KeyHash, v.name, v.hash)
	}
	if !v.Verify(text, c.sigBytes()) {
		return fmt.Errorf("%w: %s+%08x at time %d", ErrBadCosignature, c.Name, c.KeyHash, c.Timestamp)
	}
	return nil
}

// SignedMessage returns the message an Ed25519 cosignature/v1 signs for the
// checkpoint note text at timestamp t (seconds since the Unix epoch):
// "cosignature/v1\ntime <t>\n" followed by the whole text, extension lines
// included (c2sp.org/tlog-cosignature, FORMAT.md §5.6).
func SignedMessage(text []byte, t uint64) []byte {
	head := "cosignature/v1\ntime " + strconv.FormatUint(t, 10) + "\n"
	return append([]byte(head), text...)
}

// Cosignature is one cosignature line: a note signature line by a witness
// key whose signature is a timestamped Ed25519 signature.
type Cosignature struct {
	Name      string
	KeyHash   uint32
	Timestamp uint64 // seconds since the Unix epoch, when the witness signed
	Signature []byte // the 64-byte Ed25519 signature
}

// Time returns the timestamp as a time.
func (c Cosignature) Time() time.Time { return time.Unix(int64(c.Timestamp), 0).UTC() }

// sigBytes returns the signature after the key ID: timestamp || signature.
func (c Cosignature) sigBytes() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, cosignatureSize), c.Timestamp)
	return append(b, c.Signature...)
}

// Line returns the signature line, "— <name> <base64(key ID || timestamp ||
// signature)>" with its final newline, as it is appended to a signed note.
func (c Cosignature) Line() string {
	b := binary.BigEndian.AppendUint32(nil, c.KeyHash)
	return "\u2014 " + c.Name + " " + base64.StdEncoding.EncodeToString(append(b, c.sigBytes()...)) + "\n"
}

// ParseCosignature parses one cosignature line, with or without its final
// newline: an em dash (U+2014), a space, a valid key name, a space, and the
// canonical base64 of exactly 4 + 8 + 64 bytes. It checks the form only; a
// Verifier checks the signature.
func ParseCosignature(line string) (Cosignature, error) {
	line = strings.TrimSuffix(line, "\n")
	rest, ok := strings.CutPrefix(line, "\u2014 ")
	name, b64, ok2 := strings.Cut(rest, " ")
	if !ok || !ok2 {
		return Cosignature{}, fmt.Errorf("%w: want \"\u2014 <name> <base64>\"", ErrMalformedCosignature)
	}
	if !validName(name) {
		return Cosignature{}, fmt.Errorf("%w: invalid key name %q", ErrMalformedCosignature, name)
	}
	sig, err := decodeBase64(b64)
	if err != nil {
		return Cosignature{}, fmt.Errorf("%w: signature is not canonical base64", ErrMalformedCosignature)
	}
	if len(sig) != 4+cosignatureSize {
		return Cosignature{}, fmt.Errorf("%w: %d signature bytes, want %d (key ID, timestamp, Ed25519 signature)", ErrMalformedCosignature, len(sig), 4+cosignatureSize)
	}
	t := binary.BigEndian.Uint64(sig[4:12])
	if t > math.MaxInt64 {
		return Cosignature{}, fmt.Errorf("%w: timestamp %d above 2^63-1", ErrMalformedCosignature, t)
	}
	return Cosignature{Name: name, KeyHash: binary.BigEndian.Uint32(sig[:4]), Timestamp: t,
		Signature: append([]byte(nil), sig[12:]...)}, nil
}

// Signer makes cosignature/v1 cosignatures with an Ed25519 key, as a witness
// does. It implements note.Signer, so note.Sign cosigns a checkpoint with
// it. The sealer never cosigns; Signer is here for tests and test vectors
// that need cosigned checkpoints without a running witness.
type Signer struct {
	v    *Verifier
	priv ed25519.PrivateKey
	// Now gives the timestamp of each cosignature; nil = time.Now.
	Now func() time.Time
}

// NewSigner returns the Signer of key under name.
func NewSigner(name string, key ed25519.PrivateKey) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: ed25519 private key of %d bytes", ErrBadVerifierKey, len(key))
	}
	v, err := NewVerifier(name, key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	return &Signer{v: v, priv: key}, nil
}

// Name implements note.Signer.
func (s *Signer) Name() string { return s.v.name }

// KeyHash implements note.Signer.
func (s *Signer) KeyHash() uint32 { return s.v.hash }

// Verifier returns the Verifier of s's key.
func (s *Signer) Verifier() *Verifier { return s.v }

// Sign implements note.Signer: the timestamp (now, in whole seconds) and
// the Ed25519 signature of SignedMessage(msg, timestamp).
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	sec := now().Unix()
	if sec < 0 {
		return nil, errors.New("witness: cannot cosign at a time before 1970")
	}
	t := uint64(sec)
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, cosignatureSize), t)
	return append(sig, ed25519.Sign(s.priv, SignedMessage(msg, t))...), nil
}

// Cosign returns s's cosignature of the checkpoint note text.
func (s *Signer) Cosign(text []byte) (Cosignature, error) {
	sig, err := s.Sign(text)
	if err != nil {
		return Cosignature{}, err
	}
	return Cosignature{Name: s.v.name, KeyHash: s.v.hash, Timestamp: binary.BigEndian.Uint64(sig[:8]),
		Signature: sig[8:]}, nil
}

// keyHash is the cosignature/v1 key ID of key under name.
func keyHash(name string, key ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{SigTypeCosignatureV1})
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil)[:4])
}

// validName reports whether name is a valid signed-note key name, as
// golang.org/x/mod/sumdb/note requires: non-empty UTF-8 without Unicode
// spaces or '+'; control characters are refused too.
func validName(name string) bool {
	if name == "" || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if unicode.IsSpace(r) || r == '+' || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// decodeBase64 decodes standard padded base64 in its one canonical form
// (the decoder alone skips newlines and accepts non-zero padding bits).
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}
