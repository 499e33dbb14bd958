package chain

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
)

// CommitFlags are the flags of a commit record.
type CommitFlags uint8

const (
	// FlagSealRequested marks a commit after which the sealer asked the
	// log key to sign a checkpoint of size seq+1 (this commit included).
	// That checkpoint may be appended a few records later (FORMAT.md
	// §3.5); a verifier needs the tree root only at such commits.
	FlagSealRequested CommitFlags = 1 << 0

	knownCommitFlags = FlagSealRequested
)

// CommitSignatureSize is the size of a commit record's signature (Ed25519).
const CommitSignatureSize = ed25519.SignatureSize

// commitDomain prefixes what a commit signature covers, so that a run key's
// signature over a commit can never be taken for a signature over anything
// else.
const commitDomain = "audit-sealer commit v1\n"

// commitMessageSize is the size of the message a commit signature covers.
const commitMessageSize = len(commitDomain) + headerSize + 1

// CommitMessage returns the bytes that the signature of commit record r
// covers: "audit-sealer commit v1\n" followed by the record's encoding up
// to its flags (version, kind, seq, time, prev_hash, flags). Through
// prev_hash it commits to every record before r.
func CommitMessage(r *Record) []byte {
	b := make([]byte, 0, commitMessageSize)
	b = append(b, commitDomain...)
	b = append(b, RecordVersion, byte(KindCommit))
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.TimeNano))
	b = append(b, r.PrevHash[:]...)
	return append(b, byte(r.Flags))
}

// SignCommit sets r.Signature: the run key's Ed25519 signature of
// CommitMessage(r). r must be a commit record with every other field set.
func SignCommit(r *Record, key ed25519.PrivateKey) error {
	if r.Kind != KindCommit {
		return fmt.Errorf("chain: cannot sign a %v record as a commit", r.Kind)
	}
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("chain: commit key is not an Ed25519 private key")
	}
	r.Signature = ed25519.Sign(key, CommitMessage(r))
	return nil
}

// VerifyCommit reports whether commit record r is signed by the run key
// key (32 bytes).
func VerifyCommit(r *Record, key []byte) bool {
	return r.Kind == KindCommit && len(key) == ed25519.PublicKeySize && len(r.Signature) == CommitSignatureSize &&
		ed25519.Verify(ed25519.PublicKey(key), CommitMessage(r), r.Signature)
}
