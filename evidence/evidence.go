package evidence

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/strictjson"
)

// Format is the value of the "format" member of a version 1 evidence file.
const Format = "audit-sealer tpm evidence v1"

// MaxSize is the largest evidence file Parse reads. Real files are about
// 700 bytes.
const MaxSize = 64 << 10

// MaxNonceSize is the largest nonce, in bytes: the capacity of the TPM's
// TPM2B_DATA qualifying data with SHA-512 (64 bytes).
const MaxNonceSize = 64

var (
	// ErrBadEvidence is wrapped by every error about a malformed or
	// inconsistent evidence file, or one whose content fails a check other
	// than the signature and the verifier's nonce.
	ErrBadEvidence = errors.New("bad evidence")
	// ErrBadSignature is wrapped when the signature over attest does not
	// verify with the AK public key.
	ErrBadSignature = errors.New("bad signature")
	// ErrNonceMismatch is wrapped when the certified nonce (extraData) is
	// not the nonce the verifier expects.
	ErrNonceMismatch = errors.New("nonce mismatch")
)

// Evidence is a parsed evidence file. The byte slices hold the TPM
// structures described in the package documentation, without TPM2B size
// prefixes.
type Evidence struct {
	// Nonce is the qualifying data the quote was made with.
	Nonce []byte
	// AKPublic is the attestation key's marshalled TPMT_PUBLIC.
	AKPublic []byte
	// NVPublic is the counter index's marshalled TPMS_NV_PUBLIC.
	NVPublic []byte
	// Attest is the signed TPMS_ATTEST, exactly as the TPM returned it.
	Attest []byte
	// Signature is the marshalled TPMT_SIGNATURE over Attest.
	Signature []byte
	// CreatedAt is when the file was written (host clock, not signed).
	CreatedAt time.Time
}

// file is the JSON form of an evidence file. Its field order is the order
// of the members in a written file; every member is required (Parse).
type file struct {
	Format    string `json:"format"`
	Nonce     string `json:"nonce"`
	AKPublic  string `json:"ak_public"`
	NVPublic  string `json:"nv_public"`
	Attest    string `json:"attest"`
	Signature string `json:"signature"`
	CreatedAt string `json:"created_at"`
}

func badf(format string, args ...any) error {
	return fmt.Errorf("evidence: "+format+": %w", append(args, ErrBadEvidence)...)
}

// Parse parses an evidence file. It is strict: the "format" member must be
// [Format], every member must be present exactly once under its exact
// (case-sensitive) name, no other member is allowed (a case variant such as
// "NONCE" is another member), base64 must be canonical standard encoding
// with padding, and nothing but white space may follow the object. Parse
// does not verify anything cryptographic; call [Evidence.Verify] for that.
// Every error wraps [ErrBadEvidence]; one from the strict JSON check also
// wraps the strictjson sentinel (strictjson.ErrDuplicate, ErrUnknown, …).
func Parse(data []byte) (*Evidence, error) {
	if len(data) > MaxSize {
		return nil, badf("file is %d bytes, more than %d", len(data), MaxSize)
	}
	var f file
	if err := strictjson.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("evidence: %w: %w", err, ErrBadEvidence)
	}
	if f.Format != Format {
		return nil, badf("format %q, want %q", f.Format, Format)
	}
	e := new(Evidence)
	for _, m := range []struct {
		name string
		in   string
		out  *[]byte
		min  int
		max  int
	}{
		{"nonce", f.Nonce, &e.Nonce, 0, MaxNonceSize},
		{"ak_public", f.AKPublic, &e.AKPublic, 1, 4096},
		{"nv_public", f.NVPublic, &e.NVPublic, 1, 4096},
		{"attest", f.Attest, &e.Attest, 1, 4096},
		{"signature", f.Signature, &e.Signature, 1, 4096},
	} {
		b, err := base64.StdEncoding.Strict().DecodeString(m.in)
		if err != nil {
			return nil, badf("%s: %v", m.name, err)
		}
		if base64.StdEncoding.EncodeToString(b) != m.in {
			return nil, badf("%s: not canonical base64", m.name)
		}
		if len(b) < m.min || len(b) > m.max {
			return nil, badf("%s: %d bytes, want %d to %d", m.name, len(b), m.min, m.max)
		}
		*m.out = b
	}
	t, err := time.Parse(time.RFC3339Nano, f.CreatedAt)
	if err != nil {
		return nil, badf("created_at: %v", err)
	}
	e.CreatedAt = t
	return e, nil
}

// Marshal returns the evidence file for e: the JSON object of format v1,
// indented, with the members in the documented order and a final newline.
// CreatedAt is written in UTC; a zero CreatedAt is an error, as is a nonce
// longer than [MaxNonceSize].
func (e *Evidence) Marshal() ([]byte, error) {
	if e.CreatedAt.IsZero() {
		return nil, errors.New("evidence: CreatedAt is not set")
	}
	if len(e.Nonce) > MaxNonceSize {
		return nil, fmt.Errorf("evidence: nonce is %d bytes, more than %d", len(e.Nonce), MaxNonceSize)
	}
	for name, b := range map[string][]byte{"ak_public": e.AKPublic, "nv_public": e.NVPublic, "attest": e.Attest, "signature": e.Signature} {
		if len(b) == 0 {
			return nil, fmt.Errorf("evidence: %s is empty", name)
		}
	}
	enc := base64.StdEncoding.EncodeToString
	f := file{
		Format:    Format,
		Nonce:     enc(e.Nonce),
		AKPublic:  enc(e.AKPublic),
		NVPublic:  enc(e.NVPublic),
		Attest:    enc(e.Attest),
		Signature: enc(e.Signature),
		CreatedAt: e.CreatedAt.UTC().Format(time.RFC3339Nano),
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return append(b, '\n'), nil
}
