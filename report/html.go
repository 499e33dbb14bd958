package report

import (
	"html/template"
	"io"

	"github.com/audit-sealer/audit-sealer/report/page"
)

var tmpl = template.Must(template.New("report").Funcs(page.Funcs).Funcs(template.FuncMap{
	"str": func(b []byte) string { return string(b) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>{{css}}</style></head><body>
<h1>{{.Title}}</h1>
{{with .Coverage}}
<p>Log verification: <span class="{{verdictClass .Verdict}}">{{.Verdict}}</span>{{if .FirstFailure}} — {{.FirstFailure.Reason}}: {{.FirstFailure.Detail}}{{end}}</p>
<table>
<tr><th>Period (sealer receive time)</th><td>{{if .From.IsZero}}start{{else}}{{time .From}}{{end}} — {{if .To.IsZero}}now{{else}}{{time .To}}{{end}}</td></tr>
<tr><th>Events in the period</th><td>{{.Records}}{{if .FirstSeq}} (sequence {{.FirstSeq}} to {{.LastSeq}}){{end}}</td></tr>
{{with .Checkpoint}}<tr><th>Covered by checkpoint</th><td>tree size {{.Size}}, root <code>{{.Root}}</code>, signed {{time .Time}} by key <code>{{.KeyID}}</code> ({{.SignerKind}} {{.Algorithm}}{{if .Dev}}, DEV MODE{{end}})</td></tr>{{end}}
<tr><th>Generated</th><td>{{time .GeneratedAt}}</td></tr>
{{with .LogPeriod}}<tr><th>The whole log</th><td>records {{.FirstSeq}} to {{.LastSeq}}, {{time .FirstTime}} — {{time .LastTime}}{{if .PrunedBefore}} (records before {{.PrunedBefore}} deleted by retention){{end}}</td></tr>{{end}}
{{range .KeyHistory}}<tr><th>Signing key</th><td><code>{{.KeyID}}</code> ({{.Trust}}{{with .FirstCheckpoint}}, from checkpoint {{.Seq}}{{end}}{{with .LastCheckpoint}} to {{.Seq}}{{end}}), SHA-256 <code>{{.SPKISHA256}}</code></td></tr>{{end}}
{{with .Completeness}}<tr><th>Sealer runs</th><td>{{.SealerStarts}} starts, {{.CleanStops}} clean stops, {{.UncleanStops}} starts without a clean stop; {{.EventsShed}} events shed, {{.ClientDropped}} dropped by clients</td></tr>{{end}}
</table>
<h2>Exceptions in the period</h2>
{{if .Exceptions}}<p>{{range $code, $n := .ExceptionCounts}}<code>{{$code}}</code> {{$n}} {{end}}{{if .ExceptionsTruncated}}(the verification listed only the first exceptions of the log){{end}}</p>
<table><tr><th>Record</th><th>Time</th><th>Code</th><th>Detail</th></tr>
{{range .Exceptions}}<tr><td>{{.Seq}}</td><td>{{time .Time}}</td><td><code>{{.Code}}</code></td><td>{{.Detail}}</td></tr>{{end}}</table>
{{else}}<p>none</p>{{end}}
{{end}}
{{range .Sections}}<h2>{{.Name}}</h2>
{{if .Rows}}<table>{{range .Rows}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>{{end}}
{{with .List}}{{if .Truncated}}<p>{{.Total}} in the period; the first {{len .Entries}} are listed. List them all with <code>audit-sealer query</code> and the same period.</p>{{end}}{{end}}
{{if .Entries}}<table><tr><th>seq</th><th>received</th><th>service</th><th>type</th><th>audit_id</th><th>event</th></tr>
{{range .Entries}}<tr><td>{{.Seq}}</td><td>{{time .Received}}</td><td>{{.Service}}</td><td>{{.Type}}</td><td><code>{{.AuditID}}</code></td><td><code>{{str .Event}}</code></td></tr>{{end}}</table>{{end}}
{{if and (not .Rows) (not .Entries)}}<p>none</p>{{end}}
{{end}}
<p>Each record can be disclosed with its inclusion proof: <code>audit-sealer prove --seq N</code>, checked with <code>audit-verify proof</code>.</p>
</body></html>
`))

type section struct {
	Name    string
	Rows    [][2]any
	List    *Listing
	Entries []Entry
}

// listed makes a section of a bounded list of records.
func listed(name string, l Listing) section {
	return section{Name: name, List: &l, Entries: l.Entries}
}

func render(w io.Writer, title string, cov Coverage, secs []section) error {
	return tmpl.Execute(w, struct {
		Title    string
		Coverage Coverage
		Sections []section
	}{title, cov, secs})
}

func counts(m map[string]int) [][2]any {
	var rows [][2]any
	for k, v := range m {
		rows = append(rows, [2]any{k, v})
	}
	return rows
}

// HTML writes the GDPR report as a web page.
func (r *GDPRReport) HTML(w io.Writer) error {
	return render(w, "GDPR report for customer "+r.Customer, r.Coverage, []section{
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
	})
}

// HTML writes the SOC 2 report as a web page.
func (r *SOC2Report) HTML(w io.Writer) error {
	return render(w, "SOC 2 audit trail report", r.Coverage, []section{
		{Name: "Authentication successes by service", Rows: counts(r.AuthSuccesses)},
		{Name: "Authentication failures by service", Rows: counts(r.AuthFailures)},
		{Name: "Authorization denials", Rows: [][2]any{{"denials", r.AuthzDenials}}},
		{Name: "Security incidents by kind", Rows: counts(r.IncidentsByKind)},
		{Name: "Integrity checks by result", Rows: counts(r.IntegrityChecks)},
		{Name: "The sealer's own events", Rows: counts(r.SealerEvents)},
		listed("Critical events", r.CriticalEvents),
	})
}
