package testkit

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
	"github.com/audit-sealer/audit-sealer/witness"
)

// FormatExamples builds a small log with the fixed test key and clock in a
// temporary directory and returns the worked examples of FORMAT.md, by name:
// "event-record" (an annotated event record), "checkpoint" (a signed
// checkpoint with the verifier key that opens it), "commit-record" (an
// annotated commit record, with the run key that signed it) and
// "index-file" (the annotated index file of the example's segment),
// "key-history" (the key history bundle of a log rotated once, decoded) and
// "cosignature" (a witness's cosignature of the example checkpoint) and
// "witnessed-bundle" (the inclusion bundle of a record whose checkpoint the
// test witnesses cosigned).
func FormatExamples() (map[string]string, error) {
	root, err := os.MkdirTemp("", "audit-sealer-format-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	dir := filepath.Join(root, "data")
	// Three events sealed, then a fourth made durable by a commit, then the
	// closing checkpoint.
	if _, err := buildLog(dir, logSpec{events: 4, sealEvery: 3, key: Key("main"), logSeed: "format example"}, NewClock(), false); err != nil {
		return nil, err
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return nil, err
	}
	seg, err := readSegment(filepath.Join(dir, segs[0].Name))
	if err != nil {
		return nil, err
	}
	out := map[string]string{
		"segment-header": fmt.Sprintf("%-26s %s\n%-26s %s\n%-26s %s\n", "magic \"ASEALSEG\"", hex.EncodeToString(seg.header[:8]),
			"version 1", hex.EncodeToString(seg.header[8:12]), "reserved", hex.EncodeToString(seg.header[12:16])),
	}
	var runKey []byte
	for i, f := range seg.frames {
		if i == 0 {
			rec, err := chain.Decode(f)
			if err != nil {
				return nil, err
			}
			out["genesis-record"] = annotateStart(f, &rec)
			continue
		}
		rec, err := chain.Decode(f)
		if err != nil {
			return nil, err
		}
		switch {
		case rec.Kind == chain.KindEvent && out["event-record"] == "":
			out["event-record"] = annotateEvent(f, &rec)
		case rec.Kind == chain.KindCheckpoint && out["checkpoint"] == "":
			out["checkpoint"] = fmt.Sprintf("%s\nverifier key: %s\n", rec.Checkpoint, Key("main").Public().VerifierKey())
			if out["cosignature"], err = cosignatureExample(rec.Checkpoint); err != nil {
				return nil, err
			}
			cp, _, _, err := chain.PeekCheckpoint(rec.Checkpoint)
			if err != nil {
				return nil, err
			}
			runKey = cp.RunKey
		case rec.Kind == chain.KindCommit && out["commit-record"] == "":
			if !chain.VerifyCommit(&rec, runKey) {
				return nil, fmt.Errorf("testkit: the example commit does not verify with the run key")
			}
			out["commit-record"] = annotateCommit(f, &rec, runKey)
		}
	}
	x, err := index.Build(context.Background(), filepath.Join(dir, segs[0].Name))
	if err != nil {
		return nil, err
	}
	out["index-file"] = annotateIndex(x)
	if out["key-history"], err = keyHistoryExample(filepath.Join(root, "rotated")); err != nil {
		return nil, err
	}
	if out["witnessed-bundle"], err = witnessedBundleExample(filepath.Join(root, "witnessed")); err != nil {
		return nil, err
	}
	return out, nil
}

// witnessedBundleExample builds a log of three events sealed once and
// cosigned by the test witnesses w1 and w2 (recorded as
// audit.checkpoint_witnessed, as the sealer records them), then closed,
// and returns the inclusion bundle of its record 2 (FORMAT.md §6): its
// checkpoint is the cosigned one, with both cosignature lines, decoded
// below the bundle with the witnesses' verifier keys.
func witnessedBundleExample(dir string) (string, error) {
	if _, err := BuildWitnessedLog(dir, WitnessedSpec{Events: 3, SealEvery: 3, Witnesses: []string{"w1", "w2"}, Seed: "witnessed example"}); err != nil {
		return "", err
	}
	b, err := verify.Prove(dir, 2)
	if err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s\n\nits checkpoint (tree size %d), cosigned by witness.test/w1 and witness.test/w2:\n%s\nwitness verifier keys:\n%s\n%s\n",
		data, b.TreeSize, b.Checkpoint, WitnessKey("w1").Verifier(), WitnessKey("w2").Verifier()), nil
}

// cosignatureExample returns the witness "w1"'s cosignature of the signed
// checkpoint cp at a fixed time (FORMAT.md §5.6): the message it signs, the
// checkpoint with the cosignature line appended, and the witness's
// verifier key. It checks that golang.org/x/mod/sumdb/note opens the
// cosigned checkpoint with the witness's key.
func cosignatureExample(cp []byte) (string, error) {
	w := WitnessKey("w1")
	w.Now = func() time.Time { return time.Date(2026, 11, 2, 9, 0, 1, 0, time.UTC) }
	text := cp[:bytes.LastIndex(cp, []byte("\n\n"))+1]
	c, err := w.Cosign(text)
	if err != nil {
		return "", err
	}
	cosigned := append(bytes.Clone(cp), c.Line()...)
	if _, err := note.Open(cosigned, note.VerifierList(w.Verifier())); err != nil {
		return "", fmt.Errorf("testkit: the example cosignature does not open: %w", err)
	}
	return fmt.Sprintf("signed message (Ed25519, by the witness key):\n%s\ncosigned checkpoint:\n%s\nwitness verifier key: %s\n",
		witness.SignedMessage(text, c.Timestamp), cosigned, w.Verifier()), nil
}

// keyHistoryExample builds a log of two events whose key is then rotated
// from the "main" test key to the "second", and returns its key history
// bundle (FORMAT.md §5.5) with the endorsement's record and checkpoint
// decoded below it.
func keyHistoryExample(dir string) (string, error) {
	clock := NewClock()
	l, err := buildLog(dir, logSpec{events: 2, key: Key("main"), logSeed: "key history example"}, clock, true)
	if err != nil {
		return "", err
	}
	if _, err := l.IntroduceKey(Key("second"), "scheduled rotation"); err != nil {
		l.Close()
		return "", err
	}
	if err := l.Close(); err != nil {
		return "", err
	}
	h, err := verify.KeyHistoryOf(dir, Keys("main"))
	if err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", data)
	for i, e := range h.Endorsements {
		rec, err := chain.Decode(e.Record)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\nendorsement %d, record %d (sealer_event %s):\n%s\nits checkpoint (signed by key %s):\n%s", i, rec.Seq, rec.Type, rec.Event, Key("main").Public().ID(), e.Checkpoint)
	}
	fmt.Fprintf(&b, "\nkey ids: main %s, second %s\n", Key("main").Public().ID(), Key("second").Public().ID())
	return b.String(), nil
}

// annotateIndex lays out an index file field by field, as FORMAT.md §8
// shows it.
func annotateIndex(x *index.Index) string {
	b := x.Encode()
	var sb strings.Builder
	line := func(label string, n int) {
		fmt.Fprintf(&sb, "%-30s %s\n", label, hex.EncodeToString(b[:n]))
		b = b[n:]
	}
	line(`magic "ASEALIDX"`, 8)
	line(fmt.Sprintf("version %d", index.Version), 4)
	line("segment name length", 2)
	line("segment name "+x.Segment, len(x.Segment))
	line(fmt.Sprintf("first_seq %d", x.FirstSeq), 8)
	line(fmt.Sprintf("records %d", x.Records), 8)
	line(fmt.Sprintf("segment size %d", x.Size), 8)
	line(fmt.Sprintf("last frame offset %d", x.LastOffset), 8)
	line("last record hash", 32)
	line("first record time", 8)
	line("last record time", 8)
	line(fmt.Sprintf("key count %d", x.Len()), 4)
	for _, k := range x.Keys() {
		ps := x.Lookup(k)
		line("key length", 2)
		line("key "+k, len(k))
		line(fmt.Sprintf("postings %d", len(ps)), 4)
		n := binary.BigEndian.Uint32(b)
		line(fmt.Sprintf("postings bytes %d", n), 4)
		var desc []string
		for _, p := range ps {
			desc = append(desc, fmt.Sprintf("(%d, %d)", p.Seq, p.Offset))
		}
		line("  (seq, offset) "+strings.Join(desc, " "), int(n))
	}
	for i := range x.Leaves {
		line(fmt.Sprintf("leaf hash of record %d", x.FirstSeq+uint64(i)), chain.HashSize)
	}
	line("CRC-32C", 4)
	return sb.String()
}

func annotateEvent(enc []byte, rec *chain.Record) string {
	var b strings.Builder
	p := 0
	line := func(n int, what string) {
		fmt.Fprintf(&b, "%-26s %s\n", what, hex.EncodeToString(enc[p:p+n]))
		p += n
	}
	line(1, "version")
	line(1, "kind (2 = event)")
	line(8, fmt.Sprintf("seq %d", rec.Seq))
	line(8, "time "+rec.Time().Format(time.RFC3339Nano))
	line(HashSizeForDocs, "prev_hash")
	for _, f := range []struct {
		name string
		lenN int
		val  []byte
	}{{"service", 2, rec.Service}, {"audit_id", 2, rec.AuditID}, {"type", 2, rec.Type}, {"event JSON", 4, rec.Event}} {
		var n int
		if f.lenN == 2 {
			n = int(binary.BigEndian.Uint16(enc[p:]))
		} else {
			n = int(binary.BigEndian.Uint32(enc[p:]))
		}
		line(f.lenN, f.name+" length")
		fmt.Fprintf(&b, "%-26s %s\n", f.name, enc[p:p+n])
		p += n
	}
	line(HashSizeForDocs, "hash")
	return b.String()
}

func annotateCommit(enc []byte, rec *chain.Record, runKey []byte) string {
	var b strings.Builder
	p := 0
	line := func(n int, what string) {
		fmt.Fprintf(&b, "%-26s %s\n", what, hex.EncodeToString(enc[p:p+n]))
		p += n
	}
	line(1, "version")
	line(1, "kind (5 = commit)")
	line(8, fmt.Sprintf("seq %d", rec.Seq))
	line(8, "time "+rec.Time().Format(time.RFC3339Nano))
	line(HashSizeForDocs, "prev_hash")
	line(1, fmt.Sprintf("flags %d", rec.Flags))
	line(chain.CommitSignatureSize, "signature")
	line(HashSizeForDocs, "hash")
	fmt.Fprintf(&b, "%-26s %s\n", "run key (checkpoint's run)", hex.EncodeToString(runKey))
	fmt.Fprintf(&b, "%-26s %s\n", "signed message", hex.EncodeToString(chain.CommitMessage(rec)))
	return b.String()
}

func annotateStart(enc []byte, rec *chain.Record) string {
	var b strings.Builder
	p := 0
	line := func(n int, what string) {
		fmt.Fprintf(&b, "%-26s %s\n", what, hex.EncodeToString(enc[p:p+n]))
		p += n
	}
	line(1, "version")
	line(1, "kind (1 = segment_start)")
	line(8, fmt.Sprintf("seq %d", rec.Seq))
	line(8, "time "+rec.Time().Format(time.RFC3339Nano))
	line(HashSizeForDocs, "prev_hash (genesis)")
	line(16, "log_id")
	line(1, fmt.Sprintf("n = %d tree hashes", len(rec.TreeState)))
	p += len(rec.TreeState) * HashSizeForDocs
	line(HashSizeForDocs, "hash")
	return b.String()
}

// HashSizeForDocs is chain.HashSize, named for the example code.
const HashSizeForDocs = chain.HashSize
