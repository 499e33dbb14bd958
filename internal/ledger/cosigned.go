package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/storage"
)

// cosignedFile is the cosigned checkpoint <dir>/checkpoint holds.
type cosignedFile struct {
	size  uint64
	note  []byte   // the checkpoint's signed note as in its record; nil when the file was found at Open
	lines []string // cosignature lines, without their newline, one per witness name
}

// ErrNotOwnCheckpoint is returned by AddCosignature for a note that is not
// the checkpoint of the size given, signed and sealed by this ledger.
var ErrNotOwnCheckpoint = errors.New("ledger: the cosigned note is not a checkpoint of this log of that size")

// AddCosignature makes <dir>/checkpoint the checkpoint note (a durable
// checkpoint of this log, as in its record) of the given size with the
// cosignature line appended (FORMAT.md §5.6), when that checkpoint is at
// least as recent as the one the file holds: a line for the checkpoint
// already there is added to its lines (replacing an older line of the same
// witness name); a newer checkpoint replaces the file; an older one leaves
// it as it is (its cosignature is in the chain, which is what counts). The
// caller verified the cosignature; the ledger checks only that the note is
// one of its checkpoints. Like every write of that file it costs two
// fsyncs, and a failure to write it fails the ledger.
func (l *Ledger) AddCosignature(note []byte, size uint64, line string) error {
	if l.failed != nil {
		return l.failed
	}
	cp, _, _, err := chain.PeekCheckpoint(note)
	if err != nil || cp.Size != size || cp.Origin != l.origin || size > l.sealedTo {
		return fmt.Errorf("%w (size %d)", ErrNotOwnCheckpoint, size)
	}
	if n, err := chain.SignatureLines(note); err != nil || n != 1 {
		return fmt.Errorf("%w: it carries %d signature lines", ErrNotOwnCheckpoint, n)
	}
	if !strings.HasPrefix(line, "\u2014 ") || strings.ContainsAny(line, "\n\r") {
		return fmt.Errorf("ledger: %q is not a signature line", line)
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(line, "\u2014 "), " ")
	c := l.cosigned
	switch {
	case c != nil && size < c.size:
		return nil
	case c == nil || size > c.size || c.note == nil:
		c = &cosignedFile{size: size, note: bytes.Clone(note)}
	}
	lines := []string{line}
	for _, old := range c.lines {
		if oldName, _, _ := strings.Cut(strings.TrimPrefix(old, "\u2014 "), " "); oldName != name {
			lines = append(lines, old)
		}
	}
	c.lines = lines
	data := bytes.Clone(c.note)
	for i := len(c.lines) - 1; i >= 0; i-- { // in the order they arrived
		data = append(append(data, c.lines[i]...), '\n')
	}
	if len(data) > chain.MaxCheckpointLen {
		return fmt.Errorf("ledger: the cosigned checkpoint would be %d bytes, above %d; not written", len(data), chain.MaxCheckpointLen)
	}
	if err := writeFileAtomic(filepath.Join(l.cfg.Dir, storage.CheckpointFile), data); err != nil {
		return l.fail(fmt.Errorf("ledger: %w", err))
	}
	l.cosigned, l.pendingFile, l.fileWritten = c, nil, time.Now()
	return nil
}
