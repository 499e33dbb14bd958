package report

import (
	"html/template"
	"io"
	"sort"
	"strconv"

	"github.com/audit-sealer/audit-sealer/report/page"
)

// The page of every report: what it is based on (verdict, period,
// checkpoint, keys, runs, how it was read and how to check it), the
// criteria the framework maps, the exceptions of the period, then the
// report's own sections. Times are shown for a reader ("7 Dec 2026
// 17:23:09 UTC") inside <time> elements that carry them in RFC 3339.
var tmpl = template.Must(template.New("report").Funcs(page.Funcs).Funcs(template.FuncMap{
	"str": func(b []byte) string { return string(b) },
	"statusClass": func(s string) string {
		switch s {
		case StatusEvidenced:
			return "ok"
		case StatusExceptions:
			return "warn"
		case StatusFailed:
			return "bad"
		}
		return "small"
	},
	"codes": func(m map[string]int) []codeCount { return sortedCounts(m) },
}).Parse(`{{define "when"}}<time datetime="{{time .}}">{{human .}}</time>{{end}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>{{css}}
#exceptions-table th{background:#f3dca8}</style></head><body>
<h1>{{.Title}}</h1>
{{with .Coverage}}
<p id="verdict">Log verification: <span class="{{verdictClass .Verdict}}">{{.Verdict}}</span>{{if .FirstFailure}} — {{.FirstFailure.Reason}}: {{.FirstFailure.Detail}}{{end}}</p>
<table id="coverage">
<tr><th>Period (sealer receive time)</th><td>{{if .From.IsZero}}the start of the log{{else}}{{template "when" .From}}{{end}} to {{if .To.IsZero}}the verified checkpoint{{else}}{{template "when" .To}}{{end}}</td></tr>
<tr><th>Records in the period</th><td>{{.Records}}{{if .FirstSeq}} (sequence numbers {{.FirstSeq}} to {{.LastSeq}}){{end}}</td></tr>
{{with .Checkpoint}}<tr><th>Verified checkpoint</th><td>tree size {{.Size}}, signed {{template "when" .Time}} by key <code>{{.KeyID}}</code> ({{.SignerKind}} {{.Algorithm}}{{if .Dev}}, <span class="bad">DEV MODE</span>{{end}}); root <code>{{.Root}}</code>; note SHA-256 <code>{{.NoteSHA256}}</code></td></tr>{{end}}
{{with .LogPeriod}}<tr><th>The whole log</th><td>records {{.FirstSeq}} to {{.LastSeq}}, {{template "when" .FirstTime}} to {{template "when" .LastTime}}{{if .PrunedBefore}} (records before {{.PrunedBefore}} deleted by retention){{end}}</td></tr>{{end}}
{{range .KeyHistory}}<tr><th>Signing key</th><td><code>{{.KeyID}}</code> ({{.Trust}}{{with .FirstCheckpoint}}, from checkpoint {{.Seq}}{{end}}{{with .LastCheckpoint}} to {{.Seq}}{{end}}), SHA-256 of the public key <code>{{.SPKISHA256}}</code></td></tr>{{end}}
{{with .Completeness}}<tr><th>Sealer runs (whole log)</th><td>{{.SealerStarts}} starts, {{.CleanStops}} clean stops, {{.UncleanStops}} starts without a clean stop; {{.EventsShed}} events shed, {{.ClientDropped}} dropped by clients</td></tr>{{end}}
<tr><th>Generated</th><td>{{template "when" .GeneratedAt}}</td></tr>
<tr><th>Read</th><td>{{if eq .ReadThrough "sealer"}}by the sealer for a reader: the read is recorded in the log (<code>audit.log_read</code>, operation report) with this report's SHA-256{{else}}from the data directory directly: this read is <strong>not</strong> recorded in the log, and the report is not signed{{end}}</td></tr>
</table>
{{if eq .ReadThrough "sealer"}}<p class="small" id="tamper-evidence">Tamper evidence: the sealer recorded this file's SHA-256 in the log when it sent it; the signature file written beside it holds that record's inclusion proof under a checkpoint signed by the log's key. Check the file, unchanged, with <code>audit-verify report --key KEY FILE</code> (FORMAT.md §10).</p>{{end}}
{{end}}
{{with .Coverage}}<h2 id="exceptions">Exceptions in the period</h2>
{{if .Exceptions}}<p>{{range codes .ExceptionCounts}}<code>{{.Code}}</code> {{.N}} {{end}}{{if .ExceptionsTruncated}}(the verification listed only the first exceptions of the log){{end}}</p>
<table id="exceptions-table"><tr><th>Record</th><th>Time</th><th>Code</th><th>Detail</th></tr>
{{range .Exceptions}}<tr class="exception"><td>{{.Seq}}</td><td>{{template "when" .Time}}</td><td><code>{{.Code}}</code>{{if .Count}} ({{.Count}}){{end}}</td><td>{{.Detail}}</td></tr>{{end}}</table>
{{else}}<p id="no-exceptions">none</p>{{end}}
{{end}}
{{with .Criteria}}<h2>Requirements and what the log shows</h2>
<p class="small">A status says what the log of the period holds, not whether a requirement is met: evidenced (records, no exception bearing on it), exceptions (listed below), no_records (none of its kind in the period), failed.</p>
<table id="criteria"><tr><th>Requirement</th><th>Status</th><th>What the log shows</th><th>Exceptions</th><th>What it does not show</th></tr>
{{range .}}<tr><td><strong>{{.ID}}</strong><br>{{.Title}}</td><td><span class="{{statusClass .Status}}">{{.Status}}</span></td><td>{{range $i, $e := .Evidence}}{{if $i}}<br>{{end}}{{$e}}{{end}}</td><td>{{range codes .Exceptions}}<code>{{.Code}}</code> {{.N}}<br>{{end}}</td><td class="small">{{.Limits}}</td></tr>{{end}}
</table>{{end}}
{{range .Sections}}<h2>{{.Name}}</h2>
{{with .Note}}<p>{{.}}</p>{{end}}
{{if .Rows}}<table>{{range .Rows}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>{{end}}
{{with .List}}{{if .Truncated}}<p>{{.Total}} in the period; the first {{len .Entries}} are listed. List them all with <code>audit-sealer query</code> and the same period.</p>{{end}}{{end}}
{{if .Entries}}<table><tr><th>Record</th><th>Received</th><th>Service</th><th>Type</th><th>What it says</th></tr>
{{range .Entries}}<tr><td>{{.Seq}}<br><code class="small">{{.AuditID}}</code></td><td>{{template "when" .Received}}</td><td>{{.Service}}</td><td>{{.Type}}</td><td>{{.Summary}}<details><summary class="small">event</summary><code>{{str .Event}}</code></details></td></tr>{{end}}</table>{{end}}
{{if and (not .Rows) (not .Entries) (not .Note)}}<p>none</p>{{end}}
{{end}}
<p class="small">Each record can be disclosed with its inclusion proof: <code>audit-sealer prove --seq N</code>, checked with <code>audit-verify proof</code>.</p>
</body></html>
`))

type codeCount struct {
	Code string
	N    int
}

func sortedCounts(m map[string]int) []codeCount {
	var out []codeCount
	for k, v := range m {
		out = append(out, codeCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

type section struct {
	Name    string
	Note    string
	Rows    [][2]any
	List    *Listing
	Entries []Entry
}

// listed makes a section of a bounded list of records.
func listed(name string, l Listing) section {
	return section{Name: name, List: &l, Entries: l.Entries}
}

func render(w io.Writer, title string, cov Coverage, criteria []Criterion, secs []section) error {
	return tmpl.Execute(w, struct {
		Title    string
		Coverage Coverage
		Criteria []Criterion
		Sections []section
	}{title, cov, criteria, secs})
}

// counts makes the rows of a map, sorted by key.
func counts(m map[string]int) [][2]any {
	var rows [][2]any
	for _, c := range sortedCounts(m) {
		rows = append(rows, [2]any{c.Code, c.N})
	}
	return rows
}

func readRows(lr []LogReads) [][2]any {
	var rows [][2]any
	for _, r := range lr {
		rows = append(rows, [2]any{"uid " + strconv.FormatUint(uint64(r.UID), 10) + ", " + r.Operation, r.Reads})
	}
	return rows
}

// personalData is what the GDPR report says of the personal data the log
// holds (README "Personal data").
const personalData = `The audit log holds personal data: user identifiers (actor.user_id, attempted_user, subject, requester), customer identifiers, IP addresses and session identifiers. It is append-only and sealed: a record cannot be erased without breaking the proof of every record after it. It is kept, for the retention configured, where Union or Member State law requires a security audit trail and to establish, exercise or defend legal claims (GDPR Art. 17(3)(b) and (e)); erasure requests are carried out in the services' data and recorded here (compliance.gdpr_right_to_erasure). Services should emit pseudonymous identifiers (an internal id or a keyed hash, never an e-mail address) so that the log names no one without the mapping kept elsewhere.`

// HTML writes the GDPR report as a web page.
func (r *GDPRReport) HTML(w io.Writer) error {
	return render(w, "GDPR report for customer "+r.Customer, r.Coverage, nil, []section{
		{Name: "Personal data in this log", Note: personalData},
		{Name: "Processing", Rows: [][2]any{{"inferences", r.Inferences}, {"tokens processed", r.TokensProcessed}, {"models accessed", len(r.ModelsAccessed)}}},
		{Name: "Models accessed", Rows: func() [][2]any {
			var rows [][2]any
			for _, m := range r.ModelsAccessed {
				rows = append(rows, [2]any{"model", m})
			}
			return rows
		}()},
		listed("Data exports", r.Exports),
		listed("Data deletions", r.Deletions),
		listed("Erasure requests", r.ErasureRequests),
		listed("Access requests", r.AccessRequests),
		listed("Every record that names the customer (actor.user_id, attempted_user, subject, requester, customer_id)", r.Records),
	})
}

// HTML writes the SOC 2 report as a web page.
func (r *SOC2Report) HTML(w io.Writer) error {
	return render(w, "SOC 2 audit trail report", r.Coverage, r.Criteria, []section{
		{Name: "Authentication successes by service", Rows: counts(r.AuthSuccesses)},
		{Name: "Authentication failures by service", Rows: counts(r.AuthFailures)},
		{Name: "Authorization denials", Rows: [][2]any{{"denials", r.AuthzDenials}}},
		{Name: "Security incidents by kind", Rows: counts(r.IncidentsByKind)},
		{Name: "Integrity checks by result", Rows: counts(r.IntegrityChecks)},
		{Name: "The sealer's own events", Rows: counts(r.SealerEvents)},
		{Name: "Reads of the log through the sealer", Rows: readRows(r.LogReads)},
		listed("Critical events", r.CriticalEvents),
	})
}

// HTML writes the PCI DSS report as a web page.
func (r *PCIReport) HTML(w io.Writer) error {
	return render(w, "PCI DSS v4.0 Requirement 10 audit trail report", r.Coverage, r.Criteria, []section{
		{Name: "Reads of the log through the sealer (10.2.1.3)", Rows: readRows(r.LogReads)},
		{Name: "Records by type", Rows: counts(r.RecordsByType)},
	})
}

// HTML writes the ISO/IEC 27001 report as a web page.
func (r *ISO27001Report) HTML(w io.Writer) error {
	return render(w, "ISO/IEC 27001:2022 A.8.15 logging report", r.Coverage, r.Criteria, []section{
		{Name: "Records by category", Rows: counts(r.RecordsByCategory)},
		{Name: "Reads of the log through the sealer", Rows: readRows(r.LogReads)},
		{Name: "Records by type", Rows: counts(r.RecordsByType)},
	})
}
