package testkit

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/storage"
)

// FormatExamples builds a small log with the fixed test key and clock in a
// temporary directory and returns the worked examples of FORMAT.md, by name:
// "event-record" (an annotated event record) and "checkpoint" (a signed
// checkpoint with the verifier key that opens it).
func FormatExamples() (map[string]string, error) {
	root, err := os.MkdirTemp("", "audit-sealer-format-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	dir := filepath.Join(root, "data")
	if _, err := buildLog(dir, logSpec{events: 3, sealEvery: 3, key: Key("main"), logSeed: "format example"}, NewClock(), false); err != nil {
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
		}
	}
	return out, nil
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
