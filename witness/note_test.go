package witness

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// cosigned returns the signed test checkpoint with the cosignature lines
// of the given signers appended, and its text.
func cosigned(t testing.TB, size uint64, signers ...*Signer) (msg, text []byte) {
	t.Helper()
	signed, text := testCheckpoint(t, size)
	msg = bytes.Clone(signed)
	for _, s := range signers {
		c, err := s.Cosign(text)
		if err != nil {
			t.Fatal(err)
		}
		msg = append(msg, c.Line()...)
	}
	return msg, text
}

func TestParseSignedNote(t *testing.T) {
	w1, w2 := testSigner(t, "witness.test/w1", "w1"), testSigner(t, "witness.test/w2", "w2")
	msg, text := cosigned(t, 5, w1, w2)
	n, err := ParseSignedNote(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(n.Text, text) || len(n.Lines) != 3 || !bytes.Equal(n.Bytes(), msg) {
		t.Fatalf("text %q, %d lines, bytes equal %v", n.Text, len(n.Lines), bytes.Equal(n.Bytes(), msg))
	}
	// The log's own Ed25519 line (4 + 64 bytes) is no cosignature; the two
	// witnesses' lines are, in order.
	cs := n.Cosignatures()
	if len(cs) != 2 || cs[0].Name != "witness.test/w1" || cs[1].Name != "witness.test/w2" {
		t.Fatalf("cosignatures %+v", cs)
	}
	if err := w2.Verifier().VerifyCosignature(n.Text, cs[1]); err != nil {
		t.Fatal(err)
	}
	// golang.org/x/mod/sumdb/note reads the same note the same way.
	if on, err := note.Open(msg, note.VerifierList(w1.Verifier(), w2.Verifier())); err != nil || on.Text != string(n.Text) || len(on.Sigs) != 2 {
		t.Fatalf("note.Open: %v", err)
	}

	bad := map[string]string{
		"no blank line":              string(text),
		"no signature":               string(text) + "\n",
		"no final newline":           strings.TrimSuffix(string(msg), "\n"),
		"a line without the em dash": string(msg) + "- witness.test/w3 AAAA\n",
		"a line without a signature": string(msg) + "\u2014 witness.test/w3\n",
		"a key name with a plus":     string(msg) + "\u2014 a+b AAAA\n",
		"a control character":        strings.Replace(string(msg), "mode dev", "mode\tdev", 1),
		"invalid UTF-8":              string(msg[:10]) + "\xff" + string(msg[10:]),
		"an empty signature line":    string(msg) + "\n",
		"too large":                  string(text) + "\n" + strings.Repeat("\u2014 a "+strings.Repeat("A", 100)+"\n", 200),
		"too many lines":             string(text) + "\n" + strings.Repeat("\u2014 a AAAA\n", MaxSignatureLines+1),
	}
	for what, m := range bad {
		if _, err := ParseSignedNote([]byte(m)); !errors.Is(err, ErrMalformedNote) {
			t.Errorf("%s: %v, want ErrMalformedNote", what, err)
		}
	}
}

func TestPolicy(t *testing.T) {
	w1, w2, w3 := testSigner(t, "witness.test/w1", "w1"), testSigner(t, "witness.test/w2", "w2"), testSigner(t, "witness.test/w3", "w3")
	p, err := NewPolicy([]*Verifier{w1.Verifier(), w2.Verifier()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Quorum() != 2 || p.String() != "2 of witness.test/w1, witness.test/w2" {
		t.Fatalf("quorum %d, %s", p.Quorum(), p)
	}
	msg, text := cosigned(t, 7, w3, w2, w1)
	n, err := ParseSignedNote(msg)
	if err != nil {
		t.Fatal(err)
	}
	// w3 is not listed: ignored. The others, in the order listed.
	valid, bad := p.Cosigners(n.Text, n.Cosignatures())
	if len(valid) != 2 || valid[0].Witness != 0 || valid[1].Witness != 1 || len(bad) != 0 {
		t.Fatalf("valid %+v, bad %+v", valid, bad)
	}
	// w1 twice: counted once, its latest.
	later := *w1
	later.Now = func() time.Time { return time.Unix(1796288500, 0) }
	c2, _ := later.Cosign(text)
	valid, _ = p.Cosigners(text, append(n.Cosignatures(), c2))
	if len(valid) != 2 || valid[0].Timestamp != c2.Timestamp {
		t.Fatalf("w1 twice: %+v", valid)
	}
	// A line that names w2's key but signs another text, and one that
	// claims w1's name with another key: neither counts; the first is bad.
	_, otherText := testCheckpoint(t, 8)
	forged, _ := w2.Cosign(otherText)
	impostor := testSigner(t, "witness.test/w1", "not w1")
	c3, _ := impostor.Cosign(text)
	valid, bad = p.Cosigners(text, []Cosignature{forged, c3})
	if len(valid) != 0 || len(bad) != 1 || bad[0].Name != "witness.test/w2" {
		t.Fatalf("forged: valid %+v, bad %+v", valid, bad)
	}

	for what, tc := range map[string]struct {
		ws     []*Verifier
		quorum int
	}{
		"no witness":        {nil, 0},
		"quorum too large":  {[]*Verifier{w1.Verifier()}, 2},
		"negative quorum":   {[]*Verifier{w1.Verifier()}, -1},
		"the same twice":    {[]*Verifier{w1.Verifier(), w1.Verifier()}, 0},
		"same key, renamed": {[]*Verifier{w1.Verifier(), must(NewVerifier("other", w1.Verifier().PublicKey()))}, 0},
	} {
		if _, err := NewPolicy(tc.ws, tc.quorum); !errors.Is(err, ErrBadPolicy) {
			t.Errorf("%s: %v, want ErrBadPolicy", what, err)
		}
	}
}

func must(v *Verifier, err error) *Verifier {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzParseSignedNote feeds arbitrary notes to the parser of cosigned
// checkpoints. It must never panic; what it accepts it gives back byte for
// byte, golang.org/x/mod/sumdb/note reads the same text from it, and every
// cosignature it picks out is one of the note's lines, in its canonical
// form.
func FuzzParseSignedNote(f *testing.F) {
	w1, w2 := testSigner(f, "witness.test/w1", "w1"), testSigner(f, "witness.test/w2", "w2")
	msg, _ := cosigned(f, 5, w1, w2)
	signed, _ := testCheckpoint(f, 3)
	f.Add(msg)
	f.Add(signed)
	f.Add([]byte("a\n\n\u2014 b AAAA\n"))
	f.Add([]byte("a\n\n\u2014 b AAAA\n\n\u2014 c AAAA\n"))
	f.Add([]byte("\n\n\u2014 b AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseSignedNote(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedNote) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if !bytes.Equal(n.Bytes(), data) {
			t.Fatalf("parsed %q, gives back %q", data, n.Bytes())
		}
		// note.Open with no known key fails as unverified when the note is
		// well formed, and its unverified signatures are our lines.
		_, oerr := note.Open(data, note.VerifierList())
		var unverified *note.UnverifiedNoteError
		if errors.As(oerr, &unverified) {
			if unverified.Note.Text != string(n.Text) {
				t.Fatalf("note.Open reads another text")
			}
		}
		lines := map[string]bool{}
		for _, l := range n.Lines {
			lines[l] = true
		}
		for _, c := range n.Cosignatures() {
			if !lines[strings.TrimSuffix(c.Line(), "\n")] {
				t.Fatalf("cosignature %q is not one of the note's lines", c.Line())
			}
		}
	})
}
