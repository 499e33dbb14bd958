package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/report/signature"
	"github.com/audit-sealer/audit-sealer/storage"
)

// maxReportFile bounds a report file: a report lists at most 1,000
// records per list, a few MiB even in HTML.
const maxReportFile = 64 << 20

// newReportCommand is audit-verify report: it checks a report that the
// sealer built and signed (audit-sealer report --socket) against its
// signature file, with the log's public key alone (FORMAT.md §10).
func newReportCommand(c *common, stdout io.Writer) *cobra.Command {
	var sigFile string
	cmd := &cobra.Command{
		Use:   "report --key FILE [--sig FILE.sig] [--json] FILE",
		Short: "Check that a report the sealer signed (audit-sealer report --socket) is unchanged",
		Long: `report checks a compliance report file against its signature (by default
FILE.sig, written beside it by audit-sealer report --socket): the file's
SHA-256 must be the one the sealer recorded in the log, in the
audit.log_read record of the read that built the report, and the
signature's inclusion proof must show that record in the log under a
checkpoint signed by a key you trust (--key; following the key
endorsements the proof carries). It then says which report it is, who
asked for it and when.

Exit status: 0 the report is the one the sealer signed, 1 it is not (the
file was changed, or the signature is another's, or the proof does not
hold), 2 could not check (a checkpoint signed by a key you did not give, a
malformed signature file, bad arguments).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := c.trust()
			if err != nil {
				return err
			}
			if sigFile == "" {
				sigFile = args[0] + ".sig"
			}
			body, err := storage.ReadFileMax(args[0], maxReportFile)
			if err != nil {
				return err
			}
			sig, err := storage.ReadFileMax(sigFile, signature.MaxSize)
			if err != nil {
				return fmt.Errorf("the report's signature: %w", err)
			}
			f, bundle, err := signature.Parse(sig)
			if err != nil {
				return fmt.Errorf("%s: %w", sigFile, err) // exit 2: it says nothing either way
			}
			res, err := signature.Check(body, f, bundle, t.ring)
			if errors.Is(err, chain.ErrUnknownKey) {
				return cannotVerify(stdout, c.json, untrustedBundle("the signature's checkpoint", err))
			}
			if err != nil {
				if c.json {
					json.NewEncoder(stdout).Encode(map[string]any{"verdict": "invalid", "error": err.Error()})
				} else {
					fmt.Fprintf(stdout, "audit-verify: report INVALID: %v\n", err)
				}
				return exitCode(exitFailed)
			}
			if c.json {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"verdict": "valid", "signature": res, "checkpoint": summaryOf(res.Checkpoint)})
			}
			fmt.Fprintf(stdout, "audit-verify: report valid: %s is the %s report (%s) the sealer sent to uid %d at %s\n",
				args[0], res.Report, res.ReportFormat, res.UID, res.Time.Format(time.RFC3339))
			fmt.Fprintf(stdout, "its SHA-256 %s is in the log's record %d (audit.log_read, %s), under a checkpoint of size %d signed %s by key %s\n",
				res.SHA256, res.Seq, res.AuditID, res.Checkpoint.Size, res.Checkpoint.Time.Format(time.RFC3339), res.Checkpoint.Key.ID())
			fmt.Fprintf(stdout, "asked for: %s; %d records of the period\n", res.Filters, res.Records)
			return nil
		},
	}
	cmd.Flags().StringVar(&sigFile, "sig", "", "the report's signature file (default: FILE.sig)")
	return cmd
}
