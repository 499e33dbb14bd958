// Command audit-verify checks an audit-sealer log offline, with nothing but
// the trusted public key(s). It is pure Go (it builds with CGO_ENABLED=0) and
// links no HSM or TPM code, so an auditor can build it and trust it alone.
//
//	audit-verify --key FILE [--key FILE…] [--checkpoint FILE] [--format text|json|html] DATA_DIR
//	audit-verify proof --key FILE [--json] BUNDLE
//	audit-verify consistency --key FILE --checkpoint KEPT [--json] BUNDLE
//	audit-verify report --key FILE [--sig FILE.sig] [--json] REPORT
//	audit-verify version [--json]   (or audit-verify --version)
//
// For a data directory it prints an evidence report (FORMAT.md §7.1): the
// verifier, the time, the inputs, the period, the keys, the anchoring and
// the exceptions, as text, JSON or one self-contained HTML page.
//
// Exit status: 0 intact, 1 tampered or incomplete, 2 could not verify (a
// checkpoint signed by a key not given, bad arguments, unreadable input).
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
