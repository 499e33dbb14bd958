package verify_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// TestCheckpointFileNotRead: a checkpoint file replaced by a sparse file of
// a gigabyte, or by a symbolic link, is refused without being read or
// followed (the sealer writes a checkpoint of at most 16 KiB there).
func TestCheckpointFileNotRead(t *testing.T) {
	v := vector(t, "intact_single")
	for _, tc := range []struct {
		name  string
		plant func(path string) error
	}{
		{"sparse", func(path string) error {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(1 << 30)
		}},
		{"symlink", func(path string) error {
			target := filepath.Join(filepath.Dir(filepath.Dir(path)), "elsewhere")
			if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
				return err
			}
			os.Remove(path)
			return os.Symlink(target, path)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := testkit.CopyDir(v.Dir, dir); err != nil {
				t.Fatal(err)
			}
			if err := tc.plant(filepath.Join(dir, storage.CheckpointFile)); err != nil {
				t.Fatal(err)
			}
			rep, err := verify.Dir(context.Background(), dir, optionsFor(t, v))
			if err != nil {
				t.Fatal(err)
			}
			if rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonMalformed || rep.FirstFailure.Segment != storage.CheckpointFile {
				t.Fatalf("verdict %s, first failure %v; want malformed in the checkpoint file", rep.Verdict, rep.FirstFailure)
			}
		})
	}
}
