// Package witness speaks to transparency-log witnesses: independent servers
// that cosign a checkpoint only if it is consistent with every checkpoint of
// the same log they cosigned before (c2sp.org/tlog-witness), so that a log
// rewritten on its host, even with the log's own key, no longer gathers
// cosignatures.
//
// It holds the client for the tlog-witness add-checkpoint call (Client), the
// verification of Ed25519 cosignatures as c2sp.org/tlog-cosignature defines
// them (cosignature/v1, Verifier, which is a golang.org/x/mod/sumdb/note
// Verifier, so note.Open checks cosigned checkpoints with it), and the
// parsing of a witness's verifier key (ParseVerifierKey). What bytes a
// cosignature of one of our checkpoints covers is normative in FORMAT.md
// §5.6.
//
// The package is pure Go and imports no hardware code, so the offline
// verifier can use it.
package witness
