package verify_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// rotatedBundle proves record seq of the log rotated twice (main ->
// second -> third), and returns the bundle after a JSON round trip.
func rotatedBundle(t *testing.T, seq uint64) *chain.InclusionBundle {
	t.Helper()
	b, err := verify.Prove(vector(t, "intact_key_rotation").Dir, seq)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(b)
	back, err := chain.ParseInclusionBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// resign signs the text of a checkpoint note again with key s.
func resign(t *testing.T, note []byte, s signer.Signer) []byte {
	t.Helper()
	c, _, _, err := chain.PeekCheckpoint(note)
	if err != nil {
		t.Fatal(err)
	}
	out, err := chain.SignCheckpoint(&c, s, "audit-sealer.test/log")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func trusting(labels ...string) verify.Options { return verify.Options{Keys: testkit.Keys(labels...)} }

// TestProofAfterTwoRotations: a proof made after two rotations carries both
// endorsements and verifies with the first key alone, the middle key alone
// or the last key alone, for an early record and a late one; an unrelated
// key fails with ErrUnknownKey naming the signer's key id.
func TestProofAfterTwoRotations(t *testing.T) {
	for _, seq := range []uint64{1, 100} {
		b := rotatedBundle(t, seq)
		if b.Format != chain.InclusionBundleFormat || len(b.Endorsements) != 2 {
			t.Fatalf("record %d: format %q with %d endorsements, want v2 with 2", seq, b.Format, len(b.Endorsements))
		}
		for _, k := range []string{"main", "second", "third"} {
			d, err := verify.CheckInclusion(b, trusting(k))
			if err != nil {
				t.Fatalf("record %d, trusting only %s: %v", seq, k, err)
			}
			if d.Record.Seq != seq || !d.Checkpoint.Key.Equal(testkit.Key("third").Public()) {
				t.Fatalf("record %d: got record %d signed by %s", seq, d.Record.Seq, d.Checkpoint.Key.ID())
			}
		}
		_, err := verify.CheckInclusion(b, trusting("attacker"))
		third := testkit.Key("third").Public().ID()
		if !errors.Is(err, chain.ErrUnknownKey) || !strings.Contains(err.Error(), third) || strings.Contains(err.Error(), "+") {
			t.Fatalf("unrelated key: %v, want ErrUnknownKey naming key %s (and no note key hash)", err, third)
		}
		// Without its endorsements, the bundle checks only with the last key.
		bare := *b
		bare.Endorsements = nil
		if _, err := verify.CheckInclusion(&bare, trusting("main")); !errors.Is(err, chain.ErrUnknownKey) {
			t.Fatalf("no endorsements, trusting main: %v", err)
		}
		if _, err := verify.CheckInclusion(&bare, trusting("third")); err != nil {
			t.Fatalf("no endorsements, trusting third: %v", err)
		}
	}
}

// TestForgedEndorsements: an endorsement that does not prove what it says,
// or that a retired key made, fails; one by a key nobody trusts gives
// nothing.
func TestForgedEndorsements(t *testing.T) {
	good := rotatedBundle(t, 1)
	forge := func(edit func(b *chain.InclusionBundle)) *chain.InclusionBundle {
		b := *good
		b.Endorsements = make([]chain.Endorsement, len(good.Endorsements))
		for i, e := range good.Endorsements {
			b.Endorsements[i] = chain.Endorsement{Record: bytes.Clone(e.Record), Proof: append([]chain.Hash(nil), e.Proof...), Checkpoint: bytes.Clone(e.Checkpoint)}
		}
		edit(&b)
		return &b
	}
	main, second := testkit.Key("main"), testkit.Key("second")

	notInTree := forge(func(b *chain.InclusionBundle) { b.Endorsements[0].Proof[0][0] ^= 1 })
	if _, err := verify.CheckInclusion(notInTree, trusting("main")); !errors.Is(err, verify.ErrEndorsement) || !strings.Contains(err.Error(), "not in the tree") {
		t.Errorf("record not in the checkpoint's tree: %v", err)
	}
	notAKey := forge(func(b *chain.InclusionBundle) { b.Endorsements[0].Record = good.Record })
	if _, err := verify.CheckInclusion(notAKey, trusting("main")); !errors.Is(err, verify.ErrEndorsement) {
		t.Errorf("an event record as endorsement: %v", err)
	}
	edited := forge(func(b *chain.InclusionBundle) { b.Endorsements[1].Record[len(b.Endorsements[1].Record)-3] ^= 1 })
	if _, err := verify.CheckInclusion(edited, trusting("main")); !errors.Is(err, verify.ErrEndorsement) {
		t.Errorf("edited record: %v", err)
	}
	reordered := forge(func(b *chain.InclusionBundle) {
		b.Endorsements[0], b.Endorsements[1] = b.Endorsements[1], b.Endorsements[0]
	})
	if _, err := verify.CheckInclusion(reordered, trusting("main")); !errors.Is(err, verify.ErrEndorsement) {
		t.Errorf("endorsements out of log order: %v", err)
	}
	// The first endorsement re-signed by a key nobody trusts is skipped,
	// and with it the chain from main breaks.
	untrusted := forge(func(b *chain.InclusionBundle) {
		b.Endorsements[0].Checkpoint = resign(t, b.Endorsements[0].Checkpoint, testkit.Key("attacker"))
	})
	if _, err := verify.CheckInclusion(untrusted, trusting("main")); !errors.Is(err, chain.ErrUnknownKey) {
		t.Errorf("endorsement by an untrusted key: %v", err)
	}
	// main endorsed second; main signing the checkpoint of the second
	// endorsement (larger) is a retired key at work.
	retiredEndorses := forge(func(b *chain.InclusionBundle) {
		b.Endorsements[1].Checkpoint = resign(t, b.Endorsements[1].Checkpoint, main)
	})
	_, err := verify.CheckInclusion(retiredEndorses, trusting("main"))
	if !errors.Is(err, verify.ErrEndorsement) || !errors.Is(err, verify.ErrRetiredKey) || !strings.Contains(err.Error(), main.Public().ID()) {
		t.Errorf("endorsement by a retired key: %v", err)
	}
	// A retired key signing the bundle's (later) checkpoint fails too.
	for _, s := range []signer.Signer{main, second} {
		retiredSigns := forge(func(b *chain.InclusionBundle) { b.Checkpoint = resign(t, b.Checkpoint, s) })
		if _, err := verify.CheckInclusion(retiredSigns, trusting("main")); !errors.Is(err, verify.ErrRetiredKey) || !strings.Contains(err.Error(), s.Public().ID()) {
			t.Errorf("bundle checkpoint by retired key %s: %v", s.Public().ID(), err)
		}
	}
	// A checkpoint of another log cannot endorse.
	other := forge(func(b *chain.InclusionBundle) {
		c, _, _, _ := chain.PeekCheckpoint(b.Endorsements[0].Checkpoint)
		c.Origin = chain.OriginPrefix + "00000000000000000000000000000000"
		b.Endorsements[0].Checkpoint, _ = chain.SignCheckpoint(&c, main, "audit-sealer.test/log")
	})
	if _, err := verify.CheckInclusion(other, trusting("main")); !errors.Is(err, verify.ErrEndorsement) {
		t.Errorf("endorsement of another log: %v", err)
	}
}

// TestConsistencyAfterRotations: a consistency bundle made after two
// rotations, from a checkpoint the auditor kept while the first key
// signed, checks with the first key alone; the kept checkpoint is not
// trusted by the last key alone.
func TestConsistencyAfterRotations(t *testing.T) {
	rot := vector(t, "intact_key_rotation")
	first := firstCheckpoint(t, rot.Dir)
	c, _, _, _ := chain.PeekCheckpoint(first)
	b, err := verify.ProveConsistency(rot.Dir, c.Size)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(b)
	back, err := chain.ParseConsistencyBundle(data)
	if err != nil || len(back.Endorsements) != 2 {
		t.Fatalf("consistency bundle: %v, %d endorsements", err, len(back.Endorsements))
	}
	cur, err := verify.CheckConsistency(back, first, trusting("main"))
	if err != nil || !cur.Key.Equal(testkit.Key("third").Public()) {
		t.Fatalf("trusting main: %v", err)
	}
	if _, err := verify.CheckConsistency(back, first, trusting("third")); !errors.Is(err, chain.ErrUnknownKey) || !strings.Contains(err.Error(), "your checkpoint") {
		t.Fatalf("kept checkpoint by main, trusting only third: %v", err)
	}
}

// firstCheckpoint returns the note of the first checkpoint record of the
// log in dir.
func firstCheckpoint(t *testing.T, dir string) []byte {
	t.Helper()
	segs, err := storage.ListSegments(dir)
	if err != nil || len(segs) == 0 {
		t.Fatal(err)
	}
	var note []byte
	testkit.SegmentRecords(filepath.Join(dir, segs[0].Name), len(segs) == 1, func(rec chain.Record, _ int64) bool {
		if rec.Kind == chain.KindCheckpoint {
			note = bytes.Clone(rec.Checkpoint)
		}
		return note == nil
	})
	if note == nil {
		t.Fatal("no checkpoint in the first segment")
	}
	return note
}

// TestKeyHistoryOf: the key history of a log rotated twice names the first
// key as root and carries both endorsements, which make the later keys
// trusted from the root alone; without the first key among the candidates
// there is no history.
func TestKeyHistoryOf(t *testing.T) {
	rot := vector(t, "intact_key_rotation")
	h, err := verify.KeyHistoryOf(rot.Dir, testkit.Keys("other", "main"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(h)
	back, err := chain.ParseKeyHistory(data)
	if err != nil || len(back.Endorsements) != 2 {
		t.Fatalf("key history: %v %s", err, data)
	}
	root, _ := back.RootKey()
	if !root.Equal(testkit.Key("main").Public()) {
		t.Fatalf("root is key %s, want main", root.ID())
	}
	ring := verify.NewKeyRing(signer.Verifiers{root})
	if err := ring.Follow(back.Origin, back.Endorsements); err != nil {
		t.Fatal(err)
	}
	if ks := ring.Keys(); len(ks) != 3 || !ks.Contains(testkit.Key("third").Public()) {
		t.Fatalf("trusted after following: %d keys", len(ks))
	}
	if err := verify.NewKeyRing(signer.Verifiers{root}).Follow("audit-sealer/00000000000000000000000000000000", back.Endorsements); !errors.Is(err, verify.ErrEndorsement) {
		t.Fatalf("history of another origin: %v", err)
	}
	if _, err := verify.KeyHistoryOf(rot.Dir, testkit.Keys("second")); !errors.Is(err, verify.ErrRootUnknown) {
		t.Fatalf("without the first key: %v", err)
	}
}

// TestUnendorsedKeyHistory: a key the operator accepted without an
// endorsement is in the history, but trusted only when the auditor gives
// it; then the earlier key is retired.
func TestUnendorsedKeyHistory(t *testing.T) {
	un := vector(t, "key_unendorsed")
	h, err := verify.KeyHistoryOf(un.Dir, testkit.Keys("main"))
	if err != nil || len(h.Endorsements) != 1 {
		t.Fatalf("key history: %v", err)
	}
	ring := verify.NewKeyRing(testkit.Keys("main"))
	if err := ring.Follow(h.Origin, h.Endorsements); err != nil || len(ring.Keys()) != 1 {
		t.Fatalf("trusting main: %v, %d keys", err, len(ring.Keys()))
	}
	b, err := verify.Prove(un.Dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	other := testkit.Key("other").Public().ID()
	if _, err := verify.CheckInclusion(b, trusting("main")); !errors.Is(err, chain.ErrUnknownKey) || !strings.Contains(err.Error(), other) {
		t.Fatalf("trusting main only: %v", err)
	}
	if _, err := verify.CheckInclusion(b, trusting("main", "other")); err != nil {
		t.Fatalf("given the unendorsed key: %v", err)
	}
	// main may still sign the very tree in which other took over, but
	// nothing larger.
	b.Checkpoint = resign(t, b.Checkpoint, testkit.Key("main"))
	if _, err := verify.CheckInclusion(b, trusting("main", "other")); err != nil {
		t.Fatalf("main signing the takeover checkpoint's tree: %v", err)
	}
	c, _, _, _ := chain.PeekCheckpoint(b.Checkpoint)
	c.Size++
	if b.Checkpoint, err = chain.SignCheckpoint(&c, testkit.Key("main"), "audit-sealer.test/log"); err != nil {
		t.Fatal(err)
	}
	if _, err := verify.CheckInclusion(b, trusting("main", "other")); !errors.Is(err, verify.ErrRetiredKey) {
		t.Fatalf("main after the unendorsed key took over: %v", err)
	}
}

// TestBadSignatureNamesKey: a checkpoint whose signature by a trusted key
// does not verify fails with chain.ErrBadSignature naming the key id.
func TestBadSignatureNamesKey(t *testing.T) {
	b := rotatedBundle(t, 1)
	i := bytes.LastIndex(b.Checkpoint, []byte(" ")) + 10
	b.Checkpoint[i] ^= 1 // a base64 character of the signature
	third := testkit.Key("third").Public().ID()
	if _, err := verify.CheckInclusion(b, trusting("third")); !errors.Is(err, chain.ErrBadSignature) || !strings.Contains(err.Error(), third) {
		t.Fatalf("%v, want ErrBadSignature naming key %s", err, third)
	}
}
