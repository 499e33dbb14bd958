// Command audit-sealer is the sealing daemon and its admin commands:
//
//	audit-sealer serve [--config FILE] [--data-dir DIR] [--socket PATH] [--dev] ...
//	audit-sealer emit [--durable] --socket PATH < events.ndjson
//	audit-sealer status [--json] --socket PATH
//	audit-sealer keys export-public --dev --data-dir DIR [--current] [--format bundle|pem|note] [--root FILE]
//	audit-sealer prove --data-dir DIR (--seq N | --from-size A) --out FILE
//	audit-sealer report soc2|pci|iso27001|gdpr (--socket PATH | --data-dir DIR [--key FILE]) [--customer ID] [--from T] [--to T] [--format json|html] [--out FILE]
//	audit-sealer export (--socket PATH | --data-dir DIR) --format jsonl|cef|ocsf [filters] [--follow]
//	audit-sealer query (--socket PATH | --data-dir DIR) [--user U] [--subject ID] [--service S] [--type T] [--entity E] [--from T] [--to T] [--critical] [--json]
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
	usageErrorsExit2(root)
	return root
}

// usageErrorsExit2 makes every usage error of c and its subcommands exit
// with status 2, as the commands' own checks of their flags do: an unknown
// flag or a bad flag value, the wrong number of arguments, an unknown
// command. A command that only groups subcommands (keys, tpm, index,
// config) prints its help when given none, as before, and names an
// unknown one as a usage error.
func usageErrorsExit2(c *cobra.Command) {
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: 2, err: err} })
	args := c.Args
	group := c.HasSubCommands()
	c.Args = func(cmd *cobra.Command, a []string) error {
		var err error
		switch {
		case args != nil:
			err = args(cmd, a)
		case group && len(a) > 0:
			err = fmt.Errorf("unknown command %q for %q", a[0], cmd.CommandPath())
		}
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		return nil
	}
	if group && c.Run == nil && c.RunE == nil {
		// Runnable, so that its arguments are checked (cobra checks
		// those of a command that only groups others before it looks at
		// them); with none it prints its help.
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	for _, sub := range c.Commands() {
		usageErrorsExit2(sub)
	}
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
