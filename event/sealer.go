package event

import (
	"encoding/json"
	"time"
)

// The sealer's own event types. Clients may never send them: Decode and
// CheckCanonical accept them only with DecodeOptions.AllowSealerEvents.
const (
	TypeSealerStarted    = "audit.sealer_started"
	TypeSealerStopped    = "audit.sealer_stopped"
	TypeEventsShed       = "audit.events_shed"
	TypeClientDropped    = "audit.client_dropped"
	TypeKeyIntroduced    = "audit.key_introduced"
	TypeAnchorState      = "audit.anchor_state"
	TypeRetentionPruned  = "audit.retention_pruned"
	TypeLogRead          = "audit.log_read"
	TypeStorageRecovered = "audit.storage_recovered"
	TypeTailDiscarded    = "audit.tail_discarded"
	TypeTPMIdentity      = "audit.tpm_identity"
	// The witness types (FORMAT.md §5.6).
	TypeCheckpointWitnessed = "audit.checkpoint_witnessed"
	TypeWitnessAlarm        = "audit.witness_alarm"
	// A reload of the running sealer's configuration (SIGHUP).
	TypeConfigReloaded = "audit.config_reloaded"
)

// SealerMode is the mode of audit.sealer_started.
type SealerMode string

// The accepted sealer modes.
const (
	ModeProduction SealerMode = "production"
	ModeDev        SealerMode = "dev"
)

// KeyKind says where the signing key lives.
type KeyKind string

// The accepted key kinds.
const (
	KeySoftware KeyKind = "software"
	KeyPKCS11   KeyKind = "pkcs11"
)

// Algorithm is a signature algorithm.
type Algorithm string

// The accepted algorithms.
const (
	AlgEd25519   Algorithm = "ed25519"
	AlgECDSAP256 Algorithm = "ecdsa-p256"
)

// FIPSMode is the mode of the Go Cryptographic Module in
// audit.sealer_started, as GODEBUG=fips140 names it.
type FIPSMode string

// The accepted FIPS modes.
const (
	// FIPSOff: not in FIPS 140-3 mode.
	FIPSOff FIPSMode = "off"
	// FIPSOn: FIPS 140-3 mode (GODEBUG=fips140=on, the default of a build
	// with GOFIPS140).
	FIPSOn FIPSMode = "on"
	// FIPSOnly: FIPS 140-3 mode, with non-approved algorithms refused
	// (GODEBUG=fips140=only).
	FIPSOnly FIPSMode = "only"
)

// HSMFIPS is what a PKCS#11 token reported about the FIPS 140 validation
// of the signing key, in audit.sealer_started (package hsm, FIPSStatus).
type HSMFIPS string

// The accepted HSM FIPS states.
const (
	// HSMValidated: the token reports a NIST CMVP validation (PKCS#11 3.2
	// validation object) and that the key meets it.
	HSMValidated HSMFIPS = "validated"
	// HSMNotValidated: the token reports a NIST CMVP validation that the
	// key does not meet, or is in its error state.
	HSMNotValidated HSMFIPS = "not_validated"
	// HSMUnreported: the token reports no NIST CMVP validation, or not
	// whether the key meets it (SoftHSM2 always).
	HSMUnreported HSMFIPS = "unreported"
)

// AnchorStatus is the status of audit.anchor_state.
type AnchorStatus string

// The accepted anchor states.
const (
	AnchorProvisioned      AnchorStatus = "provisioned"
	AnchorContinuation     AnchorStatus = "continuation"
	AnchorCrashRecovered   AnchorStatus = "crash_recovered"
	AnchorRollbackOverride AnchorStatus = "rollback_override"
	AnchorReset            AnchorStatus = "anchor_reset"
	AnchorDisabled         AnchorStatus = "disabled"
	// AnchorIncrementIntent is written (and made durable) just before the
	// sealer increments the counter, so that a crash between the increment
	// and the anchored checkpoint is recognised at restart; Expected is the
	// value the increment should yield.
	AnchorIncrementIntent AnchorStatus = "increment_intent"
)

// DiscardDecision says who decided that audit.tail_discarded's records go.
type DiscardDecision string

// The accepted discard decisions.
const (
	// DiscardCrash: the records were the remains of a group commit that a
	// crash interrupted, which the sealer never acknowledged.
	DiscardCrash DiscardDecision = "crash_remains"
	// DiscardOperator: the operator accepted the discard
	// (--accept-unauthenticated-tail).
	DiscardOperator DiscardDecision = "operator"
)

// LogOperation is the operation of audit.log_read.
type LogOperation string

// The accepted log read operations.
const (
	OpQuery  LogOperation = "query"
	OpExport LogOperation = "export"
	OpProve  LogOperation = "prove"
	OpReport LogOperation = "report"
)

// maxSettings bounds SealerStarted.Settings.
const maxSettings = 64

// SealerStarted is audit.sealer_started.
type SealerStarted struct {
	Timestamp time.Time
	Version   string
	Mode      SealerMode
	KeyID     string // an identifier
	KeyKind   KeyKind
	Algorithm Algorithm
	// Settings are the effective settings, string to string, at most 64
	// entries. Keys may not be empty; values may. A nil map is encoded as {}.
	Settings map[string]string
	// TornTailBytes is optional: the size of a torn tail cut off at start.
	TornTailBytes *uint64
	// TornTailKeptAs is optional: the file name (no directory) the torn
	// bytes were kept in.
	TornTailKeptAs string
	// FIPS140 is optional: the mode of the Go Cryptographic Module the
	// sealer ran with. Sealers before FIPS support record none.
	FIPS140 FIPSMode
	// FIPS140Module is optional: the Go Cryptographic Module the sealer
	// was built with: the frozen module GOFIPS140 selected (such as
	// "v1.0.0-c2097c7c"), or "latest", the Go toolchain's own copy.
	FIPS140Module string
	// HSMFIPS is optional: what the PKCS#11 token reported about the FIPS
	// 140 validation of the signing key; none for a software key.
	HSMFIPS HSMFIPS
	// HSMValidation is optional: the NIST CMVP validation the token
	// reported (certificate, FIPS 140 version and level, module).
	HSMValidation string
}

// SealerStopped is audit.sealer_stopped.
type SealerStopped struct {
	Timestamp time.Time
	Reason    string
	Records   uint64 // records written by this run
}

// EventsShed is audit.events_shed (critical): events dropped under load.
type EventsShed struct {
	Timestamp     time.Time
	Count         uint64
	Reason        string
	CriticalCount uint64
	FirstAt       time.Time
	LastAt        time.Time
}

// CheckpointWitnessed is audit.checkpoint_witnessed: a witness cosigned
// one of the log's checkpoints (FORMAT.md §5.6). It carries everything
// needed to check the cosignature without looking anything up: the
// checkpoint's note text and the cosignature line. The sealer records only
// cosignatures it verified with the witness's configured key.
type CheckpointWitnessed struct {
	Timestamp time.Time
	// Witness is the witness's name in the sealer's configuration.
	Witness string
	// Size is the tree size of the cosigned checkpoint.
	Size uint64
	// Checkpoint is the cosigned checkpoint's note text: every line from
	// the origin to the last extension line, each ending in a newline,
	// without the blank line and the signature lines. It is what the
	// cosignature signs (after the cosignature/v1 and time lines).
	Checkpoint string
	// Cosignature is the witness's signature line, "— <key name>
	// <base64>", without its final newline.
	Cosignature string
}

// WitnessAlarm is audit.witness_alarm (critical): a witness answered that
// a checkpoint of this log is inconsistent with one it cosigned before,
// although the sealer checked its own consistency proof; or the witness
// cosigned a larger tree of this log than the sealer's. Either is a split
// view (the log was rolled back or forked, here or on the witness's side)
// and asks for an operator; the sealer does not submit to that witness
// again in this run.
type WitnessAlarm struct {
	Timestamp time.Time
	Witness   string
	// OldSize is the size the sealer believed the witness cosigned last;
	// Size the size of the refused checkpoint.
	OldSize uint64
	Size    uint64
	// KnownSize is the size the witness says it cosigned, when it said.
	KnownSize *uint64
	// Answer is what the witness answered (status and body, or the error).
	Answer string
}

// ConfigReloaded is audit.config_reloaded (critical): the running sealer
// read its configuration again (SIGHUP, systemctl reload) and applied
// what can change without a restart. It is recorded, and made durable,
// before the new settings take effect.
type ConfigReloaded struct {
	Timestamp time.Time
	// File is the configuration file read (optional: none when the
	// sealer runs on defaults, AUDIT_SEALER_* variables and flags).
	File string
	// Applied names the settings whose new values took effect (TOML keys
	// such as "limits.max_connections", "policy"); it may be empty.
	Applied []string
	// RestartRequired names the settings that changed but take effect only
	// at the next start (the data directory, the socket, the signer, the
	// TPM, ...); they kept their values. It may be empty.
	RestartRequired []string
	// Settings are the effective settings after the reload, as in
	// audit.sealer_started (at most 64 entries).
	Settings map[string]string
	// Policy is the [[policy]] in force after the reload, one entry a
	// line: who it matches, then its services ("uid 0, user root:
	// queen-rbee pool-managerd"); empty without policy.
	Policy []string
}

// ClientDropped is audit.client_dropped: events a client library dropped
// before they reached the sealer.
type ClientDropped struct {
	Timestamp time.Time
	ServiceID string
	Count     uint64
	Reason    string
}

// KeyIntroduced is audit.key_introduced.
type KeyIntroduced struct {
	Timestamp time.Time
	KeyID     string // 8..128 lower-case hex
	KeyName   string
	Algorithm Algorithm
	KeyKind   KeyKind
	PublicKey string // standard base64 (with padding) of the raw public key
	Reason    string
}

// AnchorState is audit.anchor_state (critical).
type AnchorState struct {
	Timestamp time.Time
	Status    AnchorStatus
	Counter   *uint64 // optional
	Expected  *uint64 // optional
	Details   string  // optional free text, LF allowed
}

// StorageRecovered is audit.storage_recovered: writing the log failed (a
// full disk, an I/O error), the sealer refused events meanwhile, and it
// resumed; bytes written without a successful fdatasync were cut and kept
// aside.
type StorageRecovered struct {
	Timestamp      time.Time
	FailedAt       time.Time
	Error          string  // what failed, free text (LF allowed)
	DiscardedBytes *uint64 // optional: bytes cut because they were never made durable
	KeptAs         string  // optional: the file they were kept in
}

// TailDiscarded is audit.tail_discarded (critical): at start, records at
// the end of the log that nothing the sealer signed authenticates were cut
// and kept aside, never sealed (FORMAT.md §2.3).
type TailDiscarded struct {
	Timestamp time.Time
	FirstSeq  uint64 // the first record cut (the next record number)
	Records   uint64 // complete records among the cut bytes
	Segment   string // the segment they were cut from
	Offset    uint64 // where the cut bytes started in it
	Bytes     uint64
	SHA256    string // hex SHA-256 of the cut bytes
	KeptAs    string // the file they were kept in
	Reason    string
	DecidedBy DiscardDecision
}

// TPMIdentity is audit.tpm_identity (critical): the TPM that anchors the
// log, recorded at every start of a sealer that anchors, before the
// checkpoint that seals the start. Its attestation key (AK) is the only key
// whose NV_Certify evidence of the anchor counter an auditor accepts for
// this log (FORMAT.md §5.4).
type TPMIdentity struct {
	Timestamp time.Time
	AKName    string // hex of the AK's Name: nameAlg || H(ak_public)
	AKPublic  string // standard base64 of the AK's TPMT_PUBLIC
	NVIndex   uint32 // the anchor counter's NV index
	NVName    string // hex of the counter index's Name
	// EKCertificate is optional: standard base64 (at most 12 KiB) of the
	// DER endorsement key certificate the TPM holds in its TCG NV index,
	// where an auditor finds the EK to challenge: a credential challenge
	// proves that the AK is in the TPM holding that EK (FORMAT.md §5.4).
	EKCertificate string
}

// RetentionPruned is audit.retention_pruned.
type RetentionPruned struct {
	Timestamp     time.Time
	FirstSeq      uint64
	LastSeq       uint64
	Segments      []string // file names, no directories
	RetentionDays uint32
	Reason        string
}

// LogRead is audit.log_read: a read of the log through the sealer.
type LogRead struct {
	Timestamp time.Time
	UID       uint32
	GID       uint32
	Operation LogOperation
	// Filters is a JSON object with the same limits as PoolModified.Changes.
	Filters json.RawMessage
	Results uint64
	// ReportSHA256, for operation report, is the lowercase hex SHA-256 of
	// the report the sealer built and sent (FORMAT.md §10): with this
	// record's inclusion proof it makes the report tamper-evident.
	ReportSHA256 string
}

func (e *SealerStarted) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("version", &e.Version, &ruleText, false)
	b.text("mode", (*string)(&e.Mode), &ruleSealerMode, false)
	b.text("key_id", &e.KeyID, &ruleIdent, false)
	b.text("key_kind", (*string)(&e.KeyKind), &ruleKeyKind, false)
	b.text("algorithm", (*string)(&e.Algorithm), &ruleAlgorithm, false)
	b.stringMap("settings", &e.Settings)
	b.optU64("torn_tail_bytes", &e.TornTailBytes)
	b.text("torn_tail_kept_as", &e.TornTailKeptAs, &ruleFileName, true)
	b.text("fips140", (*string)(&e.FIPS140), &ruleFIPSMode, true)
	b.text("fips140_module", &e.FIPS140Module, &ruleText, true)
	b.text("hsm_fips", (*string)(&e.HSMFIPS), &ruleHSMFIPS, true)
	b.text("hsm_validation", &e.HSMValidation, &ruleText, true)
}

func (e *SealerStopped) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("reason", &e.Reason, &ruleText, false)
	b.u64("records", &e.Records)
}

func (e *EventsShed) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.u64("count", &e.Count)
	b.text("reason", &e.Reason, &ruleText, false)
	b.u64("critical_count", &e.CriticalCount)
	b.time("first_at", &e.FirstAt, timeEvent, false)
	b.time("last_at", &e.LastAt, timeEvent, false)
}

func (e *StorageRecovered) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.time("failed_at", &e.FailedAt, timeEvent, false)
	b.text("error", &e.Error, &ruleDetails, false)
	b.optU64("discarded_bytes", &e.DiscardedBytes)
	b.text("kept_as", &e.KeptAs, &ruleFileName, true)
}

func (e *CheckpointWitnessed) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("witness", &e.Witness, &ruleIdent, false)
	b.u64("size", &e.Size)
	b.text("checkpoint", &e.Checkpoint, &ruleDetails, false)
	b.text("cosignature", &e.Cosignature, &ruleText, false)
}

func (e *WitnessAlarm) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("witness", &e.Witness, &ruleIdent, false)
	b.u64("old_size", &e.OldSize)
	b.u64("size", &e.Size)
	b.optU64("known_size", &e.KnownSize)
	b.text("answer", &e.Answer, &ruleDetails, false)
}

func (e *ConfigReloaded) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("file", &e.File, &ruleText, true)
	b.texts("applied", &e.Applied, &ruleIdent)
	b.texts("restart_required", &e.RestartRequired, &ruleIdent)
	b.stringMap("settings", &e.Settings)
	b.texts("policy", &e.Policy, &ruleText)
}

func (e *ClientDropped) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("service_id", &e.ServiceID, &ruleIdent, false)
	b.u64("count", &e.Count)
	b.text("reason", &e.Reason, &ruleText, false)
}

func (e *KeyIntroduced) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("key_id", &e.KeyID, &ruleHex, false)
	b.text("key_name", &e.KeyName, &ruleText, false)
	b.text("algorithm", (*string)(&e.Algorithm), &ruleAlgorithm, false)
	b.text("key_kind", (*string)(&e.KeyKind), &ruleKeyKind, false)
	b.text("public_key", &e.PublicKey, &ruleBase64, false)
	b.text("reason", &e.Reason, &ruleText, false)
}

func (e *AnchorState) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("status", (*string)(&e.Status), &ruleAnchorStatus, false)
	b.optU64("counter", &e.Counter)
	b.optU64("expected", &e.Expected)
	b.text("details", &e.Details, &ruleDetails, true)
}

func (e *RetentionPruned) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.u64("first_seq", &e.FirstSeq)
	b.u64("last_seq", &e.LastSeq)
	b.texts("segments", &e.Segments, &ruleFileName)
	b.u32("retention_days", &e.RetentionDays)
	b.text("reason", &e.Reason, &ruleText, false)
}

func (e *TailDiscarded) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.u64("first_seq", &e.FirstSeq)
	b.u64("records", &e.Records)
	b.text("segment", &e.Segment, &ruleFileName, false)
	b.u64("offset", &e.Offset)
	b.u64("bytes", &e.Bytes)
	b.text("sha256", &e.SHA256, &ruleHex64, false)
	b.text("kept_as", &e.KeptAs, &ruleFileName, false)
	b.text("reason", &e.Reason, &ruleDetails, false)
	b.text("decided_by", (*string)(&e.DecidedBy), &ruleDiscardDecision, false)
}

func (e *TPMIdentity) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("ak_name", &e.AKName, &ruleHex, false)
	b.text("ak_public", &e.AKPublic, &ruleBase64, false)
	b.u32("nv_index", &e.NVIndex)
	b.text("nv_name", &e.NVName, &ruleHex, false)
	b.text("ek_certificate", &e.EKCertificate, &ruleCertificate, true)
}

func (e *LogRead) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.u32("uid", &e.UID)
	b.u32("gid", &e.GID)
	b.text("operation", (*string)(&e.Operation), &ruleLogOperation, false)
	b.object("filters", &e.Filters)
	b.u64("results", &e.Results)
	b.text("report_sha256", &e.ReportSHA256, &ruleHex64, true)
}
