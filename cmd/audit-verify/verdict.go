package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/audit-sealer/audit-sealer/verify"
)

// untrustedBundle says why a bundle's (or a kept) checkpoint cannot be
// verified: no key given opens it. It names the key by key ID as far as
// the note tells it (verify.DescribeSigner).
func untrustedBundle(what string, note []byte) string {
	return fmt.Sprintf("%s is signed by %s, not by a key you gave: give the key that signed it (or the key history that endorses it)", what, verify.DescribeSigner(note))
}

// cannotVerify reports that proof or consistency could not be checked with
// the keys given (exit status 2, verdict unverifiable, reason
// untrusted_key): not being able to check is not a failed proof.
func cannotVerify(stdout io.Writer, asJSON bool, msg string) error {
	if asJSON {
		json.NewEncoder(stdout).Encode(map[string]any{"verdict": verify.Unverifiable, "reason": verify.ReasonUntrustedKey, "error": "cannot verify: " + msg})
	} else {
		fmt.Fprintf(stdout, "audit-verify: cannot verify: %s\n", msg)
	}
	return exitCode(exitCannotRun)
}
