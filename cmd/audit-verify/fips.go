package main

import (
	"fmt"
	"html/template"
	"io"
	"time"
)

// printFIPS prints the text output's FIPS 140-3 lines: the runs of the
// sealer in FIPS mode, and each run with what its audit.sealer_started
// says (verify.FIPSReport).
func printFIPS(w io.Writer, er *evidenceReport) {
	f := er.Report.FIPS
	if f == nil || f.RunsTotal == 0 {
		return
	}
	required := ""
	if er.Inputs.RequireFIPS {
		required = " (--require-fips)"
	}
	fmt.Fprintf(w, "FIPS 140-3: %d of %d sealer runs in FIPS 140-3 mode%s; verified by audit-verify in mode %s, module %s\n",
		f.FIPSRuns, f.RunsTotal, required, er.Verifier.FIPS140, er.Verifier.FIPS140Module)
	for _, r := range f.Runs {
		mode := r.FIPS140
		if mode == "" {
			mode = "not recorded"
		}
		hsm := ""
		if r.HSMFIPS != "" {
			hsm = ", HSM " + r.HSMFIPS
			if r.HSMValidation != "" {
				hsm += " (" + r.HSMValidation + ")"
			}
		}
		verdict := "FIPS"
		if !r.FIPS {
			verdict = "NOT FIPS: " + r.Why
		}
		module := ""
		if r.Module != "" {
			module = ", module " + r.Module
		}
		fmt.Fprintf(w, "fips run: started at record %d, %s: fips140 %s%s, %s key%s: %s\n",
			r.Seq, r.Time.Format(time.RFC3339), mode, module, r.KeyKind, hsm, verdict)
	}
	if f.RunsTruncated {
		fmt.Fprintf(w, "fips runs: the first %d of %d are listed\n", len(f.Runs), f.RunsTotal)
	}
}

// The evidence page's FIPS 140-3 section (html.go calls it).
var _ = template.Must(evidencePage.New("fips").Parse(`<h2>FIPS 140-3</h2>
{{with .FIPS}}<p>{{.FIPSRuns}} of {{.RunsTotal}} runs of the sealer in FIPS 140-3 mode{{if $.Inputs.RequireFIPS}}, as required (<code>--require-fips</code>){{end}}.
The verifier ran in mode {{$.Verifier.FIPS140}} with the Go Cryptographic Module {{$.Verifier.FIPS140Module}}.</p>
{{if .Runs}}<table id="fips"><tr><th>Start record</th><th>Time</th><th>Go module mode</th><th>Module version</th><th>Key</th><th>HSM reported</th><th>FIPS 140-3</th></tr>
{{range .Runs}}<tr><td>{{.Seq}}</td><td>{{time .Time}}</td><td>{{if .FIPS140}}{{.FIPS140}}{{else}}not recorded{{end}}</td><td>{{.Module}}</td><td>{{.KeyKind}}</td><td>{{.HSMFIPS}}{{with .HSMValidation}}: {{.}}{{end}}</td><td>{{if .FIPS}}<span class="ok">yes</span>{{else}}<span class="bad">no</span>: {{.Why}}{{end}}</td></tr>{{end}}
</table>{{if .RunsTruncated}}<p>Only the first {{len .Runs}} of {{.RunsTotal}} runs are listed.</p>{{end}}{{end}}
<p class="small">Shows what each run of the sealer recorded about itself, sealed by its checkpoints: whether the Go Cryptographic Module ran in FIPS 140-3 mode (on, or only: non-approved algorithms refused), the frozen module version it was built with, and what the PKCS#11 token reported about the validation of the signing key.
Does not show that those module versions and that token hold current CMVP certificates (compare them with the CMVP list), the operating environment, or anything about runs recorded before FIPS support (docs/fips.md).</p>{{else}}<p>No run of the sealer is recorded.</p>{{end}}
`))
