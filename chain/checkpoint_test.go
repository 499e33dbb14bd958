package chain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/signer"
)

func sampleCheckpoint() chain.Checkpoint {
	return chain.Checkpoint{Origin: chain.Origin(chain.LogID{7}), Size: 12, Root: chain.Hash{1}, Head: chain.Hash{2},
		Time: time.Date(2026, 11, 27, 10, 0, 0, 123000000, time.UTC), SignerKind: signer.Software, Algorithm: signer.Ed25519, Dev: true}
}

func TestCheckpointTextRoundTrip(t *testing.T) {
	cp := sampleCheckpoint()
	text := cp.Text()
	want := "audit-sealer/07000000000000000000000000000000\n12\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" +
		"head AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\ntime 2026-11-27T10:00:00.123Z\nsigner software ed25519\nmode dev\n"
	if text != want {
		t.Fatalf("Text() =\n%s\nwant\n%s", text, want)
	}
	got, err := chain.ParseCheckpointText(text)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text() != text {
		t.Fatal("parse then format changed the text")
	}
	cp.Extra = []string{"witness example.com 5"}
	cp.Dev = false
	got, err = chain.ParseCheckpointText(cp.Text())
	if err != nil || len(got.Extra) != 1 || got.Dev {
		t.Fatalf("extension lines: %v %+v", err, got)
	}
	v := uint64(42)
	cp.Anchor, cp.AnchorIndex = &v, 0x01500100
	if !strings.Contains(cp.Text(), "\nanchor tpm 0x01500100 42\n") {
		t.Fatalf("anchor line missing:\n%s", cp.Text())
	}
	got, err = chain.ParseCheckpointText(cp.Text())
	if err != nil || got.Anchor == nil || *got.Anchor != 42 || got.AnchorIndex != 0x01500100 || got.Text() != cp.Text() {
		t.Fatalf("anchor round trip: %v %+v", err, got)
	}
}

func TestParseCheckpointRejects(t *testing.T) {
	good := sampleCheckpoint().Text()
	lines := strings.Split(good, "\n")
	with := func(i int, s string) string {
		l := append([]string(nil), lines...)
		l[i] = s
		return strings.Join(l, "\n")
	}
	cases := map[string]string{
		"no newline":      strings.TrimSuffix(good, "\n"),
		"foreign origin":  with(0, "example.com/log"),
		"size leading 0":  with(1, "012"),
		"size sign":       with(1, "+12"),
		"root short":      with(2, "AQAA"),
		"root no padding": with(2, "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
		"no head":         with(3, "tail AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
		"time offset":     with(4, "time 2026-11-27T11:00:00.123+01:00"),
		"time trailing 0": with(4, "time 2026-11-27T10:00:00.1230Z"),
		"signer kind":     with(5, "signer tpm ed25519"),
		"signer alg":      with(5, "signer software rsa"),
		"empty line":      with(6, ""),
		"too few lines":   strings.Join(lines[:4], "\n") + "\n",
		"mode twice":      good + "mode dev\n",
		"anchor no tpm":   good + "anchor 0x01500100 4\n",
		"anchor index":    good + "anchor tpm 0x1500100 4\n",
		"anchor value":    good + "anchor tpm 0x01500100 04\n",
		"anchor twice":    good + "anchor tpm 0x01500100 4\nanchor tpm 0x01500100 5\n",
	}
	for name, text := range cases {
		if _, err := chain.ParseCheckpointText(text); !errors.Is(err, chain.ErrBadCheckpoint) {
			t.Errorf("%s: err = %v, want ErrBadCheckpoint", name, err)
		}
	}
}

// TestCheckpointOpensWithSumdbNote: third-party code we did not write opens
// our signed checkpoint with our published verifier key.
func TestCheckpointOpensWithSumdbNote(t *testing.T) {
	s, err := signer.NewSoftwareSigner(signer.Ed25519, "audit-sealer.test/log")
	if err != nil {
		t.Fatal(err)
	}
	cp := sampleCheckpoint()
	signed, err := chain.SignCheckpoint(&cp, s, "audit-sealer.test/log")
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(s.Public().VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("sumdb/note rejects our checkpoint: %v", err)
	}
	if n.Text != cp.Text() {
		t.Fatal("note text differs")
	}
	got, err := chain.OpenCheckpoint(signed, signer.Verifiers{s.Public()})
	if err != nil || got.Size != cp.Size || got.Key.ID() != s.Public().ID() {
		t.Fatalf("OpenCheckpoint: %v", err)
	}
	other, _ := signer.NewSoftwareSigner(signer.Ed25519, "audit-sealer.test/log")
	if _, err := chain.OpenCheckpoint(signed, signer.Verifiers{other.Public()}); !errors.Is(err, chain.ErrUnknownKey) {
		t.Fatalf("another key: %v, want ErrUnknownKey", err)
	}
	tampered := []byte(strings.Replace(string(signed), "\n12\n", "\n13\n", 1))
	if _, err := chain.OpenCheckpoint(tampered, signer.Verifiers{s.Public()}); !errors.Is(err, chain.ErrBadSignature) {
		t.Fatalf("tampered: %v, want ErrBadSignature", err)
	}
	// OpenCheckpointUnchecked finds the key but does not check the
	// signature: it opens the tampered note, and still refuses an unknown key.
	if got, err := chain.OpenCheckpointUnchecked(tampered, signer.Verifiers{s.Public()}); err != nil || got.Size != 13 || got.Key.ID() != s.Public().ID() {
		t.Fatalf("unchecked, tampered: %v", err)
	}
	if _, err := chain.OpenCheckpointUnchecked(signed, signer.Verifiers{other.Public()}); !errors.Is(err, chain.ErrUnknownKey) {
		t.Fatalf("unchecked, another key: %v, want ErrUnknownKey", err)
	}
	// The checkpoint must name the signer's real kind and algorithm.
	cp.SignerKind = signer.PKCS11
	if _, err := chain.SignCheckpoint(&cp, s, "k"); err == nil {
		t.Fatal("a software key signed a checkpoint that claims pkcs11")
	}
}

func TestECDSACheckpoint(t *testing.T) {
	s, err := signer.NewSoftwareSigner(signer.ECDSAP256, "audit-sealer.test/ec")
	if err != nil {
		t.Fatal(err)
	}
	cp := sampleCheckpoint()
	cp.Algorithm = signer.ECDSAP256
	signed, err := chain.SignCheckpoint(&cp, s, "audit-sealer.test/ec")
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := signer.ParsePublicKey(s.Public().MarshalPEM())
	if _, err := chain.OpenCheckpoint(signed, signer.Verifiers{pemKey}); err != nil {
		t.Fatalf("ECDSA checkpoint does not open with the PEM key: %v", err)
	}
}

func FuzzParseCheckpointText(f *testing.F) {
	f.Add(sampleCheckpoint().Text())
	cp := sampleCheckpoint()
	cp.Extra = []string{"witness x 9"}
	f.Add(cp.Text())
	v := uint64(7)
	cp.Anchor = &v
	f.Add(cp.Text())
	cp.RunKey, cp.Start, cp.Closed = make([]byte, 32), &chain.LogStart{Seq: 3, Hash: chain.Hash{4}}, true
	f.Add(cp.Text())
	f.Fuzz(func(t *testing.T, text string) {
		c, err := chain.ParseCheckpointText(text)
		if err != nil {
			return
		}
		if c.Text() != text {
			t.Fatalf("accepted text is not canonical:\n%q\n%q", text, c.Text())
		}
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	s, _ := signer.NewSoftwareSigner(signer.Ed25519, "k")
	cp := sampleCheckpoint()
	signed, _ := chain.SignCheckpoint(&cp, s, "k")
	f.Add(signed)
	f.Add([]byte(strings.Replace(string(signed), "\n12\n", "\n13\n", 1)))  // the signature no longer fits
	f.Add([]byte(strings.Replace(string(signed), "\n12\n", "\n012\n", 1))) // nor is the text canonical
	keys := signer.Verifiers{s.Public()}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := chain.OpenCheckpoint(msg, keys)
		if err == nil && c.Text() == "" {
			t.Fatal("opened an empty checkpoint")
		}
		// OpenCheckpointUnchecked differs only in not checking the
		// signature: it opens everything OpenCheckpoint opens, to the same
		// result; what it refuses OpenCheckpoint refuses (an unknown key
		// as an unknown key); what only it opens has a bad signature.
		u, uerr := chain.OpenCheckpointUnchecked(msg, keys)
		switch {
		case err == nil && (uerr != nil || u.Text() != c.Text() || u.Key.ID() != c.Key.ID() || u.KeyName != c.KeyName):
			t.Fatalf("OpenCheckpoint opens it, OpenCheckpointUnchecked gives %v", uerr)
		case uerr != nil && err == nil:
			t.Fatalf("OpenCheckpointUnchecked: %v, but OpenCheckpoint opens it", uerr)
		case errors.Is(uerr, chain.ErrUnknownKey) != errors.Is(err, chain.ErrUnknownKey):
			t.Fatalf("OpenCheckpointUnchecked: %v, OpenCheckpoint: %v", uerr, err)
		case err != nil && uerr == nil && !errors.Is(err, chain.ErrBadSignature):
			t.Fatalf("only the unchecked open succeeds, and OpenCheckpoint failed for another reason: %v", err)
		}
	})
}
