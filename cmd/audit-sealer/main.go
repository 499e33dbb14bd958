// Command audit-sealer is the sealing daemon and its admin commands:
//
//	audit-sealer serve [--config FILE] [--data-dir DIR] [--socket PATH] [--dev] ...
//	audit-sealer emit [--durable] --socket PATH < events.ndjson
//	audit-sealer status [--json] --socket PATH
//	audit-sealer keys export-public --dev --data-dir DIR [--current] [--format bundle|pem|note] [--root FILE]
//	audit-sealer prove --data-dir DIR (--seq N | --from-size A) --out FILE
//	audit-sealer report gdpr|soc2 --data-dir DIR --key FILE [--customer ID] [--from T] [--to T] [--format json|html]
//	audit-sealer export --format jsonl|cef|ocsf [filters] [--follow]
//	audit-sealer query --data-dir DIR [--user U] [--service S] [--type T] [--entity E] [--from T] [--to T] [--critical] [--json]
//	audit-sealer tpm provision | read | certify --nonce HEX --out FILE
//	audit-sealer schema [TYPE|request|reply] [--list]
//	audit-sealer config check [--config FILE] [serve flags]
//	audit-sealer version [--json]   (or audit-sealer --version)
//
// main only wires flags and configuration; the work is in internal/sealer
// and the libraries.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/internal/clidoc"
)

// exitError carries an exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// hardware is the hardware support audit-sealer links: PKCS#11 when built
// with cgo (package hsm), the TPM always (package tpm is pure Go).
var hardware = buildinfo.Hardware{PKCS11: hsm.Supported, TPM: true}

// newRoot returns the audit-sealer command with all its subcommands.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "audit-sealer",
		Short:         "Tamper-evident, hardware-sealed audit log daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), emitCommand(), statusCommand(), keysCommand(), proveCommand(), tpmCommand(), queryCommand(), indexCommand(), exportCommand(), reportCommand(), schemaCommand(), configCommand())
	buildinfo.AddVersion(root, hardware)
	clidoc.Add(root) // with -tags gendocs: a hidden command that writes the manual pages
	return root
}

func main() {
	if err := newRoot().Execute(); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			if ee.err == nil {
				os.Exit(code)
			}
		}
		fmt.Fprintf(os.Stderr, "audit-sealer: error: %v\n", err)
		os.Exit(code)
	}
}
