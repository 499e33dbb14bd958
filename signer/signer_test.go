package signer_test

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/signer/signertest"
)

func TestSoftwareConformance(t *testing.T) {
	for _, alg := range []signer.Algorithm{signer.Ed25519, signer.ECDSAP256} {
		t.Run(string(alg), func(t *testing.T) {
			s, err := signer.NewSoftwareSigner(alg, "audit-sealer.test/dev")
			if err != nil {
				t.Fatal(err)
			}
			signertest.Run(t, s)
		})
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, alg := range []signer.Algorithm{signer.Ed25519, signer.ECDSAP256} {
		path := filepath.Join(dir, string(alg)+".key")
		s, err := signer.NewSoftwareSigner(alg, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WriteKeyFile(path); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode %04o, want 0600", fi.Mode().Perm())
		}
		if err := s.WriteKeyFile(path); err == nil {
			t.Fatal("WriteKeyFile overwrote an existing key")
		}
		loaded, err := signer.LoadSoftwareSigner(path, "")
		if err != nil {
			t.Fatal(err)
		}
		if !loaded.Public().Equal(s.Public()) {
			t.Fatal("loaded key differs")
		}
		os.Chmod(path, 0o644)
		if _, err := signer.LoadSoftwareSigner(path, ""); !errors.Is(err, signer.ErrInsecureKeyFile) {
			t.Fatalf("loading a 0644 key file: %v, want ErrInsecureKeyFile", err)
		}
		os.Chmod(path, 0o600)

		// The key file is in the data directory: a symbolic link planted
		// there is not followed, and a huge file is not read.
		link := filepath.Join(t.TempDir(), "link.key")
		if err := os.Symlink(path, link); err != nil {
			t.Fatal(err)
		}
		if _, err := signer.LoadSoftwareSigner(link, ""); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("loading a symlinked key file: %v, want a refusal", err)
		}
		sparse := filepath.Join(t.TempDir(), "sparse.key")
		if err := os.WriteFile(sparse, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(sparse, 1<<30); err != nil {
			t.Fatal(err)
		}
		if _, err := signer.LoadSoftwareSigner(sparse, ""); err == nil || !strings.Contains(err.Error(), "at most") {
			t.Fatalf("loading a sparse 1 GiB key file: %v, want a refusal by size", err)
		}
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	s, _ := signer.NewSoftwareSigner(signer.Ed25519, "n")
	vkey := s.Public().VerifierKey()
	name, rest, _ := strings.Cut(vkey, "+")
	bad := map[string]string{
		"empty":         "",
		"garbage":       "not a key",
		"wrong hash":    name + "+00000000+" + strings.SplitN(rest, "+", 2)[1],
		"bad base64":    name + "+" + strings.SplitN(rest, "+", 2)[0] + "+!!!",
		"private block": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"space in name": "a b+" + rest,
	}
	for label, in := range bad {
		if _, err := signer.ParsePublicKey([]byte(in)); !errors.Is(err, signer.ErrBadKey) {
			t.Errorf("%s: err = %v, want ErrBadKey", label, err)
		}
	}
}

// TestKeyHashMatchesSumdbNote pins our Ed25519 key ID to x/mod's computation.
func TestKeyHashMatchesSumdbNote(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	k := signer.NewEd25519PublicKey("example.com/log", pub)
	if got := k.VerifierKey(); !strings.HasPrefix(got, "example.com/log+") {
		t.Fatalf("verifier key %q", got)
	}
	back, err := signer.ParseVerifierKey(k.VerifierKey())
	if err != nil || !back.Equal(k) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestPublicKeyFromRaw(t *testing.T) {
	for _, alg := range []signer.Algorithm{signer.Ed25519, signer.ECDSAP256} {
		s, _ := signer.NewSoftwareSigner(alg, "n")
		k, err := signer.PublicKeyFromRaw("n", alg, s.Public().Raw())
		if err != nil || !k.Equal(s.Public()) {
			t.Fatalf("%s: %v", alg, err)
		}
		if !(signer.Verifiers{k}).Contains(s.Public()) {
			t.Fatal("Contains misses the key")
		}
		if _, err := signer.PublicKeyFromRaw("n", alg, s.Public().Raw()[1:]); !errors.Is(err, signer.ErrBadKey) {
			t.Fatalf("%s: a truncated key was accepted", alg)
		}
	}
}
