// Package signertest is the conformance suite that every signer.Signer
// implementation runs: the software key, and the PKCS#11 keys of package hsm.
package signertest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/audit-sealer/audit-sealer/signer"
)

// Run checks that s behaves as the signer.Signer contract says: its
// signatures verify with its public key (also after the key travels through
// PEM and verifier-key text), they do not verify for other messages, it is
// safe for concurrent use, and a note it signs opens with
// golang.org/x/mod/sumdb/note.
func Run(t *testing.T, s signer.Signer) {
	t.Helper()
	pub := s.Public()
	if _, err := signer.ParseAlgorithm(string(pub.Algorithm)); err != nil {
		t.Fatalf("Public().Algorithm: %v", err)
	}
	if _, err := signer.ParseKind(string(s.Kind())); err != nil {
		t.Fatalf("Kind(): %v", err)
	}

	t.Run("SignVerify", func(t *testing.T) {
		msg := []byte("audit-sealer/test\n1\nAAAA\n")
		sig, err := s.Sign(msg)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !pub.Verify(msg, sig) {
			t.Fatal("signature does not verify with Public()")
		}
		if pub.Verify(append(bytes.Clone(msg), 'x'), sig) {
			t.Fatal("signature verifies for a different message")
		}
		bad := bytes.Clone(sig)
		bad[len(bad)/2] ^= 1
		if pub.Verify(msg, bad) {
			t.Fatal("a modified signature verifies")
		}
	})

	t.Run("KeyEncodings", func(t *testing.T) {
		fromPEM, err := signer.ParsePublicKey(pub.MarshalPEM())
		if err != nil {
			t.Fatalf("parse PEM: %v", err)
		}
		fromNote, err := signer.ParsePublicKey([]byte(pub.VerifierKey()))
		if err != nil {
			t.Fatalf("parse verifier key: %v", err)
		}
		if !fromPEM.Equal(pub) || !fromNote.Equal(pub) {
			t.Fatal("public key changed through PEM or verifier-key encoding")
		}
		if fromPEM.ID() != pub.ID() {
			t.Fatalf("ID %s after PEM, want %s", fromPEM.ID(), pub.ID())
		}
		msg := []byte("encodings\n")
		sig, err := s.Sign(msg)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !fromPEM.Verify(msg, sig) || !fromNote.Verify(msg, sig) {
			t.Fatal("signature does not verify with the re-parsed key")
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const workers, each = 8, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					msg := []byte(fmt.Sprintf("worker %d message %d\n", w, i))
					sig, err := s.Sign(msg)
					if err != nil {
						errs <- err
						return
					}
					if !pub.Verify(msg, sig) {
						errs <- fmt.Errorf("worker %d message %d: signature does not verify", w, i)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("SignedNote", func(t *testing.T) {
		name := pub.Name
		if name == "" {
			name = signer.DefaultKeyName
		}
		text := "audit-sealer/conformance\n7\nRXhhbXBsZSByb290IGhhc2ggZm9yIHRlc3Rz\n"
		msg, err := note.Sign(&note.Note{Text: text}, signer.NoteSigner(s, name))
		if err != nil {
			t.Fatalf("note.Sign: %v", err)
		}
		// Our own verifier set, with the key as PEM gives it (no name).
		fromPEM, _ := signer.ParsePublicKey(pub.MarshalPEM())
		n, err := note.Open(msg, signer.Verifiers{fromPEM})
		if err != nil || n.Text != text {
			t.Fatalf("note.Open with our verifiers: %v", err)
		}
		if pub.Algorithm == signer.Ed25519 {
			// Third-party judge: x/mod's own Ed25519 verifier from the vkey text.
			v, err := note.NewVerifier(pub.VerifierKey())
			if err != nil {
				t.Fatalf("note.NewVerifier(%q): %v", pub.VerifierKey(), err)
			}
			if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
				t.Fatalf("sumdb/note rejects our signed note: %v", err)
			}
		}
		tampered := bytes.Replace(msg, []byte("\n7\n"), []byte("\n8\n"), 1)
		if _, err := note.Open(tampered, signer.Verifiers{pub}); err == nil {
			t.Fatal("a tampered note opened")
		}
	})
}
