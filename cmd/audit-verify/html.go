package main

import (
	"html/template"
	"io"

	"github.com/audit-sealer/audit-sealer/report/page"
)

// writeHTML renders the evidence report as one self-contained HTML page
// (inline CSS, no script, no external asset; html/template escapes every
// value the log or the inputs supply) for an auditor to attach to an
// evidence request.
func writeHTML(w io.Writer, er *evidenceReport) error { return evidencePage.Execute(w, er) }

// requirement maps one check of the verifier to the requirements it gives
// evidence for, paraphrased (never quoted), with what it does and does not
// show.
type requirement struct {
	Check, Requirements, Shows, DoesNotShow string
}

// requirements is the mapping section of the page.
var requirements = []requirement{
	{"Record hashes, hash chain, sequence numbers, Merkle roots and checkpoint signatures",
		"PCI DSS v4.0 10.3.2 (audit logs protected from modification); 10.3.4 (change detection on audit logs); ISO/IEC 27001:2022 A.8.15 (logs protected)",
		"Every record up to the verified checkpoint is byte for byte what the holder of the signing key sealed: a record changed, removed, inserted or reordered afterwards is detected and named.",
		"That every event was logged in the first place; anything about records not sealed yet; anything the key holder chose to sign (key custody is shown only by the signer kind: pkcs11, software, dev mode)."},
	{"TPM counter anchors, a checkpoint kept off the host (--checkpoint), TPM evidence (--tpm-evidence)",
		"PCI DSS v4.0 10.3.3 (logs promptly backed up to a place hard to alter)",
		"A copy cut back to an older state is detected as far as the anchor counter, a kept checkpoint or the evidence reach; unanchored stretches are listed.",
		"That the logs were copied to a central log server: that must be evidenced by the forwarding (export) set-up."},
	{"Witness cosignatures (--witness, --witness-quorum, --witness-max-age)",
		"PCI DSS v4.0 10.3.3 (logs promptly backed up to a place hard to alter); 10.3.4 (change detection on audit logs)",
		"Independent witnesses the auditor chose cosigned the log's tree up to the witnessed size, recently enough, and cosign no other history of it: records up to that size cannot be rewritten unnoticed, even by someone holding the log's signing key.",
		"Anything about the records after the witnessed size (listed); that the witnesses are independent of the operator and keep their state: the auditor must establish who runs them."},
	{"Completeness exceptions: starts without a clean stop, events shed, client drops, storage recoveries, anchoring disabled, development mode",
		"PCI DSS v4.0 10.2.1 (audit logs enabled and active); SOC 2 CC7.2 (system components monitored for anomalies)",
		"The sealer's own authenticated record of its runs and of events that never reached the log, each with its record and time.",
		"Events a service never sent, or dropped without reporting; whether monitoring acted on them."},
	{"Exceptions list",
		"SOC 2 CC7.3 (security events evaluated to decide whether they are incidents)",
		"What must be evaluated, each with its record and time, for the auditor to test against the entity's incident records.",
		"Any evaluation: the verifier does not judge whether an exception was an incident."},
	{"Period covered and retention prunes (prune_too_early)",
		"PCI DSS v4.0 10.5.1 (audit log history retained, recent part immediately available)",
		"The first and last record and their times, records deleted by retention, and that each prune deleted only records older than its configured retention.",
		"That the retention period meets the requirement: compare the period and the retention with it."},
	{"Record times never go backwards (time_backwards)",
		"ISO/IEC 27001:2022 A.8.17 (clock synchronization)",
		"Record times, by the sealer's clock, are monotonic across the whole log.",
		"That the sealer's clock was synchronised with an authoritative time source."},
}

var evidencePage = template.Must(template.New("evidence").Funcs(page.Funcs).Funcs(template.FuncMap{
	"requirements": func() []requirement { return requirements },
	"deref":        func(p *uint64) uint64 { return *p },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Audit log verification: {{.Verdict}}</title>
<style>{{css}}</style></head><body>
<h1>Audit log verification evidence</h1>
<p id="verdict">Verdict: <span class="{{verdictClass .Verdict}}">{{.Verdict}}</span>
{{with .FirstFailure}} — <code>{{.Reason}}</code>: {{.Detail}}{{if .Segment}} (segment {{.Segment}}{{if ge .Offset 0}}, offset {{.Offset}}{{end}}{{if .Seq}}, record {{deref .Seq}}{{end}}){{end}}{{end}}</p>
<table>
<tr><th>Verifier</th><td>{{.Verifier.Name}} {{.Verifier.Version}}{{if .Verifier.Revision}}, revision <code>{{.Verifier.Revision}}</code>{{end}} ({{.Verifier.GoVersion}})</td></tr>
<tr><th>Verified at</th><td>{{time .VerifiedAt}}</td></tr>
<tr><th>Data directory</th><td><code>{{.Inputs.DataDir}}</code></td></tr>
<tr><th>Log</th><td><code>{{.LogID}}</code>: {{.Records}} records in {{.Segments}} segments ({{.Bytes}} bytes); {{.Checkpoints}} checkpoints verified, {{.SignaturesChecked}} signatures checked</td></tr>
{{with .LastCheckpoint}}<tr><th>Verified checkpoint</th><td>tree size {{.Size}}, root <code>{{.Root}}</code>, signed {{time .Time}} by key <code>{{.KeyID}}</code> ({{.SignerKind}} {{.Algorithm}}{{if .Dev}}, <span class="bad">DEV MODE</span>{{end}}); note SHA-256 <code>{{.NoteSHA256}}</code></td></tr>{{end}}
{{with .TrustedCheckpoint}}<tr><th>Your checkpoint</th><td>size {{.Size}}: {{if .Consistent}}<span class="ok">consistent</span>{{else}}<span class="bad">not consistent</span>{{end}}{{with $.Inputs.CheckpointSHA256}} (file SHA-256 <code>{{.}}</code>){{end}}</td></tr>{{end}}
{{with .Witnessing}}<tr><th>Witnessed</th><td>tree size {{.WitnessedSize}} of {{.LogSize}} by a quorum of {{.Quorum}} (freshness {{.MaxAge}}); {{.Unwitnessed}} records after it</td></tr>{{end}}
{{if .Unsealed}}<tr><th>Not sealed</th><td>{{.Unsealed}} records at the end</td></tr>{{end}}
{{range .Warnings}}<tr><th>Warning</th><td>{{.}}</td></tr>{{end}}
</table>

<h2>Period covered</h2>
{{with .Period}}<table id="period">
<tr><th>First record</th><td>{{.FirstSeq}} at <span class="first-time">{{time .FirstTime}}</span></td></tr>
<tr><th>Last record</th><td>{{.LastSeq}} at <span class="last-time">{{time .LastTime}}</span></td></tr>
<tr><th>Deleted by retention</th><td>{{if .PrunedBefore}}records 0 to {{.PrunedBefore}} (exclusive){{else}}none{{end}}</td></tr>
</table>{{else}}<p>No record was checked.</p>{{end}}

<h2>Keys</h2>
<table><tr><th>Key ID</th><th>SHA-256 of the public key (SPKI)</th><th>Algorithm</th></tr>
{{range .TrustedKeys}}<tr><td><code>{{.KeyID}}</code></td><td><code>{{.SPKISHA256}}</code></td><td>{{.Algorithm}}</td></tr>{{end}}
</table>
<p class="small">Key files given: {{range $i, $f := .Inputs.KeyFiles}}{{if $i}}, {{end}}<code>{{$f}}</code>{{end}}</p>
{{if .KeyHistory}}<h3>Key history</h3>
<table><tr><th>Key ID</th><th>Trust</th><th>Introduced</th><th>Endorsed</th><th>First checkpoint</th><th>Last checkpoint</th><th>Checkpoints</th><th>Retired after</th></tr>
{{range .KeyHistory}}<tr><td><code>{{.KeyID}}</code></td><td>{{.Trust}}</td><td>{{with .IntroducedSeq}}record {{deref .}}{{end}}</td><td>{{with .EndorsedSeq}}record {{deref .}}{{end}}{{with .EndorsedBy}} by <code>{{.}}</code>{{end}}</td>
<td>{{with .FirstCheckpoint}}{{.Seq}} at {{time .Time}}{{end}}</td><td>{{with .LastCheckpoint}}{{.Seq}} at {{time .Time}}{{end}}</td><td>{{.Checkpoints}}</td><td>{{with .RetiredAfter}}record {{deref .}}{{end}}</td></tr>{{end}}
</table>{{end}}

<h2>Anchoring</h2>
{{with .Anchoring}}<table>
<tr><th>Anchored checkpoints</th><td>{{.Anchors}}</td></tr>
{{with .First}}<tr><th>First anchor</th><td>counter {{.Counter}} at index {{.Index}}, record {{.Seq}}, {{time .Time}}</td></tr>{{end}}
{{with .Last}}<tr><th>Last anchor</th><td>counter {{.Counter}} at index {{.Index}}, record {{.Seq}}, {{time .Time}}</td></tr>{{end}}
<tr><th>Anchor interval</th><td>{{.Interval}} ({{.IntervalSource}}); stretches are reported beyond {{.Threshold}}</td></tr>
<tr><th>Unanchored stretches</th><td>{{.StretchesTotal}}</td></tr>
</table>
{{if .Stretches}}<table><tr><th>From record</th><th>From</th><th>To record</th><th>To</th><th>Seconds</th></tr>
{{range .Stretches}}<tr><td>{{.FromSeq}}</td><td>{{time .FromTime}}</td><td>{{.ToSeq}}{{if .Open}} (end of log){{end}}</td><td>{{time .ToTime}}</td><td>{{printf "%.0f" .Seconds}}</td></tr>{{end}}
</table>{{end}}{{end}}
{{with .TPMIdentity}}<p>TPM identity: attestation key <code>{{.AKName}}</code>, counter index {{.NVIndex}} (record {{.Seq}}){{if not .EKCertificate}}; no EK certificate: the attestation key is not bound to a manufacturer's endorsement key{{end}}.</p>{{end}}
{{with .Evidence}}<p>TPM evidence: counter {{.Counter}} at index {{.Index}} certified by attestation key <code>{{.AKName}}</code>{{if .NonceChecked}}, nonce checked{{else}}, <span class="bad">no nonce: the evidence may be old</span>{{end}}{{if .AKPinned}}, the pinned key{{end}}{{with .EKCA}}, EK certified by {{.}}{{end}}.</p>{{end}}

{{with .Witnessing}}<h2>Witnesses</h2>
<table id="witnesses"><tr><th>Witness</th><th>Verifier key</th><th>Largest checkpoint cosigned</th><th>Cosigned at</th><th>Found in</th><th>Counts</th><th>Cosignatures</th></tr>
{{range .Witnesses}}<tr><td>{{.Name}}</td><td><code>{{.VerifierKey}}</code></td>{{with .Latest}}<td>size {{.Size}} ({{time .CheckpointTime}})</td><td>{{time .CosignedAt}}</td><td>{{.Source}}{{with .Seq}} record {{deref .}}{{end}}</td><td>{{if .Fresh}}<span class="ok">yes</span>{{else}}<span class="bad">too old</span>{{end}}</td>{{else}}<td colspan="4"><span class="bad">none that agrees with the log</span></td>{{end}}<td>{{.Cosignatures}}</td></tr>{{end}}
</table>{{end}}

<h2>Completeness</h2>
{{with .Completeness}}<table>
<tr><th>Sealer starts</th><td>{{.SealerStarts}}</td></tr>
<tr><th>Clean stops</th><td>{{.CleanStops}}</td></tr>
<tr><th>Starts without a clean stop before them</th><td>{{.UncleanStops}}</td></tr>
<tr><th>Events shed by the sealer</th><td>{{.EventsShed}} ({{.CriticalEventsShed}} critical)</td></tr>
<tr><th>Events dropped by clients (reported)</th><td>{{.ClientDropped}}</td></tr>
</table>{{end}}

{{template "fips" .}}
<h2>Exceptions</h2>
{{if .ExceptionCounts}}<table><tr><th>Code</th><th>Count</th></tr>{{range $code, $n := .ExceptionCounts}}<tr><td><code>{{$code}}</code></td><td>{{$n}}</td></tr>{{end}}</table>
{{if .ExceptionsTruncated}}<p>Only the first {{len .Exceptions}} are listed.</p>{{end}}
<table id="exceptions"><tr><th>Record</th><th>Time</th><th>Code</th><th>Segment</th><th>Detail</th></tr>
{{range .Exceptions}}<tr><td>{{.Seq}}</td><td>{{time .Time}}</td><td><code>{{.Code}}</code></td><td>{{.Segment}}</td><td>{{.Detail}}</td></tr>{{end}}
</table>{{else}}<p>None.</p>{{end}}

<h2>What the checks show, by requirement</h2>
<p class="small">Requirement numbers are cited and paraphrased; read the standards for their text.</p>
<table id="requirements"><tr><th>Check</th><th>Requirements</th><th>Shows</th><th>Does not show</th></tr>
{{range requirements}}<tr><td>{{.Check}}</td><td>{{.Requirements}}</td><td>{{.Shows}}</td><td>{{.DoesNotShow}}</td></tr>{{end}}
</table>

<h2>Segments read</h2>
<table><tr><th>File</th><th>First record</th><th>Bytes</th></tr>
{{range .SegmentFiles}}<tr><td><code>{{.Name}}</code></td><td>{{.FirstSeq}}</td><td>{{.Bytes}}</td></tr>{{end}}
</table>{{if .SegmentFilesTruncated}}<p>Only the first {{len .SegmentFiles}} of {{.Segments}} are listed.</p>{{end}}
<p class="small">Reproduce: <code>audit-verify{{range .Inputs.KeyFiles}} --key {{.}}{{end}}{{with .Inputs.Checkpoint}} --checkpoint {{.}}{{end}}{{range .Inputs.Witnesses}} --witness {{.}}{{end}}{{with .Inputs.WitnessQuorum}} --witness-quorum {{.}}{{end}}{{with .Inputs.WitnessMaxAge}} --witness-max-age {{.}}{{end}} --format html {{.Inputs.DataDir}}</code>. Exit status: 0 intact, 1 tampered or incomplete, 2 could not verify.</p>
</body></html>
`))
