package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/buildinfo"

	"github.com/audit-sealer/audit-sealer/verify"
)

// verifierVersion returns the verifier's version and VCS revision (with
// "+dirty" when the tree had changes), for the evidence report: what
// --version prints (internal/buildinfo).
func verifierVersion() (version, revision string) {
	b := buildinfo.Read()
	return b.Version, b.RevisionText()
}

// evidenceReport is what audit-verify prints (--format json, text, html):
// who verified, when, with which inputs, and verify.Report, whose members
// it carries at the top level.
type evidenceReport struct {
	Verifier   verifierInfo `json:"verifier"`
	VerifiedAt time.Time    `json:"verified_at"`
	Inputs     inputsInfo   `json:"inputs"`
	*verify.Report
}

// verifierInfo names the program that verified.
type verifierInfo struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	GoVersion string `json:"go_version"`
	// FIPS140 and FIPS140Module are the verifier's own Go Cryptographic
	// Module mode (off, on, only) and version (buildinfo).
	FIPS140       string `json:"fips140"`
	FIPS140Module string `json:"fips140_module"`
}

// inputsInfo is what the auditor gave, as given.
type inputsInfo struct {
	DataDir  string   `json:"data_dir"`
	KeyFiles []string `json:"key_files"`
	// Checkpoint is the --checkpoint file and CheckpointSHA256 the hex
	// SHA-256 of its bytes.
	Checkpoint       string `json:"checkpoint_file,omitempty"`
	CheckpointSHA256 string `json:"checkpoint_sha256,omitempty"`
	TPMEvidence      string `json:"tpm_evidence_file,omitempty"`
	MinCounter       *int64 `json:"min_counter,omitempty"`
	RequireHardware  bool   `json:"require_hardware"`
	RequireFIPS      bool   `json:"require_fips"`
	AllSignatures    bool   `json:"all_signatures"`
	// AnchorInterval is the anchor interval assumed where the log records
	// none (--anchor-interval).
	AnchorInterval string `json:"anchor_interval_assumed"`
	// Witnesses are the --witness values as given, WitnessQuorum and
	// WitnessMaxAge the policy's quorum and freshness bound.
	Witnesses     []string `json:"witnesses,omitempty"`
	WitnessQuorum int      `json:"witness_quorum,omitempty"`
	WitnessMaxAge string   `json:"witness_max_age,omitempty"`
}

// newEvidenceReport wraps rep with the verifier's identity and inputs.
func newEvidenceReport(rep *verify.Report, in inputsInfo, trusted []byte, at time.Time) *evidenceReport {
	version, revision := verifierVersion()
	if trusted != nil {
		sum := sha256.Sum256(trusted)
		in.CheckpointSHA256 = hex.EncodeToString(sum[:])
	}
	if in.KeyFiles == nil {
		in.KeyFiles = []string{}
	}
	return &evidenceReport{
		Verifier: verifierInfo{Name: "audit-verify", Version: version, Revision: revision, GoVersion: runtime.Version(),
			FIPS140: buildinfo.FIPSMode(), FIPS140Module: buildinfo.Read().FIPS140Module},
		VerifiedAt: at.UTC(),
		Inputs:     in,
		Report:     rep,
	}
}

// writeReport prints the report in format (text, json or html).
func writeReport(w io.Writer, format string, er *evidenceReport) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(er)
	case "html":
		return writeHTML(w, er)
	}
	printReport(w, er)
	return nil
}

// printEvidence prints the evidence report's summary lines of the text
// output: the verifier, the period, the keys, the anchoring and the
// completeness counts.
func printEvidence(w io.Writer, er *evidenceReport) {
	rep := er.Report
	rev := ""
	if er.Verifier.Revision != "" {
		rev = ", revision " + er.Verifier.Revision
	}
	fmt.Fprintf(w, "verified by audit-verify %s%s at %s\n", er.Verifier.Version, rev, er.VerifiedAt.Format(time.RFC3339))
	if p := rep.Period; p != nil {
		pruned := ""
		if p.PrunedBefore > 0 {
			pruned = fmt.Sprintf(" (records before %d deleted by retention)", p.PrunedBefore)
		}
		fmt.Fprintf(w, "period: records %d to %d, %s to %s%s\n", p.FirstSeq, p.LastSeq, p.FirstTime.Format(time.RFC3339Nano), p.LastTime.Format(time.RFC3339Nano), pruned)
	}
	if cp := rep.LastCheckpoint; cp != nil && cp.NoteSHA256 != "" {
		fmt.Fprintf(w, "verified checkpoint: size %d, note SHA-256 %s\n", cp.Size, cp.NoteSHA256)
	}
	var keys []string
	for _, k := range rep.KeyHistory {
		s := k.KeyID + " (" + k.Trust
		if k.EndorsedSeq != nil && k.Trust != "given" {
			s += fmt.Sprintf(" at record %d", *k.EndorsedSeq)
		}
		keys = append(keys, s+")")
	}
	if len(keys) > 0 {
		fmt.Fprintf(w, "keys: %s\n", strings.Join(keys, " -> "))
	}
	if a := rep.Anchoring; a != nil {
		if a.First != nil {
			fmt.Fprintf(w, "anchoring: counter %d to %d in %d anchored checkpoints; unanchored longer than %s: %d stretch(es) (anchor interval %s, %s)\n",
				a.First.Counter, a.Last.Counter, a.Anchors, a.Threshold, a.StretchesTotal, a.Interval, a.IntervalSource)
		} else {
			fmt.Fprintln(w, "anchoring: no anchored checkpoint (no TPM counter anchors this log)")
		}
	}
	if c := rep.Completeness; c != nil && (c.SealerStarts > 0 || c.EventsShed > 0 || c.ClientDropped > 0) {
		fmt.Fprintf(w, "completeness: %d sealer starts, %d clean stops, %d without a clean stop; %d events shed, %d dropped by clients\n",
			c.SealerStarts, c.CleanStops, c.UncleanStops, c.EventsShed, c.ClientDropped)
	}
	printFIPS(w, er)
	if rep.ExceptionsTruncated {
		fmt.Fprintf(w, "exceptions: the first %d of %d are listed (--format json counts them by code)\n", len(rep.Exceptions), totalExceptions(rep))
	}
}

// totalExceptions counts the exceptions of rep, listed or not.
func totalExceptions(rep *verify.Report) int {
	n := 0
	for _, c := range rep.ExceptionCounts {
		n += c
	}
	return n
}
