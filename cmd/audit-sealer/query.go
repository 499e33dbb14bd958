package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/verify"
)

// filterFlags are the record filters shared by query and export, and the
// keys they trust.
type filterFlags struct {
	dataDir, from, to string
	f                 query.Filter
	trust             trustFlags
}

func (ff *filterFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&ff.dataDir, "data-dir", "", "data directory (default: the configuration's data_dir, /var/lib/audit-sealer)")
	ff.trust.register(fl)
	fl.StringVar(&ff.f.UserID, "user", "", "a user identifier: actor.user_id, attempted_user, subject or requester")
	fl.StringVar(&ff.f.Subject, "subject", "", "a data subject, in every identity field: the user identifiers and customer_id (a GDPR access request)")
	fl.StringVar(&ff.f.Service, "service", "", "service identity")
	fl.StringArrayVar(&ff.f.Types, "type", nil, "event type or prefix.* (repeatable)")
	fl.StringVar(&ff.f.Entity, "entity", "", "resource or entity id (any *_id field)")
	fl.StringVar(&ff.from, "from", "", "received at or after: RFC 3339, a date, today, yesterday, now, -24h, -7d, \"3 hours ago\"")
	fl.StringVar(&ff.to, "to", "", "received at or before (as --from; a date or today means to the end of that day)")
	fl.BoolVar(&ff.f.CriticalOnly, "critical", false, "critical events only")
	fl.BoolVar(&ff.f.Sealer, "sealer", false, "include the sealer's own audit.* events")
}

// filter returns the checked filter.
func (ff *filterFlags) filter() (query.Filter, error) {
	f := ff.f
	var err error
	if f.From, f.To, err = timeRange(ff.from, ff.to, time.Now()); err != nil {
		return f, err
	}
	if err := f.Check(); err != nil {
		return f, &exitError{code: 2, err: err}
	}
	return f, nil
}

// trusted returns what the read trusts (--key, or the configuration's
// key) and the data directory to read.
func (ff *filterFlags) trusted(fs *pflag.FlagSet) (verify.Trust, string, error) {
	keys, dir, err := ff.trust.resolve(fs, ff.dataDir)
	return verify.Trust{Keys: keys}, dir, err
}

// trustHelp is the part of query's and export's help about what they
// trust.
const trustHelp = `Only records that a checkpoint signed by a trusted key covers are
returned, and everything read is checked as audit-verify checks it
(record hashes, chain links, checkpoints against the Merkle tree, the
index's leaf hashes against the segment's signed checkpoint): a log that
was tampered with makes the command fail with the verifier's reason code
(exit 1) instead of printing forged records. The trusted key is --key
(PEM or note verifier key; give the log's current key: segments signed by
a key rotated out are authenticated through the later ones, and a key
given is trusted on its own), or else the key of the configuration
(--config, AUDIT_SEALER_CONFIG; with --dev the development key of the
data directory). Without a key it exits 2.`

func queryCommand() *cobra.Command {
	var ff filterFlags
	var asJSON bool
	var socket string
	var proofs bool
	cmd := &cobra.Command{
		Use:   "query (--socket PATH | --data-dir DIR) [filters] [--json [--proofs --limit N]]",
		Short: "List sealed records that match filters (through the sealer, or from the data directory)",
		Long: `query streams the sealed records of a log (those a signed checkpoint covers)
that match every filter given: --user (a user identifier: actor.user_id,
attempted_user, subject or requester), --subject (a data subject, in every
identity field: those and customer_id), --service, --type (repeatable; a
dotted name or "prefix.*"), --entity (any *_id field or the resource id),
--from/--to (the sealer's receive time, inclusive: ` + timeArgHelp + `),
--critical. --limit and --after page through results: the last line says
the --after value for the next page. Every result can be proved with
audit-sealer prove --seq N; with --json --proofs --limit N each result line
carries its inclusion proof under the log's last checkpoint, computed for
the whole page in one read of the log, and audit-verify proof checks such a
line with nothing but the public key.

With --socket the sealer reads the log (for root or a member of a [query]
reader group, who needs no access to the data directory) and records the
read in the log (audit.log_read), at most 1,000 results a page. Without it
query reads the files: it needs read access to the data directory (never
write access), and the read is not recorded in the log (it says so on
stderr).

Closed segments are read through their index files (audit-sealer index)
when the filter selects by user, entity, service, type or criticality:
only the records an index lists are read, and each is matched against the
filter itself. A segment without a usable index is read in full, and the
summary says how many were.

` + trustHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter()
			if err != nil {
				return err
			}
			if socket != "" {
				if proofs {
					return &exitError{code: 2, err: errors.New("--proofs reads the data directory; it does not go with --socket")}
				}
				return queryThroughSealer(cmd, socket, f, asJSON)
			}
			if proofs {
				if !asJSON {
					return &exitError{code: 2, err: errors.New("--proofs needs --json")}
				}
				if f.Limit <= 0 || f.Limit > maxProvedPage {
					return &exitError{code: 2, err: fmt.Errorf("--proofs needs --limit between 1 and %d: proofs are built for one page at a time", maxProvedPage)}
				}
			}
			trust, dir, err := ff.trusted(cmd.Flags())
			if err != nil {
				return err
			}
			noteDirectRead(cmd, "query", dir)
			if proofs {
				return readError(permissionHint(queryWithProofs(cmd, dir, trust, f), dir))
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			enc := newMatchEncoder(w)
			info, err := query.Scan(context.Background(), dir, trust, f, func(m *query.Match) error {
				if asJSON {
					return enc.Encode(m)
				}
				_, err := fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", m.Seq, m.Received.Format(time.RFC3339Nano), m.Service, m.Type, m.AuditID, m.Event)
				return err
			})
			if err != nil {
				return readError(permissionHint(err, dir))
			}
			if asJSON {
				return enc.Encode(map[string]any{"summary": info})
			}
			// A scan that stopped early (--limit) did not read the last
			// checkpoint: the sealed size it saw is a lower bound.
			sealed := fmt.Sprint(info.SealedSize)
			if info.End == nil {
				sealed = "at least " + sealed
			}
			fmt.Fprintf(w, "# %d matches of %d sealed records read (sealed size %s); segments: %d through their index, %d read in full",
				info.Matched, info.Scanned, sealed, info.IndexedSegments, info.ScannedSegments)
			if info.UnindexedSegments > 0 {
				fmt.Fprintf(w, " (%d without a usable index: audit-sealer index build)", info.UnindexedSegments)
			}
			if info.More {
				fmt.Fprintf(w, "; more: --after %d", info.Next)
			}
			fmt.Fprintln(w)
			if info.IndexProblem != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: warning: an index was ignored: %s\n", info.IndexProblem)
			}
			return nil
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().IntVar(&ff.f.Limit, "limit", 0, "at most this many results (0 = all)")
	cmd.Flags().Uint64Var(&ff.f.After, "after", 0, "start after this sequence number (from a previous page)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per match, then a summary object")
	cmd.Flags().BoolVar(&proofs, "proofs", false, "with --json and --limit: each result carries its inclusion proof under the last checkpoint (audit-verify proof checks a result line)")
	cmd.Flags().StringVar(&socket, "socket", "", "query through the sealer at this socket (recorded in the chain; needs [query] access) instead of reading the files")
	return cmd
}

// exportSocketHelp is the part of export's help about --socket.
const exportSocketHelp = `With --socket the sealer reads the log (for root or a member of a [query]
reader group, who needs no access to the data directory) and streams the
records (op export); the export is recorded in the log (audit.log_read)
before the first record is sent, and with --follow one connection stays
open for the new records. Without it export reads the files, and the read
is not recorded in the log (it says so on stderr).`

// newMatchEncoder returns the encoder of query --json. It prints each
// record's canonical event bytes unchanged: audit-verify proof compares a
// result line's event with the proven record's byte for byte (FORMAT.md
// §6), and encoding/json would otherwise escape <, >, & and U+2028/U+2029
// even inside a json.RawMessage.
func newMatchEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// maxProvedPage bounds a page of results with proofs: the page is held in
// memory while one read of the log builds its proofs.
const maxProvedPage = 10000

// queryWithProofs runs the query for one page, then reads the log once to
// attach each result's inclusion bundle (verify.ProveRecords), and prints
// the results as JSON lines followed by the summary.
func queryWithProofs(cmd *cobra.Command, dir string, trust verify.Trust, f query.Filter) error {
	var page []*query.Match
	info, err := query.Scan(context.Background(), dir, trust, f, func(m *query.Match) error {
		page = append(page, m)
		return nil
	})
	if err != nil {
		return err
	}
	seqs := make([]uint64, len(page))
	for i, m := range page {
		seqs[i] = m.Seq
	}
	bundles, err := verify.ProveRecords(dir, seqs)
	if err != nil {
		return err
	}
	// The proofs are built from a second read of the log: each must
	// verify with the trusted key and prove the very record the scan
	// authenticated, else the log changed in between (or its last
	// checkpoint is not the trusted key's) and nothing is printed.
	for i, m := range page {
		d, err := verify.CheckInclusion(bundles[i], verify.Options{Keys: trust.Keys})
		if err == nil && (d.Record.Seq != m.Seq || string(d.Record.AuditID) != m.AuditID || !bytes.Equal(d.Record.Event, m.Event)) {
			err = errors.New("it proves another record")
		}
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("query: the proof of record %d does not verify with the trusted key: %w", m.Seq, err)}
		}
	}
	w := bufio.NewWriter(cmd.OutOrStdout())
	defer w.Flush()
	enc := newMatchEncoder(w)
	for i, m := range page {
		m.Proof = bundles[i]
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	return enc.Encode(map[string]any{"summary": info})
}

// queryThroughSealer asks the sealer (op query), which records the read in
// the chain, and prints the matches like a direct query.
func queryThroughSealer(cmd *cobra.Command, socket string, f query.Filter, asJSON bool) error {
	rc, err := dialSealer(socket)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer rc.Close()
	filter, err := json.Marshal(wire.Filter{User: f.UserID, Subject: f.Subject, Service: f.Service, Types: f.Types, Entity: f.Entity,
		From: f.From, To: f.To, Critical: f.CriticalOnly, Sealer: f.Sealer, After: f.After})
	if err != nil {
		return err
	}
	id := "q"
	rc.send(&wire.Request{Op: wire.OpQuery, ID: &id, Filter: filter, Limit: f.Limit})
	if err := rc.flush(); err != nil {
		return err
	}
	var matches []*query.Match
	rep := wire.Reply{Matches: &matches}
	line, err := rc.recv(&rep)
	if err != nil {
		return err
	}
	if !rep.OK {
		if rep.Error == nil {
			return fmt.Errorf("the sealer refused the query: %s", line)
		}
		return sealerRefusal("query", &rep)
	}
	w := bufio.NewWriter(cmd.OutOrStdout())
	defer w.Flush()
	enc := newMatchEncoder(w)
	for _, m := range matches {
		if asJSON {
			enc.Encode(m)
		} else {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", m.Seq, m.Received.Format(time.RFC3339Nano), m.Service, m.Type, m.AuditID, m.Event)
		}
	}
	if rep.More != nil && *rep.More && rep.Next != nil {
		fmt.Fprintf(w, "# more: --after %d\n", *rep.Next)
	}
	return nil
}
