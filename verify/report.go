package verify

import (
	"fmt"
	"time"
)

// Reason is a stable code for why a log did not verify. Scripts may match on
// it; the set only grows.
type Reason string

// The reasons, as FORMAT.md ("What the verifier checks") defines them.
const (
	// Tampered: bytes differ from what the sealer wrote.
	ReasonModified           Reason = "modified"            // a record or frame does not match its stored hash or checksum
	ReasonMalformed          Reason = "malformed"           // a record or checkpoint is not in the format
	ReasonSchemaInvalid      Reason = "schema_invalid"      // an event is not a valid, canonical event of its type
	ReasonChainBroken        Reason = "chain_broken"        // prev_hash does not link to the record before
	ReasonSequenceGap        Reason = "sequence_gap"        // a sequence number is missing or out of order inside a segment
	ReasonTimeBackwards      Reason = "time_backwards"      // a record's time is before the previous record's
	ReasonSegmentMissing     Reason = "segment_missing"     // a whole segment (or the start of the log) is absent
	ReasonSegmentReordered   Reason = "segment_reordered"   // a segment's name does not match its first record
	ReasonSegmentDuplicated  Reason = "segment_duplicated"  // a segment repeats records of an earlier one
	ReasonSegmentForeign     Reason = "segment_foreign"     // a segment belongs to another log
	ReasonBadSignature       Reason = "bad_signature"       // a trusted key's signature on a checkpoint does not verify
	ReasonUnknownKey         Reason = "unknown_key"         // a checkpoint by a key neither given nor introduced, after checkpoints of trusted keys
	ReasonCheckpointMismatch Reason = "checkpoint_mismatch" // a signed checkpoint does not match the records it covers
	ReasonTruncated          Reason = "truncated"           // the log is shorter than a checkpoint says it was
	ReasonInconsistent       Reason = "inconsistent_with_checkpoint"
	ReasonSoftwareKey        Reason = "software_key"      // a hardware key was required, the checkpoint says software or dev
	ReasonAnchorSequence     Reason = "anchor_sequence"   // anchored counters do not follow FORMAT.md §5.3
	ReasonRolledBack         Reason = "rolled_back"       // the log is older than the TPM counter says it should be
	ReasonEvidenceMismatch   Reason = "evidence_mismatch" // TPM evidence for another index, or older than the log
	ReasonRetiredKey         Reason = "retired_key"       // a checkpoint is signed by a key after it endorsed its successor
	ReasonPruneTooEarly      Reason = "prune_too_early"   // a retention prune deleted records younger than its retention period
	// ReasonInconsistentWithWitness: with a witness policy, a checkpoint
	// that a listed witness cosigned disagrees with the log (another root
	// at its size; for a cosignature the log records, a size beyond its
	// end), or the log records the sealer's split-view alarm about a
	// listed witness (FORMAT.md §5.6).
	ReasonInconsistentWithWitness Reason = "inconsistent_with_witness"
	// ReasonUnwitnessed: with a witness policy, fewer listed witnesses
	// than the quorum cosigned a checkpoint of the log, fresh enough.
	ReasonUnwitnessed Reason = "unwitnessed"
	// ReasonUnknownAK: TPM evidence by an attestation key that is not the
	// one the log's last TPM identity names (or the log records none),
	// the one the auditor pinned, or the one a credential challenge bound
	// to a certified endorsement key: it proves nothing about this log.
	ReasonUnknownAK Reason = "unknown_ak"
	// Incomplete: nothing contradicts the signatures, but not everything is sealed.
	ReasonUnsealedTail Reason = "unsealed_tail" // records the run key authenticated that no checkpoint covers yet
	// ReasonUnauthenticatedTail: records at the end of the log that no
	// checkpoint and no commit authenticates (a crash's remains, or
	// records someone else wrote); they count for nothing.
	ReasonUnauthenticatedTail Reason = "unauthenticated_tail"
	ReasonTornTail            Reason = "torn_tail"      // the last segment ends in a partial frame (a crash; the sealer cuts it at start)
	ReasonAnchorPending       Reason = "anchor_pending" // the counter moved for an anchor the log announced but has not written yet
	// Unverifiable: the log may be intact, but the keys given cannot tell.
	// ReasonUntrustedKey: the log's first checkpoint is signed by a key
	// the auditor did not give, or a checkpoint by a key the log
	// introduced that no trusted key endorsed (FORMAT.md §7).
	ReasonUntrustedKey Reason = "untrusted_key"
)

// Verdict is the overall result.
type Verdict string

// The verdicts. The command audit-verify exits 0 for Intact, 1 for
// Tampered and Incomplete, and 2 for Unverifiable, as when it could not
// check at all: not being able to check is not tampering.
const (
	Intact     Verdict = "intact"
	Tampered   Verdict = "tampered"
	Incomplete Verdict = "incomplete"
	// Unverifiable: the keys given do not reach the log's signatures
	// (reason untrusted_key): the auditor holds the wrong key, or a key the
	// log introduced without an endorsement was not given.
	Unverifiable Verdict = "unverifiable"
)

// verdictOf says which verdict a failure reason leads to.
func verdictOf(r Reason) Verdict {
	switch r {
	case ReasonUnsealedTail, ReasonUnauthenticatedTail, ReasonTornTail, ReasonAnchorPending:
		return Incomplete
	case ReasonUntrustedKey:
		return Unverifiable
	}
	return Tampered
}

// ExitCode is the exit status of audit-verify (and audit-sealer report)
// for a verdict: 0 intact, 1 tampered or incomplete, 2 unverifiable.
func (v Verdict) ExitCode() int {
	switch v {
	case Intact:
		return 0
	case Unverifiable:
		return 2
	}
	return 1
}

// Failure locates the first problem found.
type Failure struct {
	Reason  Reason  `json:"reason"`
	Segment string  `json:"segment"`       // segment file name (or "checkpoint" for <dir>/checkpoint)
	Offset  int64   `json:"offset"`        // byte offset of the frame in the segment, -1 if not applicable
	Seq     *uint64 `json:"seq,omitempty"` // sequence number of the record, when known
	Detail  string  `json:"detail"`
}

func (f *Failure) String() string {
	s := fmt.Sprintf("%s: %s", f.Reason, f.Detail)
	if f.Segment != "" {
		s += fmt.Sprintf(" (segment %s", f.Segment)
		if f.Offset >= 0 {
			s += fmt.Sprintf(", offset %d", f.Offset)
		}
		if f.Seq != nil {
			s += fmt.Sprintf(", seq %d", *f.Seq)
		}
		s += ")"
	}
	return s
}

// CheckpointSummary describes a verified checkpoint.
type CheckpointSummary struct {
	Size       uint64    `json:"size"`
	Root       string    `json:"root"` // base64, as in the note
	Time       time.Time `json:"time"`
	KeyID      string    `json:"key_id"`
	KeyName    string    `json:"key_name"`
	SignerKind string    `json:"signer_kind"`
	Algorithm  string    `json:"algorithm"`
	Dev        bool      `json:"dev"`
	// NoteSHA256 is the hex SHA-256 of the signed note's bytes as the log
	// stores them: it names exactly the checkpoint the verification ended
	// on, whose root commits to every record before it.
	NoteSHA256 string `json:"note_sha256"`
}

// Report is the result of verifying a data directory.
type Report struct {
	Verdict Verdict `json:"verdict"`
	LogID   string  `json:"log_id,omitempty"`
	Records uint64  `json:"records"` // records checked
	// Checkpoints counts the checkpoints signed by a trusted key whose
	// signature covers them: their own, or (without
	// Options.AllSignatures) that of a later checkpoint whose tree holds
	// them. SignaturesChecked counts the signatures actually checked.
	Checkpoints       int     `json:"checkpoints"`
	SignaturesChecked int     `json:"signatures_checked"`
	Segments          int     `json:"segments"`
	Bytes             int64   `json:"bytes"`
	LastSeq           *uint64 `json:"last_seq,omitempty"`
	Unsealed          uint64  `json:"unsealed"` // records no checkpoint covers
	// Unauthenticated counts records at the end of the log that nothing
	// the sealer signed authenticates.
	Unauthenticated uint64 `json:"unauthenticated,omitempty"`
	// PrunedBefore is set when retention deleted records 0..PrunedBefore-1
	// and the log records it.
	PrunedBefore   uint64             `json:"pruned_before,omitempty"`
	LastCheckpoint *CheckpointSummary `json:"last_checkpoint,omitempty"`
	LastAnchor     *AnchorSummary     `json:"last_anchor,omitempty"`
	// TPMIdentity is the TPM identity the log last recorded (the last
	// authenticated audit.tpm_identity record).
	TPMIdentity *IdentitySummary `json:"tpm_identity,omitempty"`
	// Evidence reports the TPM evidence the log was compared with.
	Evidence *EvidenceSummary `json:"tpm_evidence,omitempty"`
	// TrustedCheckpoint reports on the checkpoint the auditor supplied.
	TrustedCheckpoint *TrustedResult `json:"trusted_checkpoint,omitempty"`
	// Witnessing reports on the witness policy, when one was given: which
	// listed witnesses cosigned which size when, and the witnessed size
	// against the log's.
	Witnessing   *WitnessReport `json:"witnessing,omitempty"`
	FirstFailure *Failure       `json:"first_failure"`
	// Exceptions are what an auditor must look at in an intact log: each
	// recorded by the sealer in an authenticated record (a recovered
	// crash, an operator's override, records cut at start, an interrupted
	// prune, a key accepted without endorsement).
	Exceptions []Exception `json:"exceptions,omitempty"`
	// ExceptionCounts counts the exceptions by code, all of them: the list
	// holds the first MaxListed the verification met, sorted by record
	// (ExceptionsTruncated says when it holds fewer).
	ExceptionCounts     map[string]int `json:"exception_counts,omitempty"`
	ExceptionsTruncated bool           `json:"exceptions_truncated,omitempty"`
	Warnings            []string       `json:"warnings,omitempty"`
	Seconds             float64        `json:"seconds"`

	// The evidence report (FORMAT.md §7.1): what an auditor attaches.

	// Period is the part of the log that was checked.
	Period *Period `json:"period,omitempty"`
	// SegmentFiles lists the segments read, in order (the first
	// MaxListed; Segments and Bytes count them all).
	SegmentFiles          []SegmentFile `json:"segment_files,omitempty"`
	SegmentFilesTruncated bool          `json:"segment_files_truncated,omitempty"`
	// TrustedKeys are the keys the auditor gave.
	TrustedKeys []KeyInfo `json:"trusted_keys,omitempty"`
	// KeyHistory lists every key that signed a checkpoint of the log, or
	// that the log introduced, in the order they appear.
	KeyHistory []KeyUse `json:"key_history,omitempty"`
	// Anchoring summarises the TPM anchors and the stretches of the log
	// that stayed unanchored longer than the sealer allows.
	Anchoring *Anchoring `json:"anchoring,omitempty"`
	// Completeness counts what the sealer recorded about its own runs and
	// about events that never reached the log.
	Completeness *Completeness `json:"completeness,omitempty"`
	// FIPS states each run's FIPS 140-3 mode (fips.go).
	FIPS *FIPSReport `json:"fips,omitempty"`
}

// MaxListed bounds each list of the evidence report (exceptions,
// unanchored stretches, segment files, keys): memory stays flat in the
// log's size, and the counts say how many there are in all.
const MaxListed = 1000

// Period is the stretch of the log the verification covered: its first
// and last record (the record's time is the sealer's receive time).
type Period struct {
	FirstSeq  uint64    `json:"first_seq"`
	FirstTime time.Time `json:"first_time"`
	LastSeq   uint64    `json:"last_seq"`
	LastTime  time.Time `json:"last_time"`
	// PrunedBefore: retention deleted records 0..PrunedBefore-1, as an
	// authenticated audit.retention_pruned records (0: nothing pruned).
	PrunedBefore uint64 `json:"pruned_before"`
}

// SegmentFile is one segment the verification read.
type SegmentFile struct {
	Name     string `json:"name"`
	Bytes    int64  `json:"bytes"`
	FirstSeq uint64 `json:"first_seq"`
}

// KeyInfo identifies a checkpoint key: its key ID (hex of the first 16
// bytes of SHA-256 of its DER SubjectPublicKeyInfo, as everything else
// prints it) and its fingerprint (hex of all 32 bytes of that hash).
type KeyInfo struct {
	KeyID      string `json:"key_id"`
	SPKISHA256 string `json:"spki_sha256"`
	Algorithm  string `json:"algorithm"`
}

// KeyUse is one key of the log's key history.
type KeyUse struct {
	KeyInfo
	// Trust says why the verifier accepted the key: "given" (the auditor
	// gave it), "endorsed" (introduced by the log and endorsed by a
	// checkpoint of a trusted key), "unendorsed" (introduced without an
	// endorsement and trusted only because the auditor gave it), or
	// "untrusted" (introduced, never endorsed).
	Trust string `json:"trust"`
	// IntroducedSeq is the audit.key_introduced record that carries the
	// key; EndorsedSeq the checkpoint that endorsed it, signed by
	// EndorsedBy (a key ID).
	IntroducedSeq *uint64 `json:"introduced_seq,omitempty"`
	EndorsedSeq   *uint64 `json:"endorsed_seq,omitempty"`
	EndorsedBy    string  `json:"endorsed_by,omitempty"`
	// FirstCheckpoint and LastCheckpoint are the first and last
	// checkpoints it signed; Checkpoints counts them.
	FirstCheckpoint *CheckpointRef `json:"first_checkpoint,omitempty"`
	LastCheckpoint  *CheckpointRef `json:"last_checkpoint,omitempty"`
	Checkpoints     int            `json:"checkpoints"`
	// RetiredAfter is the checkpoint after which the key may sign nothing
	// (it endorsed its successor).
	RetiredAfter *uint64 `json:"retired_after,omitempty"`
}

// CheckpointRef is a checkpoint record of the log.
type CheckpointRef struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
}

// Anchoring summarises the TPM anchors (FORMAT.md §5.3).
type Anchoring struct {
	// Interval is the anchor interval the sealer ran with: from the
	// settings of the log's last audit.sealer_started ("log"), or, if the
	// log records none, the one assumed (Options.AnchorInterval: "assumed").
	Interval       string `json:"interval"`
	IntervalSource string `json:"interval_source"`
	// Threshold is how long records may stay unanchored before a stretch
	// is reported: the interval plus the heartbeat (a running sealer
	// anchors at its first seal after the interval, and seals at least
	// once per heartbeat).
	Threshold string     `json:"threshold"`
	Anchors   int        `json:"anchors"`
	First     *AnchorRef `json:"first,omitempty"`
	Last      *AnchorRef `json:"last,omitempty"`
	// Stretches are the stretches of records that stayed unanchored longer
	// than Threshold (the first MaxListed; StretchesTotal counts them all).
	Stretches      []Stretch `json:"unanchored_stretches"`
	StretchesTotal int       `json:"unanchored_stretches_total"`
}

// AnchorRef is an anchored checkpoint.
type AnchorRef struct {
	Counter uint64    `json:"counter"`
	Index   string    `json:"index"`
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
}

// Stretch is a run of records that no anchored checkpoint covered for
// longer than the threshold: from the first checkpoint after an anchored
// one to the next anchored checkpoint (Open: none yet, to the log's last
// record).
type Stretch struct {
	FromSeq  uint64    `json:"from_seq"`
	FromTime time.Time `json:"from_time"`
	ToSeq    uint64    `json:"to_seq"`
	ToTime   time.Time `json:"to_time"`
	Seconds  float64   `json:"seconds"`
	Open     bool      `json:"open,omitempty"`
}

// Completeness counts what the sealer recorded about its runs and about
// events that never reached the log (authenticated records only).
type Completeness struct {
	SealerStarts int `json:"sealer_starts"`
	CleanStops   int `json:"clean_stops"`
	// UncleanStops counts starts with no audit.sealer_stopped since the
	// previous start (exception unclean_stop).
	UncleanStops       int    `json:"unclean_stops"`
	EventsShed         uint64 `json:"events_shed"`
	CriticalEventsShed uint64 `json:"critical_events_shed"`
	ClientDropped      uint64 `json:"client_dropped"`
}

// AnchorSummary describes the log's last anchored checkpoint.
type AnchorSummary struct {
	Counter uint64 `json:"counter"`
	Index   string `json:"index"`
	Seq     uint64 `json:"seq"`
	Anchors int    `json:"anchors"` // anchored checkpoints in the log
}

// EvidenceSummary describes the TPM evidence checked against the log.
type EvidenceSummary struct {
	Counter      uint64 `json:"counter"`
	Index        string `json:"index"`
	NonceChecked bool   `json:"nonce_checked"`
	AKName       string `json:"ak_name"` // hex: pin it to recognise the TPM next time
	// AKPinned reports that the AK is the one the auditor pinned.
	AKPinned bool `json:"ak_pinned"`
	// EKCA is the subject of the pinned CA that certified the endorsement
	// key to which a credential challenge bound the AK ("" without one).
	EKCA string `json:"ek_ca,omitempty"`
}

// IdentitySummary describes the TPM identity a log records
// (audit.tpm_identity): the attestation key whose evidence counts for it,
// and the counter index.
type IdentitySummary struct {
	AKName  string `json:"ak_name"` // hex
	NVIndex string `json:"nv_index"`
	NVName  string `json:"nv_name"` // hex
	// EKCertificate is the TPM's endorsement key certificate, standard
	// base64 of DER, if the sealer found one.
	EKCertificate string `json:"ek_certificate,omitempty"`
	Seq           uint64 `json:"seq"` // the record
}

// TrustedResult says whether the log is consistent with a checkpoint the
// auditor kept from earlier.
type TrustedResult struct {
	Size       uint64 `json:"size"`
	Consistent bool   `json:"consistent"`
}

// Exception is something the log records that an auditor must look at
// although it verifies: Code is stable (crash_recovered, counter_jump,
// rollback_override, anchor_reset, tail_discarded, interrupted_prune,
// unendorsed_key, tpm_identity_changed, unclean_stop, torn_tail_cut,
// events_shed, client_dropped, storage_recovered, retention_pruned,
// dev_mode, anchoring_disabled, unanchored_stretch, witness_alarm;
// FORMAT.md §7), Seq
// the record that says so and Time its time.
type Exception struct {
	Code    string    `json:"code"`
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Segment string    `json:"segment"`
	Detail  string    `json:"detail"`
	// Count is the number of events shed or dropped (events_shed,
	// client_dropped).
	Count    uint64 `json:"count,omitempty"`
	critical uint64 // events_shed: critical emits that timed out
}
