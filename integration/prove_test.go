package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/storage"
)

// TestProveLargeLog: on a log of 100,000 events (20,000 with -short) in many
// segments, audit-sealer prove --seq writes a bundle that audit-verify proof
// accepts for the records on both sides of segment boundaries and for
// the last sealed record; a bundle whose record was altered is refused,
// and a record the last checkpoint does not cover cannot be proved.
func TestProveLargeLog(t *testing.T) {
	n, seg := 100_000, int64(4<<20)
	if testing.Short() {
		n, seg = 20_000, 1<<20
	}
	dir := filepath.Join(t.TempDir(), "data")
	key, err := testkit.BuildRealisticLog(dir, testkit.RealisticOptions{Events: n, SegmentSize: seg, Step: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 4 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	info, err := query.Scan(context.Background(), dir, query.Filter{Sealer: true, Limit: 1}, func(*query.Match) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	last := info.SealedSize - 1
	if last < uint64(n) {
		t.Fatalf("sealed size %d for %d events", info.SealedSize, n)
	}
	seqs := map[uint64]bool{0: true, last: true, last - 1: true}
	// Each prove reads the log through; the first three boundaries and the
	// last three are enough to cover early, late and day-change rotations.
	for i, s := range segs {
		if i > 0 && (i <= 3 || i >= len(segs)-3) {
			seqs[s.FirstSeq-1], seqs[s.FirstSeq] = true, true
		}
	}
	out := t.TempDir()
	proved := 0
	for seq := range seqs {
		bundle := filepath.Join(out, strconv.FormatUint(seq, 10)+".json")
		if b, err := exec.Command(filepath.Join(bin, "audit-sealer"), "prove", "--data-dir", dir, "--seq", strconv.FormatUint(seq, 10), "--out", bundle).CombinedOutput(); err != nil {
			t.Fatalf("prove --seq %d: %v\n%s", seq, err, b)
		}
		code, rep := auditVerifyArgs(t, "proof", "--key", key, "--json", bundle)
		if code != 0 || rep["verdict"] != "valid" || rep["seq"] != float64(seq) {
			t.Fatalf("audit-verify proof of record %d: exit %d, %v", seq, code, rep)
		}
		if cp, _ := rep["checkpoint"].(map[string]any); cp == nil || cp["size"] != float64(info.SealedSize) {
			t.Fatalf("record %d: proved under checkpoint %v, want the last one (size %d)", seq, rep["checkpoint"], info.SealedSize)
		}
		proved++
	}
	t.Logf("%d records proved, %d segments, sealed size %d", proved, len(segs), info.SealedSize)

	// An altered record does not verify.
	bundle := filepath.Join(out, strconv.FormatUint(segs[1].FirstSeq, 10)+".json")
	var b map[string]any
	data, _ := os.ReadFile(bundle)
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	rec, err := base64.StdEncoding.DecodeString(b["record"].(string))
	if err != nil {
		t.Fatal(err)
	}
	rec[len(rec)-2] ^= 1
	b["record"] = base64.StdEncoding.EncodeToString(rec)
	data, _ = json.Marshal(b)
	altered := filepath.Join(out, "altered.json")
	os.WriteFile(altered, data, 0o600)
	if code, rep := auditVerifyArgs(t, "proof", "--key", key, "--json", altered); code == 0 || rep["verdict"] == "valid" {
		t.Fatalf("an altered record was accepted: exit %d, %v", code, rep)
	}

	// The checkpoint record itself, at the sealed size, is not covered.
	if b, err := exec.Command(filepath.Join(bin, "audit-sealer"), "prove", "--data-dir", dir, "--seq", strconv.FormatUint(info.SealedSize, 10)).CombinedOutput(); err == nil {
		t.Fatalf("prove --seq %d (not covered by the last checkpoint) succeeded:\n%s", info.SealedSize, b)
	}
}
