package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/verify"
)

// untrustedBundle says why a bundle's (or a kept) checkpoint cannot be
// verified: no key given opens it, even through the bundle's endorsements.
// err (from verify.KeyRing, wrapping chain.ErrUnknownKey) names the
// signer by key ID as far as the note and the endorsements tell it.
func untrustedBundle(what string, err error) string {
	why := strings.TrimPrefix(err.Error(), chain.ErrUnknownKey.Error()+": ")
	return fmt.Sprintf("%s is %s: give the key that signed it, or the key history that endorses it", what, why)
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
