package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/report"
	"github.com/audit-sealer/audit-sealer/verify"
)

func reportCommand() *cobra.Command {
	var dataDir, from, to, customer, format, out string
	var trust trustFlags
	cmd := &cobra.Command{
		Use:   "report gdpr|soc2 --data-dir DIR [--key FILE] [--customer ID] [--from T] [--to T] [--format json|html] [--out FILE]",
		Short: "Compliance reports for a time range (GDPR per customer, SOC 2), verified against the signed log",
		Long: `report verifies the whole log with the given public key(s), then summarises
the records of the period (the sealer's receive time, RFC 3339, inclusive):
gdpr --customer ID lists inferences, models accessed, exports, deletions,
erasure and access requests for that customer; soc2 counts authentication
successes and failures, authorization denials, security incidents by kind
and integrity checks by result, and lists critical events. Every report
states the sequence range and the checkpoint it covers and whether the log
verified; it lists the records that checkpoint covers, checked again as
they are read, and nothing from a log that did not verify.

The key is --key (repeatable; the verification follows the key history
from it, so give the key the log started with, or every key since), or
else the key of the configuration (--config, AUDIT_SEALER_CONFIG; --dev
for the development key), which verifies a log that was never rotated
away from it.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"gdpr", "soc2"},
		RunE: func(cmd *cobra.Command, args []string) error {
			// Usage is checked before anything is read or written: a bad
			// --format or a GDPR report without --customer exits 2 and
			// leaves no empty --out file.
			if format != "json" && format != "html" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: want json or html", format)}
			}
			if args[0] == "gdpr" && customer == "" {
				return &exitError{code: 2, err: fmt.Errorf("report: a GDPR report needs a customer id (--customer)")}
			}
			keys, dir, err := trust.resolve(cmd.Flags(), dataDir)
			if err != nil {
				return err
			}
			o := report.Options{Dir: dir, Keys: keys, Customer: customer}
			if from != "" {
				if o.From, err = time.Parse(time.RFC3339Nano, from); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--from: %w", err)}
				}
			}
			if to != "" {
				if o.To, err = time.Parse(time.RFC3339Nano, to); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--to: %w", err)}
				}
			}
			var r interface{ HTML(io.Writer) error }
			var cov report.Coverage
			switch args[0] {
			case "gdpr":
				g, err := report.GDPR(context.Background(), o)
				if err != nil {
					return readError(err)
				}
				r, cov = g, g.Coverage
			case "soc2":
				s, err := report.SOC2(context.Background(), o)
				if err != nil {
					return readError(err)
				}
				r, cov = s, s.Coverage
			default:
				return &exitError{code: 2, err: fmt.Errorf("unknown report %q (want gdpr or soc2)", args[0])}
			}
			var w io.Writer = cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--out: %w", err)}
				}
				defer f.Close()
				w = f
			}
			if format == "html" {
				err = r.HTML(w)
			} else {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				err = enc.Encode(r)
			}
			if err != nil {
				return err
			}
			return verdictError(cov)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory (default: the configuration's data_dir, /var/lib/audit-sealer)")
	trust.register(cmd.Flags())
	cmd.Flags().StringVar(&customer, "customer", "", "gdpr: the customer_id")
	cmd.Flags().StringVar(&from, "from", "", "period start (RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "", "period end (RFC 3339)")
	cmd.Flags().StringVar(&format, "format", "json", "json or html")
	cmd.Flags().StringVar(&out, "out", "-", "output file (- for stdout)")
	return cmd
}

// verdictError is the exit status of a report on the log's verdict, as
// audit-verify's (FORMAT.md §7): 0 intact, 1 tampered or incomplete, 2
// unverifiable (the keys given do not reach the log's signatures: that is
// not tampering).
func verdictError(cov report.Coverage) error {
	v := verify.Verdict(cov.Verdict)
	switch code := v.ExitCode(); code {
	case 0:
		return nil
	case 2:
		return &exitError{code: code, err: fmt.Errorf("cannot verify the log with the keys given (%s); the report says so", cov.FirstFailure)}
	default:
		return &exitError{code: code, err: fmt.Errorf("the log did not verify (%s); the report says so", v)}
	}
}
