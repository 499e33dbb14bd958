// Package page holds what the HTML documents of audit-sealer share: one
// inline style sheet and the template functions that format times and
// verdicts, so that `audit-sealer report` and `audit-verify --format html`
// render alike. It depends on nothing but the standard library, so the
// offline verifier can use it without linking the log reader.
package page

import (
	"fmt"
	"html/template"
	"time"
)

// Style is the inline CSS of every page: self-contained, no external
// asset, printable.
const Style = `body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}
.ok{color:#060;font-weight:bold}.bad{color:#a00;font-weight:bold}.warn{color:#a60;font-weight:bold}code{font-size:.85em;word-break:break-all}
.small{font-size:.85em;color:#555}
@media print{body{margin:0;max-width:none}}`

// Funcs are the template functions of the pages: "time" formats a time as
// RFC 3339 in UTC (empty for the zero time), "human" for a reader ("7 Dec
// 2026 17:23:09 UTC", to the second; empty for the zero time), "css" marks Style safe for a
// <style> element, "verdictClass" gives the CSS class of a verdict.
var Funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	},
	"human": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006 15:04:05 UTC")
	},
	"css": func() template.CSS { return template.CSS(Style) },
	"verdictClass": func(v any) string {
		switch fmt.Sprint(v) {
		case "intact", "valid", "consistent":
			return "ok"
		case "unverifiable":
			return "warn"
		}
		return "bad"
	},
}
