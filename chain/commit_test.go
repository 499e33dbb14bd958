package chain_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
)

// TestCommitSignature: a commit verifies with the run key that signed it
// and with no other, and any change to the fields its signature covers
// (seq, time, prev_hash, flags) breaks it.
func TestCommitSignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	rec := chain.Record{Kind: chain.KindCommit, Seq: 41, TimeNano: 1e18, PrevHash: chain.Hash{7}}
	if err := chain.SignCommit(&rec, priv); err != nil {
		t.Fatal(err)
	}
	if !chain.VerifyCommit(&rec, pub) {
		t.Fatal("the commit does not verify with its run key")
	}
	if chain.VerifyCommit(&rec, other) {
		t.Fatal("the commit verifies with another key")
	}
	for name, change := range map[string]func(r *chain.Record){
		"seq":       func(r *chain.Record) { r.Seq++ },
		"time":      func(r *chain.Record) { r.TimeNano++ },
		"prev_hash": func(r *chain.Record) { r.PrevHash[0] ^= 1 },
		"flags":     func(r *chain.Record) { r.Flags = chain.FlagSealRequested },
	} {
		changed := rec
		change(&changed)
		if chain.VerifyCommit(&changed, pub) {
			t.Errorf("the commit still verifies after its %s changed", name)
		}
	}
	enc, err := rec.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := chain.Decode(enc)
	if err != nil || !chain.VerifyCommit(&back, pub) {
		t.Fatalf("decoded commit: %v", err)
	}
	enc[50] = 0x80 // an unknown flag
	if _, err := chain.Decode(enc); !errors.Is(err, chain.ErrMalformed) || !strings.Contains(err.Error(), "flags") {
		t.Fatalf("a commit with an unknown flag decodes: %v", err)
	}
}
