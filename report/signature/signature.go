// Package signature makes and checks the signature of a report that the
// sealer built (FORMAT.md §10). The sealer records the report's SHA-256 in
// the chain, in the audit.log_read record of the read that built it, and
// seals that record; the signature file holds the record's inclusion
// proof (FORMAT.md §6) under a checkpoint signed by the log's key. Whoever
// trusts that key can then check, with the report file and its signature
// alone, that the file is byte for byte the report the sealer sent, which
// report it is, who asked for it and when. The package is pure Go and
// links no hardware code: audit-verify report uses it.
package signature

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/strictjson"
	"github.com/audit-sealer/audit-sealer/verify"
)

// Format is the format line of a signature file.
const Format = "audit-sealer report signature v1"

// MaxSize bounds a signature file: an inclusion bundle (at most
// chain.MaxBundleSize) and a few short members.
const MaxSize = chain.MaxBundleSize + 4096

// File is a signature file (FORMAT.md §10).
type File struct {
	Format string `json:"format"`
	// Report and ReportFormat are the report's kind (soc2, pci,
	// iso27001, gdpr) and format (json, html).
	Report       string `json:"report"`
	ReportFormat string `json:"report_format"`
	// SHA256 is the lowercase hex SHA-256 of the report file's bytes.
	SHA256 string `json:"sha256"`
	// Proof is the inclusion bundle (FORMAT.md §6) of the audit.log_read
	// record that holds SHA256.
	Proof json.RawMessage `json:"proof"`
}

// Errors of Parse and Check, by what failed.
var (
	// ErrMalformed: the signature file is not well formed (exit 2: it
	// says nothing either way).
	ErrMalformed = errors.New("signature: malformed signature file")
	// ErrMismatch: the report, the signature and the proven record do
	// not agree (the report was changed, or the signature is another
	// report's).
	ErrMismatch = errors.New("signature: the report does not match its signature")
)

// New returns the signature file of the report body of kind and format,
// whose SHA-256 the audit.log_read record that bundle proves holds.
func New(kind, format string, body []byte, bundle *chain.InclusionBundle) ([]byte, error) {
	proof, err := json.Marshal(bundle)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	sum := sha256.Sum256(body)
	b, err := json.MarshalIndent(File{Format: Format, Report: kind, ReportFormat: format, SHA256: hex.EncodeToString(sum[:]), Proof: proof}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return append(b, '\n'), nil
}

// Parse decodes a signature file strictly (the rules of FORMAT.md §6:
// every member once under its exact name, no other, nothing after the
// object) and its inclusion bundle. Its errors wrap ErrMalformed.
func Parse(data []byte) (*File, *chain.InclusionBundle, error) {
	if len(data) > MaxSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(data), MaxSize)
	}
	var f File
	if err := strictjson.Unmarshal(data, &f); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if f.Format != Format {
		return nil, nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, f.Format, Format)
	}
	if sum, err := hex.DecodeString(f.SHA256); err != nil || len(sum) != sha256.Size || hex.EncodeToString(sum) != f.SHA256 {
		return nil, nil, fmt.Errorf("%w: sha256 %q is not 64 lowercase hex digits", ErrMalformed, f.SHA256)
	}
	b, err := chain.ParseInclusionBundle(f.Proof)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: proof: %w", ErrMalformed, err)
	}
	return &f, b, nil
}

// Result is what a valid signature says of its report.
type Result struct {
	Report       string    `json:"report"`
	ReportFormat string    `json:"report_format"`
	SHA256       string    `json:"sha256"`
	Seq          uint64    `json:"seq"`      // the audit.log_read record
	AuditID      string    `json:"audit_id"` // its audit_id
	Time         time.Time `json:"time"`     // when the sealer recorded it
	UID          uint32    `json:"uid"`      // who asked for the report
	GID          uint32    `json:"gid"`
	// Filters are what was asked (the report, its format, period and
	// customer), as recorded.
	Filters json.RawMessage `json:"filters"`
	// Records is how many records of the period the report counted.
	Records uint64 `json:"records"`
	// Checkpoint is the checkpoint the proof leads to.
	Checkpoint *chain.SignedCheckpoint `json:"-"`
}

// Checker checks an inclusion bundle: a *verify.KeyRing.
type Checker interface {
	CheckInclusion(*chain.InclusionBundle) (*verify.Disclosed, error)
}

// Check checks that report is the report the signature names: its
// SHA-256 is the signature's, the bundle proves (with keys: the keys the
// checker trusts) an audit.log_read record of operation report that holds
// that SHA-256, and the record's filters name the signature's kind and
// format. A report that does not match gives an error wrapping
// ErrMismatch; a bundle that does not check, the error of CheckInclusion
// (wrapping chain.ErrUnknownKey when no trusted key signed its checkpoint).
func Check(report []byte, f *File, bundle *chain.InclusionBundle, keys Checker) (*Result, error) {
	sum := sha256.Sum256(report)
	if got := hex.EncodeToString(sum[:]); got != f.SHA256 {
		return nil, fmt.Errorf("%w: the report's SHA-256 is %s, the signature's %s: the report was changed, or the signature is another report's", ErrMismatch, got, f.SHA256)
	}
	d, err := keys.CheckInclusion(bundle)
	if err != nil {
		return nil, err
	}
	rec := d.Record
	if rec.Kind != chain.KindSealerEvent || string(rec.Type) != event.TypeLogRead {
		return nil, fmt.Errorf("%w: the proven record %d is a %s %q, not an audit.log_read", ErrMismatch, rec.Seq, rec.Kind, rec.Type)
	}
	ev, err := event.Decode(rec.Event, event.DecodeOptions{AllowSealerEvents: true, Now: rec.Time()})
	if err != nil {
		return nil, fmt.Errorf("%w: the proven record %d: %w", ErrMismatch, rec.Seq, err)
	}
	lr, ok := ev.(*event.LogRead)
	if !ok || lr.Operation != event.OpReport || lr.ReportSHA256 != f.SHA256 {
		return nil, fmt.Errorf("%w: the proven record %d does not hold this report's SHA-256 %s", ErrMismatch, rec.Seq, f.SHA256)
	}
	var asked struct {
		Report string `json:"report"`
		Format string `json:"format"`
	}
	if err := json.Unmarshal(lr.Filters, &asked); err != nil || asked.Report != f.Report || asked.Format != f.ReportFormat {
		return nil, fmt.Errorf("%w: the proven record %d is of a %s report in %s, the signature names %s in %s", ErrMismatch, rec.Seq, asked.Report, asked.Format, f.Report, f.ReportFormat)
	}
	return &Result{Report: f.Report, ReportFormat: f.ReportFormat, SHA256: f.SHA256, Seq: rec.Seq, AuditID: string(rec.AuditID),
		Time: rec.Time(), UID: lr.UID, GID: lr.GID, Filters: lr.Filters, Records: lr.Results, Checkpoint: d.Checkpoint}, nil
}
