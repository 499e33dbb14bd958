package storage_test

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
)

// TestVectorFraming reads every segment of the shared test vectors with the
// storage reader: logs whose damage is above the framing read cleanly; the
// corrupt frame is a CorruptError and the torn tail a TornTailError, each
// in the right segment.
func TestVectorFraming(t *testing.T) {
	vs, err := testkit.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			segs, err := storage.ListSegments(v.Dir)
			if err != nil {
				t.Fatal(err)
			}
			var corrupt *storage.CorruptError
			var torn *storage.TornTailError
			frames := 0
			for i, s := range segs {
				r, err := storage.OpenSegment(filepath.Join(v.Dir, s.Name), i == len(segs)-1)
				if err != nil {
					t.Fatal(err)
				}
				for {
					_, _, err := r.Next()
					if err == io.EOF {
						break
					}
					if errors.As(err, &corrupt) || errors.As(err, &torn) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					frames++
				}
				r.Close()
			}
			switch v.Name {
			case "corrupt_frame":
				if corrupt == nil || corrupt.Segment != segs[1].Name || !errors.Is(corrupt, storage.ErrChecksum) {
					t.Fatalf("want a checksum CorruptError in %s, got %v", segs[1].Name, corrupt)
				}
			case "torn_tail":
				if torn == nil || torn.Segment != segs[len(segs)-1].Name {
					t.Fatalf("want a TornTailError in the last segment, got %v", torn)
				}
			default:
				if corrupt != nil || torn != nil {
					t.Fatalf("framing damage in a vector whose damage is above framing: %v %v", corrupt, torn)
				}
			}
			if frames == 0 {
				t.Fatal("no frames read")
			}
		})
	}
}
