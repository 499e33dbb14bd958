// Package signer defines how audit-sealer signs checkpoints and how anyone
// verifies them.
//
// A checkpoint is a C2SP signed note (c2sp.org/signed-note). Two signature
// types are supported, both from that specification:
//
//   - Ed25519 (signature type 0x01): the key ID is
//     SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4] and the
//     signature is RFC 8032 Ed25519 over the note text, so golang.org/x/mod's
//     sumdb/note verifies it unchanged.
//   - ECDSA P-256 (signature type 0x02, as github.com/transparency-dev/witness
//     implements it): the key ID is SHA-256(DER SubjectPublicKeyInfo)[:4] and
//     the signature is the ASN.1 DER ECDSA signature over SHA-256(note text).
//
// [Signer] is the seam the sealer signs through: a software key in a file
// (development only) or a PKCS#11 token (package hsm). [PublicKey] is what an
// auditor holds; it parses from PEM (SubjectPublicKeyInfo) or from a note
// verifier key ("name+hash+base64"). This package is pure Go so that the
// offline verifier can use it without cgo; it never imports hsm or tpm.
//
// FORMAT.md in the repository root is the normative description.
package signer
