package chain

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/audit-sealer/audit-sealer/signer"
)

// OriginPrefix starts the origin line of every checkpoint; the log ID in hex
// follows it.
const OriginPrefix = "audit-sealer/"

// Origin returns the checkpoint origin of the log id.
func Origin(id LogID) string { return OriginPrefix + id.String() }

// Checkpoint is the signed statement of the log's head: a C2SP tlog-checkpoint
// (c2sp.org/tlog-checkpoint) whose note text is
//
//	audit-sealer/<log id, 32 hex>
//	<tree size, decimal>
//	<root hash, base64>
//	head <hash of record size-1, base64>
//	time <RFC 3339 UTC, nanoseconds, as time.RFC3339Nano>
//	signer <software|pkcs11> <ed25519|ecdsa-p256>
//	mode dev                      (only when the sealer runs with --dev)
//	anchor tpm 0x<index> <value>  (only on anchored checkpoints: the TPM NV counter value)
//	run <run key, base64>         (format 2: the key that signs commit records after this checkpoint)
//	start <seq> <record hash, base64> (format 2: the log's first record, after any retention prune)
//	closed                        (format 2: the last checkpoint of a run that closed the log cleanly)
//	<further extension lines>     (kept in Extra, for later versions)
//
// followed by a blank line and the signature line(s) of a signed note.
type Checkpoint struct {
	Origin     string
	Size       uint64
	Root       Hash
	Head       Hash
	Time       time.Time
	SignerKind signer.Kind
	Algorithm  signer.Algorithm
	Dev        bool
	// Anchor is set on an anchored checkpoint: the value the TPM NV counter
	// at index AnchorIndex had when the sealer wrote it (FORMAT.md §5.3).
	Anchor      *uint64
	AnchorIndex uint32
	// RunKey is the 32-byte Ed25519 public key of the sealer run that
	// signed this checkpoint: commit records after it must be signed by it
	// (FORMAT.md §3.6). Every checkpoint of a format 2 log carries it.
	RunKey []byte
	// Start names the first record the log holds, as the sealer knew it:
	// record 0 (the genesis), or the first record after a retention prune.
	// Every checkpoint of a format 2 log carries it.
	Start *LogStart
	// Closed marks the checkpoint with which a sealer closed the log
	// cleanly: nothing it wrote follows until it opens the log again, so
	// records found after it at the next start are not a crash's remains.
	Closed bool
	Extra  []string
}

// LogStart names the first record of a log: its sequence number and hash.
type LogStart struct {
	Seq  uint64
	Hash Hash
}

// ErrBadCheckpoint is wrapped by every checkpoint parsing error.
var ErrBadCheckpoint = errors.New("chain: malformed checkpoint")

// Text returns the note text of c.
func (c Checkpoint) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
	fmt.Fprintf(&b, "head %s\n", base64.StdEncoding.EncodeToString(c.Head[:]))
	fmt.Fprintf(&b, "time %s\n", c.Time.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "signer %s %s\n", c.SignerKind, c.Algorithm)
	if c.Dev {
		b.WriteString("mode dev\n")
	}
	if c.Anchor != nil {
		fmt.Fprintf(&b, "anchor tpm 0x%08x %d\n", c.AnchorIndex, *c.Anchor)
	}
	if c.RunKey != nil {
		fmt.Fprintf(&b, "run %s\n", base64.StdEncoding.EncodeToString(c.RunKey))
	}
	if c.Start != nil {
		fmt.Fprintf(&b, "start %d %s\n", c.Start.Seq, base64.StdEncoding.EncodeToString(c.Start.Hash[:]))
	}
	if c.Closed {
		b.WriteString("closed\n")
	}
	for _, l := range c.Extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// ParseCheckpointText parses note text as Text writes it. It is strict: every
// number and hash must be in its one canonical form.
func ParseCheckpointText(text string) (Checkpoint, error) {
	var c Checkpoint
	if len(text) > MaxCheckpointLen {
		return c, fmt.Errorf("%w: %d bytes", ErrBadCheckpoint, len(text))
	}
	if !strings.HasSuffix(text, "\n") {
		return c, fmt.Errorf("%w: text does not end in a newline", ErrBadCheckpoint)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 6 {
		return c, fmt.Errorf("%w: %d lines, want at least 6", ErrBadCheckpoint, len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return c, fmt.Errorf("%w: line %d is empty", ErrBadCheckpoint, i+1)
		}
	}
	c.Origin = lines[0]
	if !strings.HasPrefix(c.Origin, OriginPrefix) {
		return c, fmt.Errorf("%w: origin does not start with %q", ErrBadCheckpoint, OriginPrefix)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return c, fmt.Errorf("%w: tree size is not a canonical decimal", ErrBadCheckpoint)
	}
	c.Size = size
	if c.Root, err = parseHash64(lines[2]); err != nil {
		return c, fmt.Errorf("%w: root hash: %v", ErrBadCheckpoint, err)
	}
	head, ok := strings.CutPrefix(lines[3], "head ")
	if !ok {
		return c, fmt.Errorf("%w: line 4 is not a head line", ErrBadCheckpoint)
	}
	if c.Head, err = parseHash64(head); err != nil {
		return c, fmt.Errorf("%w: head hash: %v", ErrBadCheckpoint, err)
	}
	ts, ok := strings.CutPrefix(lines[4], "time ")
	if !ok {
		return c, fmt.Errorf("%w: line 5 is not a time line", ErrBadCheckpoint)
	}
	if c.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil || c.Time.UTC().Format(time.RFC3339Nano) != ts {
		return c, fmt.Errorf("%w: time is not canonical RFC 3339 UTC", ErrBadCheckpoint)
	}
	c.Time = c.Time.UTC()
	sig := strings.Split(lines[5], " ")
	if len(sig) != 3 || sig[0] != "signer" {
		return c, fmt.Errorf("%w: line 6 is not a signer line", ErrBadCheckpoint)
	}
	if c.SignerKind, err = signer.ParseKind(sig[1]); err != nil {
		return c, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if c.Algorithm, err = signer.ParseAlgorithm(sig[2]); err != nil {
		return c, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	rest := lines[6:]
	if len(rest) > 0 && rest[0] == "mode dev" {
		c.Dev = true
		rest = rest[1:]
	}
	if len(rest) > 0 && strings.HasPrefix(rest[0], "anchor ") {
		f := strings.Split(rest[0], " ")
		if len(f) != 4 || f[1] != "tpm" || len(f[2]) != 10 || !strings.HasPrefix(f[2], "0x") {
			return c, fmt.Errorf("%w: malformed anchor line", ErrBadCheckpoint)
		}
		idx, err1 := strconv.ParseUint(f[2][2:], 16, 32)
		v, err2 := strconv.ParseUint(f[3], 10, 64)
		if err1 != nil || err2 != nil || fmt.Sprintf("0x%08x", idx) != f[2] || strconv.FormatUint(v, 10) != f[3] {
			return c, fmt.Errorf("%w: anchor line is not canonical", ErrBadCheckpoint)
		}
		c.Anchor, c.AnchorIndex = &v, uint32(idx)
		rest = rest[1:]
	}
	if len(rest) > 0 && strings.HasPrefix(rest[0], "run ") {
		raw, err := base64.StdEncoding.Strict().DecodeString(rest[0][len("run "):])
		if err != nil || len(raw) != runKeySize || "run "+base64.StdEncoding.EncodeToString(raw) != rest[0] {
			return c, fmt.Errorf("%w: run line is not a canonical base64 Ed25519 key", ErrBadCheckpoint)
		}
		c.RunKey = raw
		rest = rest[1:]
	}
	if len(rest) > 0 && strings.HasPrefix(rest[0], "start ") {
		f := strings.Split(rest[0], " ")
		if len(f) != 3 {
			return c, fmt.Errorf("%w: malformed start line", ErrBadCheckpoint)
		}
		seq, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil || strconv.FormatUint(seq, 10) != f[1] {
			return c, fmt.Errorf("%w: start sequence number is not a canonical decimal", ErrBadCheckpoint)
		}
		h, err := parseHash64(f[2])
		if err != nil {
			return c, fmt.Errorf("%w: start hash: %v", ErrBadCheckpoint, err)
		}
		c.Start = &LogStart{Seq: seq, Hash: h}
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] == "closed" {
		c.Closed = true
		rest = rest[1:]
	}
	for _, l := range rest {
		if l == "mode dev" || l == "closed" {
			return c, fmt.Errorf("%w: misplaced %q line", ErrBadCheckpoint, l)
		}
		for _, p := range []string{"anchor ", "run ", "start "} {
			if strings.HasPrefix(l, p) {
				return c, fmt.Errorf("%w: misplaced %q line", ErrBadCheckpoint, strings.TrimSpace(p))
			}
		}
	}
	if len(rest) > 0 {
		c.Extra = append([]string(nil), rest...)
	}
	return c, nil
}

// runKeySize is the size of an Ed25519 public key.
const runKeySize = 32

func parseHash64(s string) (Hash, error) {
	var h Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != HashSize || base64.StdEncoding.EncodeToString(b) != s {
		return h, errors.New("not a canonical base64 SHA-256 hash")
	}
	copy(h[:], b)
	return h, nil
}

// SignCheckpoint returns c as a signed note, signed by s under keyName.
func SignCheckpoint(c *Checkpoint, s signer.Signer, keyName string) ([]byte, error) {
	if c.SignerKind != s.Kind() || c.Algorithm != s.Public().Algorithm {
		return nil, fmt.Errorf("chain: checkpoint says %s %s but the signer is %s %s",
			c.SignerKind, c.Algorithm, s.Kind(), s.Public().Algorithm)
	}
	msg, err := note.Sign(&note.Note{Text: c.Text()}, signer.NoteSigner(s, keyName))
	if err != nil {
		return nil, fmt.Errorf("chain: sign checkpoint: %w", err)
	}
	return msg, nil
}

// SignedCheckpoint is a checkpoint whose signature verified, with the key
// that signed it.
type SignedCheckpoint struct {
	Checkpoint
	Key     signer.PublicKey
	KeyName string
	Note    []byte // the signed note as stored
}

// Errors of OpenCheckpoint, to tell a forged key from a broken signature.
var (
	ErrUnknownKey   = errors.New("chain: checkpoint not signed by any trusted key")
	ErrBadSignature = errors.New("chain: checkpoint signature does not verify")
)

// OpenCheckpoint verifies a signed checkpoint note against the trusted keys
// and parses it. A note with no signature from a trusted key fails with
// ErrUnknownKey; a signature by a trusted key that does not verify fails with
// ErrBadSignature; malformed text wraps ErrBadCheckpoint. The key that signed
// must be of the algorithm the checkpoint names.
func OpenCheckpoint(msg []byte, keys signer.Verifiers) (*SignedCheckpoint, error) {
	return openCheckpoint(msg, keys, keys)
}

// OpenCheckpointUnchecked opens a signed checkpoint as OpenCheckpoint does,
// finding the trusted key that its signature line names (ErrUnknownKey when
// none does), but without checking the signature itself. A caller may rely
// on the result only once it has checked the signature with OpenCheckpoint,
// or checked that of a later checkpoint whose tree holds this one as a leaf
// (FORMAT.md §3.5): that signature covers this checkpoint's bytes too. The
// verifier does the latter to save a signature check per checkpoint
// (FORMAT.md §7).
func OpenCheckpointUnchecked(msg []byte, keys signer.Verifiers) (*SignedCheckpoint, error) {
	return openCheckpoint(msg, keys, uncheckedVerifiers{keys})
}

// uncheckedVerifiers finds keys as keys does, and accepts every signature.
type uncheckedVerifiers struct{ keys signer.Verifiers }

func (u uncheckedVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	v, err := u.keys.Verifier(name, hash)
	if err != nil {
		return nil, err
	}
	return uncheckedVerifier{v}, nil
}

type uncheckedVerifier struct{ note.Verifier }

func (uncheckedVerifier) Verify(msg, sig []byte) bool { return true }

func openCheckpoint(msg []byte, keys signer.Verifiers, verifiers note.Verifiers) (*SignedCheckpoint, error) {
	if len(msg) > MaxCheckpointLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadCheckpoint, len(msg))
	}
	n, err := note.Open(msg, verifiers)
	if err != nil {
		var unknown *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &invalid):
			return nil, fmt.Errorf("%w: key %s+%08x", ErrBadSignature, invalid.Name, invalid.Hash)
		case errors.As(err, &unknown):
			return nil, fmt.Errorf("%w: signed by %s", ErrUnknownKey, describeSigs(unknown.Note.UnverifiedSigs))
		}
		return nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	c, err := ParseCheckpointText(n.Text)
	if err != nil {
		return nil, err
	}
	sig := n.Sigs[0]
	key, _ := keys.Lookup(sig.Name, sig.Hash)
	if key.Algorithm != c.Algorithm {
		return nil, fmt.Errorf("%w: checkpoint names %s but key %s is %s", ErrBadCheckpoint, c.Algorithm, key.ID(), key.Algorithm)
	}
	return &SignedCheckpoint{Checkpoint: c, Key: key, KeyName: sig.Name, Note: bytes.Clone(msg)}, nil
}

func describeSigs(sigs []note.Signature) string {
	if len(sigs) == 0 {
		return "no key"
	}
	parts := make([]string, len(sigs))
	for i, s := range sigs {
		parts[i] = fmt.Sprintf("%s+%08x", s.Name, s.Hash)
	}
	return strings.Join(parts, ", ")
}

// PeekCheckpoint parses the text of a signed checkpoint note WITHOUT
// verifying any signature: for callers that check the signature later (the
// verifier, once it knows which keys the log introduced) or not at all (the
// writer, reading back what it wrote). It returns the key name and key ID of
// the first signature line too.
func PeekCheckpoint(msg []byte) (Checkpoint, string, uint32, error) {
	s := string(msg)
	i := strings.LastIndex(s, "\n\n")
	if i < 0 {
		return Checkpoint{}, "", 0, fmt.Errorf("%w: no signature block", ErrBadCheckpoint)
	}
	c, err := ParseCheckpointText(s[:i+1])
	if err != nil {
		return c, "", 0, err
	}
	line, _, _ := strings.Cut(s[i+2:], "\n")
	rest, ok := strings.CutPrefix(line, "\u2014 ")
	name, sig64, ok2 := strings.Cut(rest, " ")
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if !ok || !ok2 || err != nil || len(sig) < 5 {
		return c, "", 0, fmt.Errorf("%w: malformed signature line", ErrBadCheckpoint)
	}
	return c, name, uint32(sig[0])<<24 | uint32(sig[1])<<16 | uint32(sig[2])<<8 | uint32(sig[3]), nil
}

// SignatureLines returns how many signature lines the signed note msg
// carries (the lines after its last blank line), or an error if any of them
// is not a signature line. A checkpoint record holds exactly one: the log
// key's (FORMAT.md §5); a cosignature added to a record is a modification.
func SignatureLines(msg []byte) (int, error) {
	s := string(msg)
	i := strings.LastIndex(s, "\n\n")
	if i < 0 || !strings.HasSuffix(s, "\n") {
		return 0, fmt.Errorf("%w: no signature block", ErrBadCheckpoint)
	}
	lines := strings.Split(strings.TrimSuffix(s[i+2:], "\n"), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "\u2014 ") {
			return 0, fmt.Errorf("%w: %q in the signature block is not a signature line", ErrBadCheckpoint, l)
		}
	}
	return len(lines), nil
}
