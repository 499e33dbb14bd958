package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// sameReport fails unless got and want are the same report (but for the
// time taken).
func sameReport(t *testing.T, what string, got, want *verify.Report) {
	t.Helper()
	g, w := *got, *want
	g.Seconds, w.Seconds = 0, 0
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: report differs from one worker's\n got %+v\nwant %+v\n got failure %v\nwant failure %v", what, g, w, g.FirstFailure, w.FirstFailure)
	}
}

// TestParallelSameReport: for every vector, checking the records of each
// segment in parallel, in batches of any size, yields exactly the report of
// one worker checking in one pass: the same verdict, the same first failure
// (segment, offset, sequence number, reason, detail) and the same counts.
func TestParallelSameReport(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			opts := optionsFor(t, v)
			opts.Workers = 1
			want, err := verify.Dir(context.Background(), v.Dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range []int{1, 2, 3, 7, 512} {
				for _, workers := range []int{1, 2, 4} {
					restore := verify.SetBatchRecords(batch)
					opts.Workers = workers
					got, err := verify.Dir(context.Background(), v.Dir, opts)
					restore()
					if err != nil {
						t.Fatal(err)
					}
					sameReport(t, fmt.Sprintf("batch %d, workers %d", batch, workers), got, want)
				}
			}
		})
	}
}

// TestParallelMutations damages a multi-segment log at random places (some
// with the frame checksum fixed up, so that the record checks behind it are
// reached) and requires the parallel check to report what one worker
// reports.
func TestParallelMutations(t *testing.T) {
	v := vector(t, "intact_multi")
	n := 120
	if testing.Short() {
		n = 20
	}
	rng := rand.New(rand.NewPCG(6, 1))
	for i := range n {
		dir, what, ok := mutatedCopy(t, v, rng)
		if !ok {
			continue
		}
		opts := optionsFor(t, v)
		opts.Workers = 1
		want, err := verify.Dir(context.Background(), dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		restore := verify.SetBatchRecords(1 + rng.IntN(5))
		opts.Workers = 2 + rng.IntN(3)
		got, err := verify.Dir(context.Background(), dir, opts)
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if want.Verdict == verify.Intact {
			t.Fatalf("mutation %d (%s) went unnoticed", i, what)
		}
		sameReport(t, fmt.Sprintf("mutation %d (%s)", i, what), got, want)
	}
}

// mutatedCopy copies v's log and changes one random byte of one of its
// segments; with probability 3/4 it then fixes up the frame's checksum (and
// half of those times the record's stored hash), so that the checks behind
// them are reached. It reports false when the change undid itself.
func mutatedCopy(t *testing.T, v testkit.Vector, rng *rand.Rand) (dir, what string, ok bool) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	if err := testkit.CopyDir(v.Dir, dir); err != nil {
		t.Fatal(err)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, segs[rng.IntN(len(segs))].Name)
	os.Chmod(seg, 0o600)
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(data)
	at := 16 + rng.IntN(len(data)-16)
	data[at] ^= byte(1 + rng.IntN(255))
	fixCRC := rng.IntN(4) != 0
	if fixCRC {
		refreshFrame(data, at, rng.IntN(2) == 0)
	}
	if bytes.Equal(data, orig) {
		return "", "", false // the byte was in a stored hash, which the rehash restored
	}
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, fmt.Sprintf("byte %d of %s, crc fixed %v", at, filepath.Base(seg), fixCRC), true
}

// refreshFrame recomputes the checksum of the frame that holds byte at, if
// the frame headers up to it are intact; with rehash, it first recomputes
// the record's stored hash, so that the checks behind the hash are reached.
func refreshFrame(data []byte, at int, rehash bool) {
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	for off := 16; off+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[off:]))
		end := off + 8 + n
		if n == 0 || end > len(data) {
			return
		}
		if at < end {
			if at >= off+8 {
				if p := data[off+8 : end]; rehash && len(p) > 32 {
					copy(p[len(p)-32:], recordHash(p))
				}
				crc := crc32.Update(crc32.Update(0, castagnoli, data[off:off+4]), castagnoli, data[off+8:end])
				binary.BigEndian.PutUint32(data[off+4:], crc)
			}
			return
		}
		off = end
	}
}

func recordHash(p []byte) []byte {
	h := sha256.New()
	h.Write([]byte("audit-sealer record v1\n"))
	h.Write(p[:len(p)-32])
	return h.Sum(nil)
}
