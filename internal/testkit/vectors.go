package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/storage"
)

// Standard shapes of log used by the vectors.
func multiSpec() logSpec {
	return logSpec{events: 80, sealEvery: 7, segmentSize: 6000, key: Key("main"), logSeed: "main"}
}

// newVector builds a log following spec into root/name/data and writes the
// trusted key next to it.
func newVector(root, name string, spec logSpec) (Vector, error) {
	base := filepath.Join(root, name)
	v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem")}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return v, err
	}
	if _, err := buildLog(v.Dir, spec, NewClock(), false); err != nil {
		return v, err
	}
	return v, writePEM(v.KeyFile, Key("main"))
}

// tamperSegment builds a multi-segment log and applies fn to segment i
// (negative: from the end).
func tamperSegment(i int, fn func(s *segmentFile) error) func(root, name string) (Vector, error) {
	return func(root, name string) (Vector, error) {
		v, err := newVector(root, name, multiSpec())
		if err != nil {
			return v, err
		}
		names, err := segmentNames(v.Dir)
		if err != nil {
			return v, err
		}
		if len(names) < 4 {
			return v, fmt.Errorf("want at least 4 segments, got %d", len(names))
		}
		s, err := readSegment(segPath(v.Dir, names, i))
		if err != nil {
			return v, err
		}
		if err := fn(s); err != nil {
			return v, err
		}
		return v, s.write()
	}
}

func isEvent(r *chain.Record) bool      { return r.Kind == chain.KindEvent }
func isCheckpoint(r *chain.Record) bool { return r.Kind == chain.KindCheckpoint }

// flipEventByte changes one character inside a string value of the event
// JSON of frame i (a '-' in an identifier becomes '_'), so that the event
// stays valid and only the hashes can tell.
func flipEventByte(s *segmentFile, i int) {
	f := s.frames[i]
	ts := bytes.Index(f, []byte(`Z"`))
	at := ts + bytes.IndexByte(f[ts:], '-')
	f[at] = '_'
}

// generator builds one vector. expect is the verifier's reason code ("" for
// intact); sealer is what the sealer's start-up check must do with the
// directory, holding the key sealerKey ("main" when "") and, when counter is
// not 0, a TPM counter at that value.
type generator struct {
	name, comment, expect string
	sealer                SealerOutcome
	sealerKey             string
	counter               uint64
	build                 func(root, name string) (Vector, error)
	// witnessPolicy: the vector is also verified with the witnesses
	// TestWitnesses listed (quorum all, default freshness), and must then
	// report witnessExpect ("" intact).
	witnessPolicy bool
	witnessExpect string
}

var generators = []generator{
	{name: "intact_single", comment: "one segment, sealed every 10 events and at close", expect: "",
		build: func(root, name string) (Vector, error) {
			return newVector(root, name, logSpec{events: 30, sealEvery: 10, key: Key("main"), logSeed: "single"})
		}},
	{name: "intact_multi", comment: "several segments rotated by size, each ending in a checkpoint", expect: "",
		build: func(root, name string) (Vector, error) { return newVector(root, name, multiSpec()) }},
	{name: "intact_restarts", comment: "the sealer was stopped and started three times; the chain continues", expect: "",
		build: func(root, name string) (Vector, error) {
			s := multiSpec()
			s.restarts = 3
			return newVector(root, name, s)
		}},
	{name: "modified_event", comment: "one byte of an event in a middle segment changed, frame checksum recomputed", expect: "modified",
		build: tamperSegment(1, func(s *segmentFile) error {
			flipEventByte(s, s.findFrame(isEvent))
			return nil
		})},
	{name: "corrupt_frame", comment: "one byte of a middle segment flipped on disk (frame checksum fails)", expect: "modified",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			names, _ := segmentNames(v.Dir)
			p := segPath(v.Dir, names, 1)
			data, err := os.ReadFile(p)
			if err != nil {
				return v, err
			}
			data[len(data)/2] ^= 0x01
			os.Chmod(p, 0o600)
			return v, os.WriteFile(p, data, 0o600)
		}},
	{name: "record_rehashed", comment: "an event changed and its stored hash recomputed; the next record no longer links", expect: "chain_broken",
		build: tamperSegment(1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			flipEventByte(s, i)
			rec, _ := chain.Decode(s.frames[i])
			enc, err := rec.Encode(nil)
			s.frames[i] = enc
			return err
		})},
	{name: "chain_rewritten", sealer: SealerTailInvalid, comment: "an event changed and the rest of the segment re-linked; the next signed checkpoint no longer matches", expect: "checkpoint_mismatch",
		build: tamperSegment(-1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			flipEventByte(s, i)
			return s.rehash(i)
		})},
	{name: "record_deleted", comment: "one event record removed from a middle segment", expect: "sequence_gap",
		build: tamperSegment(1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			s.frames = append(s.frames[:i], s.frames[i+1:]...)
			return nil
		})},
	{name: "record_duplicated", comment: "one event record repeated in a middle segment", expect: "sequence_gap",
		build: tamperSegment(1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			s.frames = append(s.frames[:i+1], s.frames[i:]...)
			return nil
		})},
	{name: "records_swapped", comment: "two adjacent event records swapped in a middle segment", expect: "sequence_gap",
		build: tamperSegment(1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			s.frames[i], s.frames[i+1] = s.frames[i+1], s.frames[i]
			return nil
		})},
	{name: "checkpoint_bad_signature", sealer: SealerUnauthenticatedTail, comment: "a checkpoint's signature altered and the segment re-linked", expect: "bad_signature",
		build: tamperSegment(-1, func(s *segmentFile) error {
			i := s.findFrame(isCheckpoint)
			rec, err := chain.Decode(s.frames[i])
			if err != nil {
				return err
			}
			note := bytes.Clone(rec.Checkpoint)
			at := len(note) - 6
			if note[at] == 'A' {
				note[at] = 'B'
			} else {
				note[at] = 'A'
			}
			rec.Checkpoint = note
			enc, err := rec.Encode(nil)
			if err != nil {
				return err
			}
			s.frames[i] = enc
			return s.rehash(i)
		})},
	{name: "segment_missing_middle", comment: "a middle segment deleted", expect: "segment_missing",
		build: deleteSegment(1)},
	{name: "segment_missing_first", sealer: SealerHistoryRewritten, comment: "the first segment deleted", expect: "segment_missing",
		build: deleteSegment(0)},
	{name: "segments_renamed", comment: "two segment files swapped names", expect: "segment_reordered",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			names, _ := segmentNames(v.Dir)
			a, b, tmp := segPath(v.Dir, names, 1), segPath(v.Dir, names, 2), filepath.Join(v.Dir, "swap")
			return v, errors.Join(os.Rename(a, tmp), os.Rename(b, a), os.Rename(tmp, b))
		}},
	{name: "segment_duplicated", sealer: SealerTailInvalid, comment: "a middle segment copied under a later name", expect: "segment_duplicated",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			names, _ := segmentNames(v.Dir)
			data, err := os.ReadFile(segPath(v.Dir, names, 1))
			if err != nil {
				return v, err
			}
			return v, os.WriteFile(filepath.Join(v.Dir, fmt.Sprintf("%016x.seg", 1<<20)), data, 0o400)
		}},
	{name: "segment_foreign", comment: "a middle segment replaced by the same-named segment of another log signed by the same key", expect: "segment_foreign",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			other := filepath.Join(root, name, "other-log")
			spec := multiSpec()
			spec.logSeed = "another log"
			if _, err := buildLog(other, spec, NewClock(), false); err != nil {
				return v, err
			}
			names, _ := segmentNames(v.Dir)
			data, err := os.ReadFile(segPath(other, names, 1))
			if err != nil {
				return v, fmt.Errorf("the other log has no segment %s: %w", names[1], err)
			}
			p := segPath(v.Dir, names, 1)
			os.Chmod(p, 0o600)
			return v, errors.Join(os.WriteFile(p, data, 0o400), os.RemoveAll(other))
		}},
	{name: "forged_key", sealer: SealerKeyNotIntroduced, comment: "a whole log rebuilt and signed by a key the auditor does not trust: from the first checkpoint on, nothing the auditor trusts speaks for it (unverifiable, as with the wrong key)", expect: "untrusted_key",
		build: func(root, name string) (Vector, error) {
			spec := multiSpec()
			spec.key = Key("attacker")
			return newVector(root, name, spec)
		}},
	{name: "checkpoint_file_forged", comment: "the checkpoint file replaced by one signed by an untrusted key", expect: "unknown_key",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			other := filepath.Join(root, name, "other-log")
			spec := multiSpec()
			spec.key = Key("attacker")
			if _, err := buildLog(other, spec, NewClock(), false); err != nil {
				return v, err
			}
			data, err := os.ReadFile(filepath.Join(other, storage.CheckpointFile))
			if err != nil {
				return v, err
			}
			return v, errors.Join(os.WriteFile(filepath.Join(v.Dir, storage.CheckpointFile), data, 0o600), os.RemoveAll(other))
		}},
	{name: "truncated_tail", sealer: SealerShorterThanFile, comment: "the last records cut back to an earlier checkpoint; the checkpoint file still has the later one", expect: "truncated",
		build: truncate(false)},
	{name: "truncated_trusted", comment: "the last records cut and the checkpoint file removed; the auditor kept the later checkpoint", expect: "truncated",
		build: truncate(true)},
	{name: "rolled_back", comment: "an older, self-consistent copy of the whole directory, checked against a newer checkpoint the auditor kept", expect: "truncated",
		build: func(root, name string) (Vector, error) {
			base := filepath.Join(root, name)
			v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem"), TrustedFile: filepath.Join(base, "trusted.checkpoint")}
			live := filepath.Join(base, "live")
			clock := NewClock()
			if _, err := buildLog(live, multiSpec(), clock, false); err != nil {
				return v, err
			}
			if err := copyDir(live, v.Dir); err != nil {
				return v, err
			}
			more := multiSpec()
			more.events = 20
			if _, err := buildLog(live, more, clock, false); err != nil {
				return v, err
			}
			if err := copyFile(filepath.Join(live, storage.CheckpointFile), v.TrustedFile); err != nil {
				return v, err
			}
			return v, errors.Join(os.RemoveAll(live), writePEM(v.KeyFile, Key("main")))
		}},
	{name: "inconsistent_fork", comment: "the auditor's checkpoint comes from another log (a fork) signed by the same key", expect: "inconsistent_with_checkpoint",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			other := filepath.Join(root, name, "fork")
			spec := multiSpec()
			spec.logSeed = "fork"
			spec.events = 30
			if _, err := buildLog(other, spec, NewClock(), false); err != nil {
				return v, err
			}
			v.TrustedFile = filepath.Join(root, name, "trusted.checkpoint")
			return v, errors.Join(copyFile(filepath.Join(other, storage.CheckpointFile), v.TrustedFile), os.RemoveAll(other))
		}},
	{name: "intact_with_trusted", comment: "the auditor kept an earlier checkpoint of the same log; the log has grown since", expect: "",
		build: func(root, name string) (Vector, error) {
			base := filepath.Join(root, name)
			v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem"), TrustedFile: filepath.Join(base, "trusted.checkpoint")}
			clock := NewClock()
			if _, err := buildLog(v.Dir, multiSpec(), clock, false); err != nil {
				return v, err
			}
			if err := copyFile(filepath.Join(v.Dir, storage.CheckpointFile), v.TrustedFile); err != nil {
				return v, err
			}
			more := multiSpec()
			more.events = 25
			if _, err := buildLog(v.Dir, more, clock, false); err != nil {
				return v, err
			}
			return v, writePEM(v.KeyFile, Key("main"))
		}},
	{name: "intact_key_rotation", sealerKey: "third", comment: "the signing key was rotated twice, each new key introduced in the chain and endorsed by the previous one; the auditor trusts only the first key", expect: "",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			clock := NewClock()
			clock.T = clock.T.Add(time.Hour)
			for i, next := range []string{"second", "third"} {
				prev := "main"
				if i > 0 {
					prev = "second"
				}
				l, _, err := ledger.Open(ledger.Config{Dir: v.Dir, Signer: Key(prev), KeyName: "audit-sealer.test/log", Dev: true, SegmentSize: 6000, Now: clock.Now,
					Rand: &seededReader{buf: []byte(name + next)}})
				if err != nil {
					return v, err
				}
				if _, err := l.IntroduceKey(Key(next), "scheduled rotation"); err != nil {
					return v, err
				}
				for j := 0; j < 15; j++ {
					if err := appendEvent(l, j, clock); err != nil {
						return v, err
					}
					if _, err := l.RotateIfDue(); err != nil {
						return v, err
					}
				}
				if err := l.Close(); err != nil {
					return v, err
				}
			}
			// And the sealer restarts with the last key.
			l, _, err := ledger.Open(ledger.Config{Dir: v.Dir, Signer: Key("third"), KeyName: "audit-sealer.test/log", Dev: true, SegmentSize: 6000, Now: clock.Now,
				Rand: &seededReader{buf: []byte(name + "restart")}})
			if err != nil {
				return v, err
			}
			if err := appendEvent(l, 99, clock); err != nil {
				return v, err
			}
			return v, l.Close()
		}},
	{name: "key_unendorsed", sealerKey: "other", comment: "the sealer was restarted with a new key that the previous key never endorsed (accepted by the operator): unverifiable unless the auditor was given that key", expect: "untrusted_key",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			clock := NewClock()
			clock.T = clock.T.Add(time.Hour)
			l, _, err := ledger.Open(ledger.Config{Dir: v.Dir, Signer: Key("other"), Dev: true, SegmentSize: 6000, Now: clock.Now, AcceptNewKey: true,
				Rand: &seededReader{buf: []byte(name)}})
			if err != nil {
				return v, err
			}
			if err := appendEvent(l, 1, clock); err != nil {
				return v, err
			}
			return v, l.Close()
		}},
	{name: "intact_anchored", comment: "checkpoints anchored in a (simulated) TPM counter at rotation, at close and on demand, across restarts", expect: "",
		build: anchoredLog(false)},
	{name: "anchor_not_increasing", comment: "a broken counter that does not move: two anchored checkpoints carry the same value", expect: "anchor_sequence",
		build: anchoredLog(true)},
	{name: "schema_invalid", sealer: SealerTailInvalid, comment: "the sealer itself stored an event that is not valid (an unknown field), hashed and signed", expect: "schema_invalid",
		build: func(root, name string) (Vector, error) {
			base := filepath.Join(root, name)
			v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem")}
			clock := NewClock()
			spec := multiSpec()
			spec.events = 10
			l, err := buildLog(v.Dir, spec, clock, true)
			if err != nil {
				return v, err
			}
			bad := fmt.Sprintf(`{"type":"seal.verified","timestamp":"%s","shard_id":"s-1","worker_id":"w-1","pointer":"0x7f00"}`,
				clock.T.Format("2006-01-02T15:04:05Z"))
			if _, _, err := l.Append(chain.KindEvent, "worker-gpu-0", "seal.verified", []byte(bad), clock.Now()); err != nil {
				return v, err
			}
			return v, errors.Join(l.Close(), writePEM(v.KeyFile, Key("main")))
		}},
}

func deleteSegment(i int) func(root, name string) (Vector, error) {
	return func(root, name string) (Vector, error) {
		v, err := newVector(root, name, multiSpec())
		if err != nil {
			return v, err
		}
		names, _ := segmentNames(v.Dir)
		return v, os.Remove(segPath(v.Dir, names, i))
	}
}

// truncate cuts the last segment back to its first checkpoint.
func truncate(removeCheckpointFile bool) func(root, name string) (Vector, error) {
	return func(root, name string) (Vector, error) {
		v, err := newVector(root, name, multiSpec())
		if err != nil {
			return v, err
		}
		if removeCheckpointFile {
			v.TrustedFile = filepath.Join(root, name, "trusted.checkpoint")
			if err := copyFile(filepath.Join(v.Dir, storage.CheckpointFile), v.TrustedFile); err != nil {
				return v, err
			}
			if err := os.Remove(filepath.Join(v.Dir, storage.CheckpointFile)); err != nil {
				return v, err
			}
		}
		names, _ := segmentNames(v.Dir)
		s, err := readSegment(segPath(v.Dir, names, -1))
		if err != nil {
			return v, err
		}
		i := s.findFrame(isCheckpoint)
		if i < 0 || i == len(s.frames)-1 {
			return v, errors.New("the last segment has no early checkpoint to cut back to")
		}
		s.frames = s.frames[:i+1]
		return v, s.write()
	}
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o600)
}

// anchoredLog builds a log anchored in a testkit.Counter; with stuck, the
// counter never moves after its first value.
func anchoredLog(stuck bool) func(root, name string) (Vector, error) {
	return func(root, name string) (Vector, error) {
		base := filepath.Join(root, name)
		v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem")}
		if err := os.MkdirAll(base, 0o700); err != nil {
			return v, err
		}
		ctr := &Counter{Value: 100}
		clock := NewClock()
		for run := 0; run < 2; run++ {
			l, _, err := ledger.Open(ledger.Config{Dir: v.Dir, Signer: Key("main"), Dev: true, SegmentSize: 6000, Now: clock.Now,
				Rand: &seededReader{buf: []byte("anchored")}, Counter: ctr, AnchorIndex: 0x01500100})
			if err != nil {
				return v, err
			}
			for i := 0; i < 30; i++ {
				if err := appendEvent(l, i, clock); err != nil {
					return v, err
				}
				if i == 10 {
					ctr.Stuck = stuck
					if _, err := l.Seal(context.Background(), ledger.SealOptions{Anchor: true}); err != nil {
						return v, err
					}
				}
				if _, err := l.RotateIfDue(); err != nil {
					return v, err
				}
			}
			if err := l.Close(); err != nil {
				return v, err
			}
		}
		return v, writePEM(v.KeyFile, Key("main"))
	}
}
