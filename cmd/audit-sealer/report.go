package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/report"
	"github.com/audit-sealer/audit-sealer/report/signature"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

func reportCommand() *cobra.Command {
	var dataDir, from, to, customer, format, out, sigFile, socket string
	var trust trustFlags
	cmd := &cobra.Command{
		Use:   "report soc2|pci|iso27001|gdpr (--socket PATH | --data-dir DIR [--key FILE]) [--customer ID] [--from T] [--to T] [--format json|html] [--out FILE [--sig FILE]]",
		Short: "Compliance reports for a period (SOC 2, PCI DSS 10, ISO 27001 A.8.15, GDPR), verified against the signed log",
		Long: `report verifies the whole log, then reports on the records of the period
(the sealer's receive time, inclusive): soc2 maps them to the Trust
Services Criteria they evidence (CC6.1, CC6.2, CC6.3, CC6.6, CC6.8, CC7.2,
CC7.3, CC8.1), pci to PCI DSS v4.0 Requirement 10 (the events of 10.2.1.1
to 10.2.1.7, 10.2.2, the protection of 10.3, the retention of 10.5.1 and
the failures of 10.7.2), iso27001 to ISO/IEC 27001:2022 A.8.15 (logs
produced, stored, protected and analysed) and A.8.17; gdpr --customer ID
lists what the log records of that customer's data (inferences, models,
exports, deletions, erasure and access requests) and every record that
names the customer in an identity field. Every report states whether the
log verified, the sequence range and the checkpoint it covers, the key
history and the exceptions of the period (starts without a clean stop,
times the sealer was down, unanchored stretches, shed and dropped events,
operator overrides, parts of the period the log does not cover), with
human-readable times; it lists the records the checkpoint covers, checked
again as they are read, and nothing from a log that did not verify.

--from and --to take ` + timeArgHelp + `.

With --socket the sealer builds the report (for root or a member of a
[query] reader group, who needs no access to the data directory), records
the read in the log with the report's SHA-256 and sends the report with
its signature: written to --out and to --sig (default: FILE.sig), it lets
anyone with the log's public key check that the file is unchanged
(audit-verify report --key KEY FILE); with --key the signature is checked
at once. Without --socket the data directory is read directly (root): the
read is not recorded in the log and the report is not signed. The key it
then trusts is --key (repeatable; the verification follows the key history
from it, so give the key the log started with, or every key since), or
else the key of the configuration (--config, AUDIT_SEALER_CONFIG; --dev for
the development key), the log's current key: the verification then
follows the log's key history from its first key, and the log's last
checkpoint must be signed by the current key (as the sealer's own reports
do).

Exit status: 0 intact, 1 tampered or incomplete, 2 unverifiable with the
keys given (the report is written all the same), or a usage error or a
refusal (nothing is written).`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: report.Kinds(),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Usage is checked before anything is read or written: a bad
			// --format, a GDPR report without --customer or a bad period
			// exits 2 and leaves no --out file.
			kind, err := report.ParseKind(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := report.CheckFormat(format); err != nil {
				return &exitError{code: 2, err: err}
			}
			if kind == report.KindGDPR && customer == "" {
				return &exitError{code: 2, err: errors.New("report: a GDPR report needs a customer id (--customer)")}
			}
			o := report.Options{Customer: customer}
			if o.From, o.To, err = timeRange(from, to, time.Now()); err != nil {
				return err
			}
			if sigFile != "" && socket == "" {
				return &exitError{code: 2, err: errors.New("--sig: only a report built through the sealer (--socket) is signed")}
			}
			if socket != "" {
				if cmd.Flags().Changed("data-dir") {
					return &exitError{code: 2, err: errors.New("--data-dir: with --socket the sealer reads its own data directory")}
				}
				return reportThroughSealer(cmd, socket, kind, format, o, out, sigFile, &trust)
			}
			keys, dir, err := trust.resolve(cmd.Flags(), dataDir)
			if err != nil {
				return err
			}
			if len(trust.keyFiles) == 0 && len(keys) == 1 {
				// The configuration's key is the log's current key: the
				// verification follows the log's key history to it.
				cur := keys[0]
				var candidates signer.Verifiers
				if cfg, err := trust.load(cmd.Flags(), dataDir, false); err == nil {
					candidates, _ = tokenPublicKeys(cfg) // none: a log that started with another key is unverifiable
				}
				if keys, err = report.HistoryKeys(dir, cur, candidates); err != nil {
					return readError(permissionHint(err, dir))
				}
				o.LastKey = cur.ID()
			}
			o.Dir, o.Keys, o.ReadThrough = dir, keys, report.ReadFromFiles
			noteDirectRead(cmd, "report", dir)
			r, err := report.Build(context.Background(), kind, o)
			if err != nil {
				return readError(permissionHint(err, dir))
			}
			body, err := report.Render(r, format)
			if err != nil {
				return err
			}
			if err := writeOut(cmd, out, body); err != nil {
				return err
			}
			cov := r.Cover()
			return verdictError(cov.Verdict, cov.FirstFailure)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory (default: the configuration's data_dir, /var/lib/audit-sealer)")
	trust.register(cmd.Flags())
	cmd.Flags().StringVar(&socket, "socket", "", "have the sealer at this socket build the report: recorded in the log and signed (needs [query] access)")
	cmd.Flags().StringVar(&customer, "customer", "", "gdpr: the customer_id")
	cmd.Flags().StringVar(&from, "from", "", "period start: RFC 3339, a date, today, yesterday, -7d, -24h, \"3 hours ago\"")
	cmd.Flags().StringVar(&to, "to", "", "period end (as --from; a date means to the end of that day)")
	cmd.Flags().StringVar(&format, "format", "json", "json or html")
	cmd.Flags().StringVar(&out, "out", "-", "output file (- for stdout)")
	cmd.Flags().StringVar(&sigFile, "sig", "", "with --socket: where to write the report's signature (default: the --out file with .sig appended)")
	return cmd
}

// writeOut writes body to the file out, or to stdout for "-" or "".
func writeOut(cmd *cobra.Command, out string, body []byte) error {
	if out == "" || out == "-" {
		_, err := cmd.OutOrStdout().Write(body)
		return err
	}
	if err := os.WriteFile(out, body, 0o600); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--out: %w", err)}
	}
	return nil
}

// reportThroughSealer asks the sealer at socket for the report (op
// report), writes it and its signature, checks the signature with --key
// when given, and exits on the verdict the report states.
func reportThroughSealer(cmd *cobra.Command, socket, kind, format string, o report.Options, out, sigFile string, trust *trustFlags) error {
	var ring *verify.KeyRing
	if len(trust.keyFiles) > 0 {
		keys, err := signer.LoadPublicKeys(trust.keyFiles)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--key: %w", err)}
		}
		ring = verify.NewKeyRing(keys)
	}
	filter, err := json.Marshal(struct {
		From time.Time `json:"from,omitzero"`
		To   time.Time `json:"to,omitzero"`
	}{o.From, o.To})
	if err != nil {
		return err
	}
	rc, err := dialSealer(socket)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer rc.Close()
	id := "r"
	rc.send(&wire.Request{Op: wire.OpReport, ID: &id, Report: kind, Format: format, Customer: o.Customer, Filter: filter})
	if err := rc.flush(); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("report: %w", err)}
	}
	var rep wire.Reply
	if _, err := rc.recv(&rep); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("report: %w", err)}
	}
	if !rep.OK || rep.Report == nil {
		return sealerRefusal("report", &rep)
	}
	r := rep.Report
	if ring != nil {
		f, b, err := signature.Parse(r.Signature)
		if err == nil {
			_, err = signature.Check(r.Body, f, b, ring)
		}
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("report: the sealer's signature of the report does not check with --key: %w", err)}
		}
	}
	if sigFile == "" && out != "" && out != "-" {
		sigFile = out + ".sig"
	}
	if err := writeOut(cmd, out, r.Body); err != nil {
		return err
	}
	w := cmd.ErrOrStderr()
	if sigFile != "" {
		var sig bytes.Buffer
		if err := json.Indent(&sig, r.Signature, "", "  "); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("report: the sealer's signature is not JSON: %w", err)}
		}
		sig.WriteByte('\n')
		if err := os.WriteFile(sigFile, sig.Bytes(), 0o600); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--sig: %w", err)}
		}
		checked := "check it with: audit-verify report --key KEY " + out
		if ring != nil {
			checked = "checked with --key"
		}
		fmt.Fprintf(w, "audit-sealer: the sealer recorded the report's SHA-256 %s in the log (record %d); its signature is in %s (%s)\n", r.SHA256, r.Seq, sigFile, checked)
	} else {
		fmt.Fprintf(w, "audit-sealer: the sealer recorded the report's SHA-256 %s in the log (record %d); its signature was not written: give --out FILE (it goes to FILE.sig) or --sig FILE\n", r.SHA256, r.Seq)
	}
	return verdictError(r.Verdict, nil)
}

// sealerRefusal is the error of a read the sealer refused (exit 1 for a
// log that does not check, else 2: nothing could be read).
func sealerRefusal(what string, rep *wire.Reply) error {
	if rep.Error == nil {
		return &exitError{code: 2, err: fmt.Errorf("%s: the sealer sent no result", what)}
	}
	msg := fmt.Sprintf("%s: the sealer refused: %s: %s", what, rep.Error.Code, rep.Error.Message)
	switch rep.Error.Code {
	case wire.CodeTampered:
		return &exitError{code: 1, err: fmt.Errorf("%s (reason %s): %w", msg, rep.Error.Reason, verify.ErrTampered)}
	case wire.CodeNotAuthorized:
		msg += " (run as root or as a member of a [query] reader group: [query] uids, gids or groups in the sealer's configuration)"
	}
	return &exitError{code: 2, err: errors.New(msg)}
}

// verdictError is the exit status of a report on the log's verdict, as
// audit-verify's (FORMAT.md §7): 0 intact, 1 tampered or incomplete, 2
// unverifiable (the keys given do not reach the log's signatures: that is
// not tampering).
func verdictError(verdict string, failure *verify.Failure) error {
	v := verify.Verdict(verdict)
	switch code := v.ExitCode(); code {
	case 0:
		return nil
	case 2:
		why := "unverifiable"
		if failure != nil {
			why = failure.String()
		}
		return &exitError{code: code, err: fmt.Errorf("cannot verify the log with the keys given (%s); the report says so", why)}
	default:
		return &exitError{code: code, err: fmt.Errorf("the log did not verify (%s); the report says so", v)}
	}
}

// noteDirectRead says on stderr that a read of the files is not recorded
// in the log (PCI DSS 10.2.1.3 expects every access to audit logs to be):
// only root can read the data directory, and the sealer records the reads
// that go through it.
func noteDirectRead(cmd *cobra.Command, what, dir string) {
	fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: note: %s reads %s directly: this read is not recorded in the log (through the sealer, with --socket, it is)\n", what, dir)
}

// permissionHint adds to an error reading the data directory that a
// reader without access to it reads through the sealer.
func permissionHint(err error, dir string) error {
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return err
	}
	return &exitError{code: 2, err: fmt.Errorf("%w: %s is readable by root only; members of a [query] reader group read through the sealer: --socket PATH (%s)",
		err, dir, strings.TrimSpace(defaultSocketHint))}
}

// defaultSocketHint names the sealer's default socket.
const defaultSocketHint = "default /run/audit-sealer/audit.sock"

// tokenPublicKeys lists the public keys on the configured token (none in
// --dev mode): the candidates for the key that started the log.
func tokenPublicKeys(cfg config.Config) (signer.Verifiers, error) {
	if cfg.Dev {
		return nil, nil
	}
	infos, err := tokenKeys(cfg)
	if err != nil {
		return nil, err
	}
	var keys signer.Verifiers
	for _, k := range infos {
		if k.KeyID != "" {
			keys = append(keys, k.Public)
		}
	}
	return keys, nil
}
