package witness

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNoteSize bounds a cosigned checkpoint note: the log's checkpoint text,
// its signature line and the witnesses' cosignature lines. It is the bound
// of a checkpoint note (chain.MaxCheckpointLen, 16 KiB): a file or a bundle
// member above it is refused before it is parsed.
const MaxNoteSize = 16 << 10

// MaxSignatureLines caps the signature lines of a note, as
// golang.org/x/mod/sumdb/note does.
const MaxSignatureLines = 100

// ErrMalformedNote is wrapped by every error of ParseSignedNote.
var ErrMalformedNote = errors.New("witness: malformed signed note")

// SignedNote is a signed note (c2sp.org/signed-note) split into its text
// and its signature lines: a checkpoint as the log signed it, with the
// log's signature line and any cosignature lines appended after it.
type SignedNote struct {
	// Text is every line before the blank line, each with its newline:
	// what the log's signature and every cosignature cover.
	Text []byte
	// Lines are the signature lines in order, each without its final
	// newline ("— <key name> <base64>").
	Lines []string
}

// ParseSignedNote splits msg into its text and signature lines. It is
// strict, as note.Open is: valid UTF-8 with no control character other than
// newline, at most MaxNoteSize bytes, a non-empty text ending in a newline,
// a blank line (the last one of msg), then one to MaxSignatureLines lines
// that each start with an em dash and a space, name a valid key and end in
// a newline. It checks the form of the signature lines, not what they sign:
// Cosignatures picks out the cosignature lines, a Verifier or a Policy
// checks them.
func ParseSignedNote(msg []byte) (*SignedNote, error) {
	if len(msg) > MaxNoteSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedNote, len(msg), MaxNoteSize)
	}
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRune(msg[i:])
		if r < 0x20 && r != '\n' || r == utf8.RuneError && size == 1 {
			return nil, fmt.Errorf("%w: a control character or invalid UTF-8 at byte %d", ErrMalformedNote, i)
		}
		i += size
	}
	split := bytes.LastIndex(msg, []byte("\n\n"))
	if split < 0 {
		return nil, fmt.Errorf("%w: no blank line before the signatures", ErrMalformedNote)
	}
	text, sigs := msg[:split+1], msg[split+2:]
	if len(sigs) == 0 || sigs[len(sigs)-1] != '\n' {
		return nil, fmt.Errorf("%w: no signature line, or the last one does not end in a newline", ErrMalformedNote)
	}
	lines := strings.Split(string(sigs[:len(sigs)-1]), "\n")
	if len(lines) > MaxSignatureLines {
		return nil, fmt.Errorf("%w: %d signature lines, at most %d", ErrMalformedNote, len(lines), MaxSignatureLines)
	}
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, "\u2014 ")
		name, sig, ok2 := strings.Cut(rest, " ")
		if !ok || !ok2 || !validName(name) || sig == "" {
			return nil, fmt.Errorf("%w: signature line %d is not \"\u2014 <key name> <base64>\"", ErrMalformedNote, i+1)
		}
	}
	return &SignedNote{Text: bytes.Clone(text), Lines: lines}, nil
}

// Cosignatures returns the signature lines of n that have the form of a
// cosignature/v1 line (ParseCosignature), in order. Other lines, such as the
// log's own signature line, are skipped: that a line has the form says
// nothing about who made it until a Verifier checks it.
func (n *SignedNote) Cosignatures() []Cosignature {
	var cs []Cosignature
	for _, l := range n.Lines {
		if c, err := ParseCosignature(l); err == nil {
			cs = append(cs, c)
		}
	}
	return cs
}

// Bytes returns the note: the text, the blank line and each signature line
// with its newline.
func (n *SignedNote) Bytes() []byte {
	b := append(bytes.Clone(n.Text), '\n')
	for _, l := range n.Lines {
		b = append(append(b, l...), '\n')
	}
	return b
}
