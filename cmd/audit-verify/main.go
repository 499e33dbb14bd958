// Command audit-verify checks an audit-sealer log offline, with nothing but
// the trusted public key(s). It is pure Go (it builds with CGO_ENABLED=0) and
// links no HSM or TPM code, so an auditor can build it and trust it alone.
//
//	audit-verify --key FILE [--key FILE…] [--checkpoint FILE] [--json] DATA_DIR
//	audit-verify proof --key FILE [--json] BUNDLE
//	audit-verify version [--json]   (or audit-verify --version)
//
// Exit status: 0 intact, 1 tampered or incomplete, 2 could not check.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
