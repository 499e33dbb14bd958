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

var generators = []struct {
	name, comment, expect string
	build                 func(root, name string) (Vector, error)
}{
	{"intact_single", "one segment, sealed every 10 events and at close", "",
		func(root, name string) (Vector, error) {
			return newVector(root, name, logSpec{events: 30, sealEvery: 10, key: Key("main"), logSeed: "single"})
		}},
	{"intact_multi", "several segments rotated by size, each ending in a checkpoint", "",
		func(root, name string) (Vector, error) { return newVector(root, name, multiSpec()) }},
	{"intact_restarts", "the sealer was stopped and started three times; the chain continues", "",
		func(root, name string) (Vector, error) {
			s := multiSpec()
			s.restarts = 3
			return newVector(root, name, s)
		}},
	{"modified_event", "one byte of an event in a middle segment changed, frame checksum recomputed", "modified",
		tamperSegment(1, func(s *segmentFile) error {
			flipEventByte(s, s.findFrame(isEvent))
			return nil
		})},
	{"corrupt_frame", "one byte of a middle segment flipped on disk (frame checksum fails)", "modified",
		func(root, name string) (Vector, error) {
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
	{"record_rehashed", "an event changed and its stored hash recomputed; the next record no longer links", "chain_broken",
		tamperSegment(1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			flipEventByte(s, i)
			rec, _ := chain.Decode(s.frames[i])
			enc, err := rec.Encode(nil)
			s.frames[i] = enc
			return err
		})},
	{"chain_rewritten", "an event changed and the rest of the segment re-linked; the next signed checkpoint no longer matches", "checkpoint_mismatch",
		tamperSegment(-1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			flipEventByte(s, i)
			return s.rehash(i)
		})},
	{"record_deleted", "one event record removed from a middle segment", "sequence_gap",
		tamperSegment(1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			s.frames = append(s.frames[:i], s.frames[i+1:]...)
			return nil
		})},
	{"record_duplicated", "one event record repeated in a middle segment", "sequence_gap",
		tamperSegment(1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			s.frames = append(s.frames[:i+1], s.frames[i:]...)
			return nil
		})},
	{"records_swapped", "two adjacent event records swapped in a middle segment", "sequence_gap",
		tamperSegment(1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			s.frames[i], s.frames[i+1] = s.frames[i+1], s.frames[i]
			return nil
		})},
	{"checkpoint_bad_signature", "a checkpoint's signature altered and the segment re-linked", "bad_signature",
		tamperSegment(-1, func(s *segmentFile) error {
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
	{"segment_missing_middle", "a middle segment deleted", "segment_missing",
		deleteSegment(1)},
	{"segment_missing_first", "the first segment deleted", "segment_missing",
		deleteSegment(0)},
	{"segments_renamed", "two segment files swapped names", "segment_reordered",
		func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			names, _ := segmentNames(v.Dir)
			a, b, tmp := segPath(v.Dir, names, 1), segPath(v.Dir, names, 2), filepath.Join(v.Dir, "swap")
			return v, errors.Join(os.Rename(a, tmp), os.Rename(b, a), os.Rename(tmp, b))
		}},
	{"segment_duplicated", "a middle segment copied under a later name", "segment_duplicated",
		func(root, name string) (Vector, error) {
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
	{"segment_foreign", "a middle segment replaced by the same-named segment of another log signed by the same key", "segment_foreign",
		func(root, name string) (Vector, error) {
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
	{"forged_key", "a whole log rebuilt and signed by a key the auditor does not trust", "unknown_key",
		func(root, name string) (Vector, error) {
			spec := multiSpec()
			spec.key = Key("attacker")
			return newVector(root, name, spec)
		}},
	{"checkpoint_file_forged", "the checkpoint file replaced by one signed by an untrusted key", "unknown_key",
		func(root, name string) (Vector, error) {
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
			data, err := os.ReadFile(filepath.Join(other, ledger.CheckpointFile))
			if err != nil {
				return v, err
			}
			return v, errors.Join(os.WriteFile(filepath.Join(v.Dir, ledger.CheckpointFile), data, 0o600), os.RemoveAll(other))
		}},
	{"truncated_tail", "the last records cut back to an earlier checkpoint; the checkpoint file still has the later one", "truncated",
		truncate(false)},
	{"truncated_trusted", "the last records cut and the checkpoint file removed; the auditor kept the later checkpoint", "truncated",
		truncate(true)},
	{"rolled_back", "an older, self-consistent copy of the whole directory, checked against a newer checkpoint the auditor kept", "truncated",
		func(root, name string) (Vector, error) {
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
			if err := copyFile(filepath.Join(live, ledger.CheckpointFile), v.TrustedFile); err != nil {
				return v, err
			}
			return v, errors.Join(os.RemoveAll(live), writePEM(v.KeyFile, Key("main")))
		}},
	{"inconsistent_fork", "the auditor's checkpoint comes from another log (a fork) signed by the same key", "inconsistent_with_checkpoint",
		func(root, name string) (Vector, error) {
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
			return v, errors.Join(copyFile(filepath.Join(other, ledger.CheckpointFile), v.TrustedFile), os.RemoveAll(other))
		}},
	{"intact_with_trusted", "the auditor kept an earlier checkpoint of the same log; the log has grown since", "",
		func(root, name string) (Vector, error) {
			base := filepath.Join(root, name)
			v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem"), TrustedFile: filepath.Join(base, "trusted.checkpoint")}
			clock := NewClock()
			if _, err := buildLog(v.Dir, multiSpec(), clock, false); err != nil {
				return v, err
			}
			if err := copyFile(filepath.Join(v.Dir, ledger.CheckpointFile), v.TrustedFile); err != nil {
				return v, err
			}
			more := multiSpec()
			more.events = 25
			if _, err := buildLog(v.Dir, more, clock, false); err != nil {
				return v, err
			}
			return v, writePEM(v.KeyFile, Key("main"))
		}},
	{"unsealed_tail", "events made durable after the last checkpoint, then the sealer crashed", "unsealed_tail",
		func(root, name string) (Vector, error) {
			base := filepath.Join(root, name)
			v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem")}
			live := filepath.Join(base, "live")
			clock := NewClock()
			if _, err := buildLog(live, multiSpec(), clock, false); err != nil {
				return v, err
			}
			more := multiSpec()
			more.events, more.sealEvery = 3, 0
			l, err := buildLog(live, more, clock, true)
			if err != nil {
				return v, err
			}
			err = copyDir(live, v.Dir) // the crash image: synced, not sealed
			return v, errors.Join(err, l.Close(), os.RemoveAll(live), writePEM(v.KeyFile, Key("main")))
		}},
	{"torn_tail", "the last frame was only partly written when the sealer crashed", "torn_tail",
		func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			names, _ := segmentNames(v.Dir)
			f, err := os.OpenFile(segPath(v.Dir, names, -1), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return v, err
			}
			torn := frame(bytes.Repeat([]byte{7}, 100))[:40]
			_, err = f.Write(torn)
			return v, errors.Join(err, f.Close())
		}},
	{"intact_key_rotation", "the signing key was rotated twice, each new key introduced in the chain and endorsed by the previous one; the auditor trusts only the first key", "",
		func(root, name string) (Vector, error) {
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
				l, _, err := ledger.Open(ledger.Config{Dir: v.Dir, Signer: Key(prev), KeyName: "audit-sealer.test/log", Dev: true, SegmentSize: 6000, Now: clock.Now})
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
			l, _, err := ledger.Open(ledger.Config{Dir: v.Dir, Signer: Key("third"), KeyName: "audit-sealer.test/log", Dev: true, SegmentSize: 6000, Now: clock.Now})
			if err != nil {
				return v, err
			}
			if err := appendEvent(l, 99, clock); err != nil {
				return v, err
			}
			return v, l.Close()
		}},
	{"key_unendorsed", "the sealer was restarted with a new key that the previous key never endorsed (accepted by the operator)", "unknown_key",
		func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			clock := NewClock()
			clock.T = clock.T.Add(time.Hour)
			l, _, err := ledger.Open(ledger.Config{Dir: v.Dir, Signer: Key("other"), Dev: true, SegmentSize: 6000, Now: clock.Now, AcceptNewKey: true})
			if err != nil {
				return v, err
			}
			if err := appendEvent(l, 1, clock); err != nil {
				return v, err
			}
			return v, l.Close()
		}},
	{"intact_anchored", "checkpoints anchored in a (simulated) TPM counter at rotation, at close and on demand, across restarts", "",
		anchoredLog(false)},
	{"anchor_not_increasing", "a broken counter that does not move: two anchored checkpoints carry the same value", "anchor_sequence",
		anchoredLog(true)},
	{"schema_invalid", "the sealer itself stored an event that is not valid (an unknown field), hashed and signed", "schema_invalid",
		func(root, name string) (Vector, error) {
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
			if err := copyFile(filepath.Join(v.Dir, ledger.CheckpointFile), v.TrustedFile); err != nil {
				return v, err
			}
			if err := os.Remove(filepath.Join(v.Dir, ledger.CheckpointFile)); err != nil {
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
					if _, err := l.SealAnchored(context.Background()); err != nil {
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
