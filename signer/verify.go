package signer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"

	"golang.org/x/mod/sumdb/note"
)

// Verify reports whether sig is a valid signature of msg by k, as Signer.Sign
// produces it.
func (k PublicKey) Verify(msg, sig []byte) bool {
	switch k.Algorithm {
	case Ed25519:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.Ed25519, msg, sig)
	case ECDSAP256:
		d := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k.ECDSA, d[:], sig)
	}
	return false
}

// NoteVerifier returns a sumdb/note Verifier for k under name.
func (k PublicKey) NoteVerifier(name string) note.Verifier {
	return noteVerifier{key: k, name: name, hash: k.KeyHash(name)}
}

type noteVerifier struct {
	key  PublicKey
	name string
	hash uint32
}

func (v noteVerifier) Name() string                { return v.name }
func (v noteVerifier) KeyHash() uint32             { return v.hash }
func (v noteVerifier) Verify(msg, sig []byte) bool { return v.key.Verify(msg, sig) }

// Verifiers is a set of trusted keys that implements note.Verifiers. A key
// with a name matches only signature lines of that name; a key without a
// name (read from PEM) matches a signature line of any name whose key ID is
// the key's ID under that name.
type Verifiers []PublicKey

// Verifier implements note.Verifiers.
func (vs Verifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	for _, k := range vs {
		if (k.Name == "" || k.Name == name) && k.KeyHash(name) == hash {
			return k.NoteVerifier(name), nil
		}
	}
	return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
}

// Lookup returns the trusted key that matches a signature line, if any.
func (vs Verifiers) Lookup(name string, hash uint32) (PublicKey, bool) {
	for _, k := range vs {
		if (k.Name == "" || k.Name == name) && k.KeyHash(name) == hash {
			return k, true
		}
	}
	return PublicKey{}, false
}

// NoteSigner adapts s to a sumdb/note Signer under the key name name.
func NoteSigner(s Signer, name string) note.Signer {
	return noteSigner{s: s, name: name, hash: s.Public().KeyHash(name)}
}

type noteSigner struct {
	s    Signer
	name string
	hash uint32
}

func (n noteSigner) Name() string                    { return n.name }
func (n noteSigner) KeyHash() uint32                 { return n.hash }
func (n noteSigner) Sign(msg []byte) ([]byte, error) { return n.s.Sign(msg) }
