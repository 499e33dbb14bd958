package verify

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/witness"
)

// CosignedCheckpoint is a checkpoint of a log with the cosignature lines
// of the witnesses that cosigned it (FORMAT.md §5.6).
type CosignedCheckpoint struct {
	// Note is the signed note: the checkpoint's text, the blank line, the
	// log's signature line, then each distinct cosignature line.
	Note []byte
	Size uint64
	Root chain.Hash
	// Cosigners counts the distinct keys (name and key ID) of its
	// cosignature lines.
	Cosigners int
}

// cosignedSegments is how many of the log's last segments
// CosignedCheckpoints reads: the sealer records a cosignature shortly after
// the checkpoint it covers, in the same segment or, after a rotation, the
// next.
const cosignedSegments = 2

// CosignedCheckpoints returns the cosigned checkpoints of the log in dir
// found near its end: the checkpoint file when it carries cosignature
// lines after the log's signature line, and the audit.checkpoint_witnessed
// records of the last two segments, each joined with the checkpoint record
// (or the file) of the same text, which gives the log's signature line.
// The cosignatures of one text are merged into one note, at most
// witness.MaxSignatureLines lines and chain.MaxCheckpointLen bytes. It
// verifies nothing, neither the log nor a cosignature: whoever checks the
// note does, with the witnesses it trusts. Sorted by size.
func CosignedCheckpoints(dir string) ([]*CosignedCheckpoint, error) {
	type group struct {
		logLine string   // the log's signature line
		lines   []string // cosignature lines, distinct keys
		keys    map[string]bool
	}
	groups := map[string]*group{}
	get := func(text string) *group {
		g := groups[text]
		if g == nil {
			g = &group{keys: map[string]bool{}}
			groups[text] = g
		}
		return g
	}
	addLine := func(g *group, line string) {
		c, err := witness.ParseCosignature(line)
		if err != nil {
			return
		}
		k := fmt.Sprintf("%s+%08x", c.Name, c.KeyHash)
		if !g.keys[k] {
			g.keys[k] = true
			g.lines = append(g.lines, line)
		}
	}
	// The checkpoint file first: with witnesses, the sealer keeps there
	// the latest checkpoint they cosigned.
	data, err := storage.ReadDataFile(filepath.Join(dir, storage.CheckpointFile), chain.MaxCheckpointLen)
	switch {
	case err == nil:
		if n, err := witness.ParseSignedNote(data); err == nil && len(n.Lines) > 1 {
			g := get(string(n.Text))
			g.logLine = n.Lines[0]
			for _, l := range n.Lines[1:] {
				addLine(g, l)
			}
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("verify: cosigned checkpoints: %w", err)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("verify: cosigned checkpoints: %w", err)
	}
	logLines := map[string]string{}
	for i := max(0, len(segs)-cosignedSegments); i < len(segs); i++ {
		r, err := storage.OpenSegment(filepath.Join(dir, segs[i].Name), i == len(segs)-1)
		if err != nil {
			return nil, fmt.Errorf("verify: cosigned checkpoints: %w", err)
		}
		for {
			payload, _, err := r.Next()
			if err != nil {
				break // io.EOF, or a torn tail: what came before counts
			}
			rec, err := chain.Decode(payload)
			if err != nil {
				continue
			}
			switch {
			case rec.Kind == chain.KindCheckpoint:
				if n, err := witness.ParseSignedNote(rec.Checkpoint); err == nil {
					logLines[string(n.Text)] = n.Lines[0]
				}
			case rec.Kind == chain.KindSealerEvent && string(rec.Type) == event.TypeCheckpointWitnessed:
				ev, err := event.Decode(rec.Event, event.DecodeOptions{AllowSealerEvents: true, Now: rec.Time()})
				if err != nil {
					continue
				}
				w := ev.(*event.CheckpointWitnessed)
				addLine(get(w.Checkpoint), w.Cosignature)
			}
		}
		r.Close()
	}
	var out []*CosignedCheckpoint
	for text, g := range groups {
		if g.logLine == "" {
			g.logLine = logLines[text]
		}
		cp, err := chain.ParseCheckpointText(text)
		if g.logLine == "" || len(g.lines) == 0 || err != nil {
			continue
		}
		note := text + "\n" + g.logLine + "\n"
		n := 0
		for _, l := range g.lines {
			if len(note)+len(l)+1 > chain.MaxCheckpointLen || n+2 > witness.MaxSignatureLines {
				break
			}
			note += l + "\n"
			n++
		}
		out = append(out, &CosignedCheckpoint{Note: []byte(note), Size: cp.Size, Root: cp.Root, Cosigners: n})
	}
	slices.SortFunc(out, func(a, b *CosignedCheckpoint) int {
		return cmp.Or(cmp.Compare(a.Size, b.Size), strings.Compare(string(a.Note), string(b.Note)))
	})
	return out, nil
}
