package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/witness"
)

// Witness vectors (FORMAT.md §5.6): logs whose checkpoints the test
// witnesses (WitnessKey) cosigned, recorded as the sealer records them, and
// what the verifier must say with and without a witness policy.

// WitnessedSpec describes a log built by BuildWitnessedLog.
type WitnessedSpec struct {
	Events    int      // client events
	SealEvery int      // seal after this many events
	Segment   int64    // segment size (0: one segment)
	Witnesses []string // labels of the witnesses that cosign each seal (WitnessKey)
	// WitnessedEvents stops the witnessing after this many events (0: to
	// the end); Gap then moves the clock on before the rest.
	WitnessedEvents int
	Gap             time.Duration
	// CosignedFile writes <dir>/checkpoint as the sealer does with
	// witnesses: the latest checkpoint the witnesses cosigned, with the
	// log's signature line and one cosignature line per witness.
	CosignedFile bool
	// Seed seeds the log ID (and so the origin): two logs of the same
	// seed are two histories of the same log.
	Seed string
	// Event returns the i-th client event (nil: the template mix).
	Event func(i int, now time.Time) (service string, body []byte)
}

// WitnessedLog is a log BuildWitnessedLog wrote, with what it holds.
type WitnessedLog struct {
	Dir string
	// Cosigned are the cosigned checkpoints, in log order: the signed
	// note of each checkpoint the witnesses cosigned with their
	// cosignature lines appended.
	Cosigned [][]byte
	// Records are the audit.checkpoint_witnessed records.
	Records []uint64
	Clock   *Clock
}

// BuildWitnessedLog writes a log into dir with the "main" key in which,
// after every seal up to spec.WitnessedEvents, each witness of spec
// cosigns the checkpoint just made at the clock's time, and the
// cosignature is recorded as an audit.checkpoint_witnessed sealer event,
// as the sealer records it. The log is closed (sealed) at the end.
func BuildWitnessedLog(dir string, spec WitnessedSpec) (*WitnessedLog, error) {
	clock := NewClock()
	seed := spec.Seed
	if seed == "" {
		seed = "witnessed"
	}
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: Key("main"), Dev: true, SegmentSize: spec.Segment, Now: clock.Now,
		Rand: &seededReader{buf: []byte(seed)}})
	if err != nil {
		return nil, err
	}
	out := &WitnessedLog{Dir: dir, Clock: clock}
	var signers []*witness.Signer
	for _, w := range spec.Witnesses {
		s := WitnessKey(w)
		s.Now = func() time.Time { return clock.T }
		signers = append(signers, s)
	}
	for i := 0; i < spec.Events; i++ {
		if spec.WitnessedEvents > 0 && i == spec.WitnessedEvents {
			clock.T = clock.T.Add(spec.Gap)
		}
		if spec.Event != nil {
			service, body := spec.Event(i, clock.T)
			if err := appendJSON(l, service, body, clock); err != nil {
				l.Close()
				return nil, err
			}
		} else if err := appendEvent(l, i, clock); err != nil {
			l.Close()
			return nil, err
		}
		if (i+1)%spec.SealEvery == 0 {
			if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
				l.Close()
				return nil, err
			}
			if spec.WitnessedEvents == 0 || i < spec.WitnessedEvents {
				if err := cosignLast(l, signers, clock, out); err != nil {
					l.Close()
					return nil, err
				}
			}
		}
		if _, err := l.RotateIfDue(); err != nil {
			l.Close()
			return nil, err
		}
	}
	if err := l.Close(); err != nil {
		return nil, err
	}
	if spec.CosignedFile && len(out.Cosigned) > 0 {
		if err := os.WriteFile(filepath.Join(dir, storage.CheckpointFile), out.Cosigned[len(out.Cosigned)-1], 0o600); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// cosignLast has each signer cosign the ledger's last checkpoint a second
// later and appends the records, as the sealer does when the answers come.
func cosignLast(l *ledger.Ledger, signers []*witness.Signer, clock *Clock, out *WitnessedLog) error {
	if len(signers) == 0 {
		return nil
	}
	note := bytes.Clone(l.LastSignedCheckpoint())
	text := note[:bytes.LastIndex(note, []byte("\n\n"))+1]
	cp, err := chain.ParseCheckpointText(string(text))
	if err != nil {
		return err
	}
	clock.T = clock.T.Add(time.Second)
	cosigned := note
	for _, s := range signers {
		c, err := s.Cosign(text)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(s.Name(), "witness.test/")
		seq, err := l.AppendSealerEvent(&event.CheckpointWitnessed{Timestamp: clock.Now().UTC(), Witness: name, Size: cp.Size,
			Checkpoint: string(text), Cosignature: strings.TrimSuffix(c.Line(), "\n")})
		if err != nil {
			return err
		}
		out.Records = append(out.Records, seq)
		cosigned = append(cosigned, c.Line()...)
	}
	out.Cosigned = append(out.Cosigned, cosigned)
	return nil
}

// appendJSON appends a client event given as JSON, validated and
// canonical.
func appendJSON(l *ledger.Ledger, service string, raw []byte, clock *Clock) error {
	now := clock.Now()
	ev, err := event.Decode(raw, event.DecodeOptions{Now: now})
	if err != nil {
		return err
	}
	body, err := event.Encode(ev)
	if err != nil {
		return err
	}
	_, _, err = l.Append(chain.KindEvent, service, ev.EventType(), body, now)
	return err
}

// AppendSealerEvents reopens the log in dir (key "main") and appends the
// sealer events, then seals and closes it: what a sealer that ran again
// would add.
func AppendSealerEvents(dir string, clock *Clock, seed string, evs ...func(now time.Time) event.Event) error {
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: Key("main"), Dev: true, Now: clock.Now, Rand: &seededReader{buf: []byte(seed)}})
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if _, err := l.AppendSealerEvent(ev(clock.T.UTC())); err != nil {
			l.Close()
			return err
		}
	}
	return l.Close()
}

// witnessedSpec is the log of the witness vectors: several segments, a
// seal every 7 events, each seal cosigned by w1 and w2.
func witnessedSpec() WitnessedSpec {
	return WitnessedSpec{Events: 60, SealEvery: 7, Segment: 6000, Witnesses: []string{"w1", "w2"}, CosignedFile: true}
}

// witnessVector builds a witness vector: the log of spec, then fn (if not
// nil) on it.
func witnessVector(spec WitnessedSpec, fn func(v Vector, wl *WitnessedLog) error) func(root, name string) (Vector, error) {
	return func(root, name string) (Vector, error) {
		base := filepath.Join(root, name)
		v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem")}
		if err := os.MkdirAll(base, 0o700); err != nil {
			return v, err
		}
		wl, err := BuildWitnessedLog(v.Dir, spec)
		if err != nil {
			return v, err
		}
		if fn != nil {
			if err := fn(v, wl); err != nil {
				return v, err
			}
		}
		return v, writePEM(v.KeyFile, Key("main"))
	}
}

// witnessVectors are the vectors of the witness policy. Each is verified
// with the witnesses w1 and w2 listed (quorum: both) and the default
// freshness bound, besides the verification without a policy (expect).
var witnessVectors = []generator{
	{name: "witnessed", expect: "", witnessPolicy: true, witnessExpect: "",
		comment: "every seal cosigned by witnesses w1 and w2, recorded as audit.checkpoint_witnessed; the checkpoint file holds the latest cosigned checkpoint with both cosignature lines",
		build:   witnessVector(witnessedSpec(), nil)},
	{name: "witness_quorum_missing", expect: "", witnessPolicy: true, witnessExpect: "unwitnessed",
		comment: "every seal cosigned by w1 only: the policy asks for w1 and w2",
		build: witnessVector(func() WitnessedSpec {
			s := witnessedSpec()
			s.Witnesses = []string{"w1"}
			return s
		}(), nil)},
	{name: "witness_stale", expect: "", witnessPolicy: true, witnessExpect: "unwitnessed",
		comment: "seals cosigned by w1 and w2 for the first 30 events; the log then goes on for two hours unwitnessed, beyond the default freshness of one hour",
		build: witnessVector(func() WitnessedSpec {
			s := witnessedSpec()
			s.WitnessedEvents, s.Gap = 30, 2*time.Hour
			return s
		}(), nil)},
	{name: "witness_fork", expect: "", witnessPolicy: true, witnessExpect: "inconsistent_with_witness",
		comment: "a witnessed log that also records w1's valid cosignature of a checkpoint of another history of the same log (same origin and key, other events) at a size the log reached",
		build: witnessVector(witnessedSpec(), func(v Vector, wl *WitnessedLog) error {
			forkDir := v.Dir + ".fork"
			spec := witnessedSpec()
			spec.Event = func(i int, now time.Time) (string, []byte) { return EventJSON(i+1, now) }
			spec.CosignedFile = false
			fork, err := BuildWitnessedLog(forkDir, spec)
			if err != nil {
				return err
			}
			defer os.RemoveAll(forkDir)
			forked := fork.Cosigned[len(fork.Cosigned)/2]
			n, err := witness.ParseSignedNote(forked)
			if err != nil {
				return err
			}
			var w1 string
			for _, c := range n.Cosignatures() {
				if c.Name == "witness.test/w1" {
					w1 = strings.TrimSuffix(c.Line(), "\n")
				}
			}
			cp, err := chain.ParseCheckpointText(string(n.Text))
			if err != nil {
				return err
			}
			return AppendSealerEvents(v.Dir, wl.Clock, "witness fork", func(now time.Time) event.Event {
				return &event.CheckpointWitnessed{Timestamp: now, Witness: "w1", Size: cp.Size, Checkpoint: string(n.Text), Cosignature: w1}
			})
		})},
	{name: "witness_alarm", expect: "", witnessPolicy: true, witnessExpect: "inconsistent_with_witness",
		comment: "a witnessed log whose sealer then recorded a split-view alarm about w1 (audit.witness_alarm): w1 refused a checkpoint as inconsistent with one it cosigned",
		build: witnessVector(witnessedSpec(), func(v Vector, wl *WitnessedLog) error {
			known := uint64(1000)
			return AppendSealerEvents(v.Dir, wl.Clock, "witness alarm", func(now time.Time) event.Event {
				return &event.WitnessAlarm{Timestamp: now, Witness: "w1", OldSize: 60, Size: 90, KnownSize: &known,
					Answer: fmt.Sprintf("%v: sent old size 60, the witness cosigned size %d", witness.ErrConflict, known)}
			})
		})},
}

// TestWitnesses are the labels of the witnesses every witness vector's
// policy lists.
var TestWitnesses = []string{"w1", "w2"}

// writeWitnessesFile writes <vector>/witnesses.txt: the verifier keys of
// the witnesses the vector's policy lists, one per line.
func writeWitnessesFile(v Vector) error {
	return os.WriteFile(v.WitnessesFile, []byte(strings.Join(v.Witnesses, "\n")+"\n"), 0o600)
}
