package verify_test

import (
	"context"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// TestKeyHistory: a log whose key was rotated verifies from the first key
// alone; a key the previous key never endorsed verifies only when the
// auditor was given it out of band.
func TestKeyHistory(t *testing.T) {
	rot := vector(t, "intact_key_rotation")
	rep, err := verify.Dir(context.Background(), rot.Dir, optionsFor(t, rot))
	if err != nil || rep.Verdict != verify.Intact {
		t.Fatalf("rotated log: %v %+v", err, rep.FirstFailure)
	}
	if rep.LastCheckpoint.KeyID != testkit.Key("third").Public().ID() {
		t.Fatalf("last checkpoint signed by %s, want the third key", rep.LastCheckpoint.KeyID)
	}
	un := vector(t, "key_unendorsed")
	opts := optionsFor(t, un)
	opts.Keys = append(opts.Keys, testkit.Key("other").Public())
	rep, err = verify.Dir(context.Background(), un.Dir, opts)
	if err != nil || rep.Verdict != verify.Intact {
		t.Fatalf("unendorsed key given out of band: %v %+v", err, rep.FirstFailure)
	}
	// Trusting only a later key does not make the earlier checkpoints
	// valid: the log cannot be verified with it (not tampered).
	rep, err = verify.Dir(context.Background(), rot.Dir, verify.Options{Keys: signer.Verifiers{testkit.Key("third").Public()}})
	if err != nil || rep.Verdict != verify.Unverifiable || rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonUntrustedKey {
		t.Fatalf("trusting only the last key: %v %+v", err, rep.FirstFailure)
	}
}

// TestRequireHardware: dev-mode checkpoints (software key) fail when a
// hardware key is required.
func TestRequireHardware(t *testing.T) {
	v := vector(t, "intact_multi")
	opts := optionsFor(t, v)
	opts.RequireHardware = true
	rep, err := verify.Dir(context.Background(), v.Dir, opts)
	if err != nil || rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonSoftwareKey {
		t.Fatalf("%v %+v", err, rep.FirstFailure)
	}
}

// TestMinCounter: an auditor who knows the TPM counter reached N rejects a
// log whose last anchor is below N (an old copy), and accepts it at N.
func TestMinCounter(t *testing.T) {
	v := vector(t, "intact_anchored")
	rep, err := verify.Dir(context.Background(), v.Dir, optionsFor(t, v))
	if err != nil || rep.Verdict != verify.Intact || rep.LastAnchor == nil || rep.LastAnchor.Anchors < 3 {
		t.Fatalf("anchored log: %v %+v %+v", err, rep.FirstFailure, rep.LastAnchor)
	}
	last := rep.LastAnchor.Counter
	opts := optionsFor(t, v)
	opts.MinCounter = &last
	if rep, _ := verify.Dir(context.Background(), v.Dir, opts); rep.Verdict != verify.Intact {
		t.Fatalf("min counter = last anchor: %+v", rep.FirstFailure)
	}
	above := last + 1
	opts.MinCounter = &above
	if rep, _ := verify.Dir(context.Background(), v.Dir, opts); rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonRolledBack {
		t.Fatalf("min counter above the last anchor: %+v", rep.FirstFailure)
	}
}
