package testkit

import (
	"fmt"
	"time"
)

// escapeTemplates hold the text JSON encoders like to escape or rewrite:
// <, >, & (HTML escaping), U+2028 and U+2029 (JavaScript line
// terminators), non-ASCII, escaped quotes, backslashes and control
// characters, both raw and as \u escapes. %[1]s is the timestamp, %[2]d a
// counter.
var escapeTemplates = []string{
	`{"type":"authz.denied","timestamp":"%[1]s","actor":{"user_id":"o'brien+%[2]d@example.com","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"delete","reason":"<script>alert(\"x\")</script> & &amp; a\\b\tc é 日本語 😀 ` + "\u2028 \u2029" + ` \u2028 \u00e9 \u003c \/ end"}`,
	`{"type":"pool.modified","timestamp":"%[1]s","actor":{"user_id":"admin@example.com","auth_method":"mtls"},"pool_id":"pool-%[2]d","changes":{"<labels>":{"old":"a&b","new":"c>d"},"note \"q\"":["\u2029","ü","\\"],"z":{"old":1.50,"new":-2e3}}}`,
	`{"type":"authz.denied","timestamp":"%[1]s","actor":{"user_id":"user-%[2]d@example.com","auth_method":"api_key"},"resource":{"resource_type":"model","resource_id":"m-1"},"action":"read","reason":"quota > limit && tier < gold"}`,
}

// EscapeEvent returns the i-th event of a log whose events hold characters
// that JSON encoders escape or rewrite (escapeTemplates), as a client would
// send it, for BuildLogOf: canonical bytes must survive every tool that
// prints them.
func EscapeEvent(i int, now time.Time) (service string, raw []byte) {
	return "queen-rbee", []byte(fmt.Sprintf(escapeTemplates[i%len(escapeTemplates)], now.Add(-time.Millisecond).Format(time.RFC3339Nano), i))
}
