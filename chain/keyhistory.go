package chain

import (
	"encoding/json"
	"fmt"

	"github.com/audit-sealer/audit-sealer/signer"
)

// Endorsement is self-contained evidence that a key introduced in the log
// was endorsed (FORMAT.md §5.1, §5.5): the audit.key_introduced record that
// carries the key, and the signed checkpoint whose tree holds that record,
// with the record's inclusion proof in that tree. A checker who trusts the
// key that signed the checkpoint can then trust the introduced key without
// reading the log. Endorsements travel in key history bundles and in proof
// bundles (format v2).
type Endorsement struct {
	Record     []byte `json:"record"`     // the audit.key_introduced record's encoding (§3.1)
	Proof      []Hash `json:"proof"`      // inclusion proof of leaf Record.Seq in the checkpoint's tree
	Checkpoint []byte `json:"checkpoint"` // the first signed checkpoint note whose tree holds the record
}

// MaxEndorsements bounds the endorsements of one bundle: one per key
// rotation of the log, far more than a log sees.
const MaxEndorsements = 1024

// checkEndorsements applies the limits every bundle puts on its
// endorsements.
func checkEndorsements(es []Endorsement) error {
	if len(es) > MaxEndorsements {
		return fmt.Errorf("%w: %d endorsements, at most %d", ErrBadBundle, len(es), MaxEndorsements)
	}
	for i, e := range es {
		if len(e.Proof) > 64 {
			return fmt.Errorf("%w: endorsement %d: proof of %d hashes", ErrBadBundle, i, len(e.Proof))
		}
		if len(e.Checkpoint) > MaxCheckpointLen {
			return fmt.Errorf("%w: endorsement %d: checkpoint of %d bytes", ErrBadBundle, i, len(e.Checkpoint))
		}
	}
	return nil
}

// KeyHistoryFormat is the format line of a KeyHistory.
const KeyHistoryFormat = "audit-sealer key history v1"

// KeyHistory is the trust bundle an operator hands to auditors (FORMAT.md
// §5.5): the log's first key and the endorsement of every key the log
// introduced since, in log order. It is a convenience, not a root of trust
// by itself: a checker trusts Root only because the auditor pins it, and
// each later key only through an endorsement that a key it already trusts
// signed.
type KeyHistory struct {
	Format string `json:"format"`
	// Origin is the checkpoint origin of the log ("audit-sealer/<log id>").
	Origin string `json:"origin"`
	// Root is the public key that signed the log's first checkpoint, as
	// PEM (SubjectPublicKeyInfo) or a note verifier key.
	Root         string        `json:"root"`
	Endorsements []Endorsement `json:"endorsements"`
}

// MarshalJSON writes an empty list, never null, for no endorsements.
func (h KeyHistory) MarshalJSON() ([]byte, error) {
	type plain KeyHistory
	p := plain(h)
	p.Endorsements = listed(p.Endorsements)
	return json.Marshal(p)
}

// listed returns es, or an empty list for nil: a bundle writes its
// endorsements as [] rather than null.
func listed(es []Endorsement) []Endorsement {
	if es == nil {
		return []Endorsement{}
	}
	return es
}

// ParseKeyHistory decodes a key history bundle by the strict rules of every
// bundle (FORMAT.md §6): every member present once under its exact name, no
// other member at any depth, the format line, nothing after the object.
// It checks the shape only; verify.KeyRing checks what it says.
func ParseKeyHistory(data []byte) (*KeyHistory, error) {
	var h KeyHistory
	if err := parseBundle(data, &h); err != nil {
		return nil, err
	}
	if h.Format != KeyHistoryFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBadBundle, h.Format, KeyHistoryFormat)
	}
	if h.Origin == "" {
		return nil, fmt.Errorf("%w: key history without origin", ErrBadBundle)
	}
	if _, err := h.RootKey(); err != nil {
		return nil, fmt.Errorf("%w: root: %w", ErrBadBundle, err)
	}
	if err := checkEndorsements(h.Endorsements); err != nil {
		return nil, err
	}
	return &h, nil
}

// RootKey parses Root.
func (h *KeyHistory) RootKey() (signer.PublicKey, error) {
	return signer.ParsePublicKey([]byte(h.Root))
}
