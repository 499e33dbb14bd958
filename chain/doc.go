// Package chain gives meaning to the payloads that package storage keeps:
// records, the hash chain that links them, the Merkle tree over them, and
// signed checkpoints of the log's head.
//
// Every record carries its sequence number, the sealer's time, the hash of
// the record before it (prev_hash) and its own hash, so that modifying,
// inserting, deleting or reordering a record breaks the chain. The records
// are also the leaves of an RFC 6962 Merkle tree, kept incrementally as a
// compact range (Tree). A checkpoint (Checkpoint) is a C2SP tlog-checkpoint
// signed note over the tree's size and root and the chain head; checkpoints
// are themselves records of the chain, so none can be removed unnoticed.
//
// Record kinds: every segment starts with a segment_start record (the log ID
// and the tree state before it), then events, the sealer's own events and
// checkpoints follow in sequence order. Sequence numbers start at 0 and are
// the Merkle leaf indexes.
//
// The byte-level format is normative in FORMAT.md at the repository root;
// Record.Encode and Checkpoint.Text carry the same description. This package
// is pure Go and never imports hsm or tpm.
package chain
