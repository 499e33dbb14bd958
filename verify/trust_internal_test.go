package verify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/signer"
)

// TestDescribeSigner: a checkpoint no key given opens names its key by key
// ID, never by the signed-note key hash: for ECDSA P-256, whose note key
// hash is the first 4 bytes of the key ID, the audit.sealer_started key ID
// that agrees with it or else that prefix; for Ed25519 the
// audit.sealer_started key ID, or no ID at all.
func TestDescribeSigner(t *testing.T) {
	sign := func(alg signer.Algorithm) (signer.PublicKey, []byte) {
		s, err := signer.NewSoftwareSigner(alg, "audit-sealer")
		if err != nil {
			t.Fatal(err)
		}
		cp := chain.Checkpoint{Origin: chain.Origin(chain.LogID{1}), Size: 1, Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			SignerKind: signer.Software, Algorithm: alg}
		note, err := chain.SignCheckpoint(&cp, s, "audit-sealer")
		if err != nil {
			t.Fatal(err)
		}
		return s.Public(), note
	}
	started := func(k signer.PublicKey, id string) *keyEvent {
		return &keyEvent{seq: 1, sealer: &event.SealerStarted{KeyID: id, Algorithm: event.Algorithm(k.Algorithm)}}
	}
	ec, ecNote := sign(signer.ECDSAP256)
	ed, edNote := sign(signer.Ed25519)
	for _, c := range []struct {
		name, got, want string
	}{
		{"ecdsa, named", describeSigner(ecNote, started(ec, ec.ID())), "key " + ec.ID() + " (the key the log's audit.sealer_started at record 1 names)"},
		{"ecdsa, another key named", describeSigner(ecNote, started(ec, "00000000"+ec.ID()[8:])), "key ID starts " + ec.ID()[:8]},
		{"ecdsa, none named", describeSigner(ecNote, nil), "key ID starts " + ec.ID()[:8]},
		{"ed25519, named", describeSigner(edNote, started(ed, ed.ID())), "key " + ed.ID()},
		{"ed25519, none named", describeSigner(edNote, nil), "ed25519 key whose key ID nothing here carries"},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
		for _, note := range [][]byte{ecNote, edNote} {
			if _, name, hash, _ := chain.PeekCheckpoint(note); strings.Contains(c.got, fmt.Sprintf("%s+%08x", name, hash)) {
				t.Errorf("%s names the note key hash: %q", c.name, c.got)
			}
		}
	}
}
