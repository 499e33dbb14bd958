// Package verify checks an audit-sealer log offline, with nothing but the
// trusted public keys: the library behind the audit-verify command.
//
// Dir streams every segment of a data directory (several segments at once,
// the records of each segment on all workers, followed in log order by one
// goroutine per segment; memory flat in the log's size) and checks framing,
// record structure and hashes, the hash chain, sequence continuity within
// and across segments, event schemas, the Merkle root and signature of
// every checkpoint, that the tail is sealed, and consistency with a
// checkpoint the auditor kept. It reports the first failure with a stable
// Reason, the segment, the offset and the sequence number, the same
// whatever the number of workers. A checkpoint signed by a key the auditor
// did not give makes the log unverifiable (untrusted_key), not tampered,
// unless no legitimate rotation explains it (FORMAT.md §7). The Report is
// also the evidence report an auditor attaches (period, keys and their
// history, anchoring, exceptions; FORMAT.md §7.1), its lists bounded.
//
// Prove and CheckInclusion disclose a single record with its inclusion proof
// and a signed checkpoint, for an auditor who must see that one record only.
//
// FORMAT.md ("What the verifier checks") is the normative list. This package
// is pure Go (CGO_ENABLED=0) and never imports hsm or tpm.
package verify
