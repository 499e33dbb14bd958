package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"

	"github.com/audit-sealer/audit-sealer/verify"
)

// sameAsAllSignatures checks dir without Options.AllSignatures, with one
// worker and with three, and requires the report of a check of every
// signature: the same verdict, first failure and counts, with fewer
// signatures checked when the log is intact and a segment holds more than
// one checkpoint.
func sameAsAllSignatures(t *testing.T, what, dir string, opts verify.Options) {
	t.Helper()
	opts.AllSignatures, opts.Workers = true, 1
	want, err := verify.Dir(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want.SignaturesChecked < want.Checkpoints {
		t.Fatalf("%s: with every signature: %d signatures checked for %d checkpoints", what, want.SignaturesChecked, want.Checkpoints)
	}
	for _, workers := range []int{1, 3} {
		opts.AllSignatures, opts.Workers = false, workers
		got, err := verify.Dir(context.Background(), dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if want.Verdict == verify.Intact && want.Checkpoints > want.Segments && got.SignaturesChecked >= want.SignaturesChecked {
			t.Fatalf("%s: %d signatures checked, as many as with every signature (%d)", what, got.SignaturesChecked, want.SignaturesChecked)
		}
		if got.Verdict == verify.Intact && got.SignaturesChecked == 0 {
			t.Fatalf("%s: intact with no signature checked", what)
		}
		g := *got
		g.SignaturesChecked = want.SignaturesChecked
		sameReport(t, fmt.Sprintf("%s, workers %d", what, workers), &g, want)
	}
}

// TestSignatureCoverage: for every vector (intact, tampered in each way the
// vectors know, rotated keys, an unendorsed key, a forged key), checking
// only the signatures that cover the others gives exactly the report of a
// check of every signature.
func TestSignatureCoverage(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			sameAsAllSignatures(t, v.Name, v.Dir, optionsFor(t, v))
		})
	}
}

// TestSignatureCoverageMutations: the same on random one-byte changes of
// logs with many checkpoints per segment, with rotated keys and with
// anchors, checksums and hashes fixed up so that the checks behind them
// are reached.
func TestSignatureCoverageMutations(t *testing.T) {
	n := 40
	if testing.Short() {
		n = 10
	}
	rng := rand.New(rand.NewPCG(7, 2))
	for _, name := range []string{"intact_multi", "intact_key_rotation", "intact_anchored"} {
		v := vector(t, name)
		for i := range n {
			dir, what, ok := mutatedCopy(t, v, rng)
			if !ok {
				continue
			}
			sameAsAllSignatures(t, fmt.Sprintf("%s mutation %d (%s)", name, i, what), dir, optionsFor(t, v))
		}
	}
}

// TestLastCheckpointSignatureChecked: a bad signature on the last
// checkpoint of the log, whose record hash and frame checksum were made to
// match (no record follows it to notice), is found without AllSignatures:
// the last checkpoint of a segment is always checked.
func TestLastCheckpointSignatureChecked(t *testing.T) {
	v := vector(t, "intact_single")
	dir := filepath.Join(t.TempDir(), "data")
	if err := testkit.CopyDir(v.Dir, dir); err != nil {
		t.Fatal(err)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, segs[len(segs)-1].Name)
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.LastIndex(data, []byte("\n\u2014 "))
	sig := line + bytes.IndexByte(data[line+5:], ' ') + 5 + 1 // the base64 after the key name
	if line < 0 || sig <= line+5 {
		t.Fatal("no signature line in the last segment")
	}
	at := sig + 12 // inside the signature, past the 4-byte key ID
	if data[at] == 'A' {
		data[at] = 'B'
	} else {
		data[at] = 'A'
	}
	refreshFrame(data, at, true)
	os.Chmod(seg, 0o600)
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	opts := optionsFor(t, v)
	rep, err := verify.Dir(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonBadSignature {
		t.Fatalf("verdict %s, failure %v; want bad_signature", rep.Verdict, rep.FirstFailure)
	}
	sameAsAllSignatures(t, "last checkpoint's signature changed", dir, opts)
}
