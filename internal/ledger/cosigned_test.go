package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
)

// cosign returns witness label's cosignature line (no newline) of the
// signed checkpoint note.
func cosign(t *testing.T, label string, note []byte) string {
	t.Helper()
	c, err := testkit.WitnessKey(label).Cosign(note[:bytes.LastIndex(note, []byte("\n\n"))+1])
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(c.Line(), "\n")
}

func readCheckpointFile(t *testing.T, dir string) (size uint64, lines []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, storage.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	cp, _, _, err := chain.PeekCheckpoint(data)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	return cp.Size, strings.Split(strings.TrimSuffix(s[strings.LastIndex(s, "\n\n")+2:], "\n"), "\n")
}

// TestCosignedCheckpointFile: with witnesses, <dir>/checkpoint holds the
// latest cosigned checkpoint and its cosignature lines: a second witness's
// line joins the first, an older checkpoint's cosignature leaves the file
// alone, a newer one replaces it, and the regular refreshes (seal, Close)
// no longer overwrite it, in this run or the next. Without witnesses the
// regular refresh takes the file back. A note that is not one of the log's
// checkpoints is refused.
func TestCosignedCheckpointFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	cfg := config(t, dir, clock)
	cfg.Witnessed = true
	l, _, err := ledger.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 0, 3)
	cp1, err := l.Seal(context.Background(), ledger.SealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	note1 := l.LastSignedCheckpoint()
	if size, lines := readCheckpointFile(t, dir); size != cp1.Size || len(lines) != 1 {
		t.Fatalf("before any cosignature the file holds size %d with %d lines, want %d and the log's line", size, len(lines), cp1.Size)
	}
	appendN(t, l, clock, 3, 3)
	cp2, err := l.Seal(context.Background(), ledger.SealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	note2 := l.LastSignedCheckpoint()

	if err := l.AddCosignature(note2, cp2.Size, cosign(t, "w1", note2)); err != nil {
		t.Fatal(err)
	}
	if err := l.AddCosignature(note2, cp2.Size, cosign(t, "w2", note2)); err != nil {
		t.Fatal(err)
	}
	size, lines := readCheckpointFile(t, dir)
	if size != cp2.Size || len(lines) != 3 || lines[1] != cosign(t, "w1", note2) || lines[2] != cosign(t, "w2", note2) {
		t.Fatalf("after two cosignatures: size %d, lines %q", size, lines)
	}
	if err := l.AddCosignature(note1, cp1.Size, cosign(t, "w1", note1)); err != nil {
		t.Fatal(err)
	}
	if size, lines := readCheckpointFile(t, dir); size != cp2.Size || len(lines) != 3 {
		t.Fatalf("an older checkpoint's cosignature changed the file: size %d, %d lines", size, len(lines))
	}

	appendN(t, l, clock, 6, 3)
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if size, lines := readCheckpointFile(t, dir); size != cp2.Size || len(lines) != 3 {
		t.Fatalf("a seal or Close replaced the cosigned checkpoint: size %d, %d lines", size, len(lines))
	}

	l, _, err = ledger.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 9, 2)
	cp3, err := l.Seal(context.Background(), ledger.SealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := readCheckpointFile(t, dir); size != cp2.Size {
		t.Fatalf("after a restart a seal replaced the cosigned checkpoint (size %d)", size)
	}
	note3 := l.LastSignedCheckpoint()
	if err := l.AddCosignature(note3, cp3.Size, cosign(t, "w2", note3)); err != nil {
		t.Fatal(err)
	}
	if size, lines := readCheckpointFile(t, dir); size != cp3.Size || len(lines) != 2 || lines[1] != cosign(t, "w2", note3) {
		t.Fatalf("a newer cosigned checkpoint: size %d, lines %q", size, lines)
	}

	for _, bad := range []struct {
		note []byte
		size uint64
	}{{note3, cp3.Size + 1}, {note3[:len(note3)/2], cp3.Size}, {append(bytes.Clone(note3), cosign(t, "w1", note3)+"\n"...), cp3.Size}} {
		if err := l.AddCosignature(bad.note, bad.size, cosign(t, "w1", note3)); !errors.Is(err, ledger.ErrNotOwnCheckpoint) {
			t.Errorf("AddCosignature of a note that is not the log's checkpoint: %v", err)
		}
	}
	if err := l.AddCosignature(note3, cp3.Size, "not a signature line"); err == nil {
		t.Error("AddCosignature took a line that is not a signature line")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	cfg.Witnessed = false
	l, _, err = ledger.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 11, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if size, lines := readCheckpointFile(t, dir); size <= cp3.Size || len(lines) != 1 {
		t.Fatalf("without witnesses Close did not refresh the file: size %d, %d lines", size, len(lines))
	}
	if rep := verifyDir(t, dir); rep.Verdict != "intact" {
		t.Fatalf("verify: %+v", rep.FirstFailure)
	}
}
