package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/query"
)

func queryCommand() *cobra.Command {
	var dataDir, from, to string
	var f query.Filter
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "query --data-dir DIR [filters] [--json]",
		Short: "List sealed records that match filters (reads the data directory directly)",
		Long: `query streams the sealed records of a log (those a signed checkpoint covers)
that match every filter given: --user (actor.user_id), --service, --type
(repeatable; a dotted name or "prefix.*"), --entity (any *_id field or the
resource id), --from/--to (the sealer's receive time, RFC 3339, inclusive),
--critical. --limit and --after page through results: the last line says
the --after value for the next page. Every result can be proved with
audit-sealer prove --seq N. It reads the files; it does not go through the
sealer, and needs read access to the data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if from != "" {
				if f.From, err = time.Parse(time.RFC3339Nano, from); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--from: %w", err)}
				}
			}
			if to != "" {
				if f.To, err = time.Parse(time.RFC3339Nano, to); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--to: %w", err)}
				}
			}
			if err := f.Check(); err != nil {
				return &exitError{code: 2, err: err}
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			enc := json.NewEncoder(w)
			info, err := query.Scan(context.Background(), dataDir, f, func(m *query.Match) error {
				if asJSON {
					return enc.Encode(m)
				}
				_, err := fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", m.Seq, m.Received.Format(time.RFC3339Nano), m.Service, m.Type, m.AuditID, m.Event)
				return err
			})
			if err != nil {
				return err
			}
			if asJSON {
				return enc.Encode(map[string]any{"summary": info})
			}
			fmt.Fprintf(w, "# %d matches of %d sealed records scanned (sealed size %d)", info.Matched, info.Scanned, info.SealedSize)
			if info.More {
				fmt.Fprintf(w, "; more: --after %d", info.Next)
			}
			fmt.Fprintln(w)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dataDir, "data-dir", "/var/lib/audit-sealer", "data directory")
	fl.StringVar(&f.UserID, "user", "", "actor user_id")
	fl.StringVar(&f.Service, "service", "", "service identity")
	fl.StringArrayVar(&f.Types, "type", nil, "event type or prefix.* (repeatable)")
	fl.StringVar(&f.Entity, "entity", "", "resource or entity id (any *_id field)")
	fl.StringVar(&from, "from", "", "received at or after (RFC 3339)")
	fl.StringVar(&to, "to", "", "received at or before (RFC 3339)")
	fl.BoolVar(&f.CriticalOnly, "critical", false, "critical events only")
	fl.BoolVar(&f.Sealer, "sealer", false, "include the sealer's own audit.* events")
	fl.IntVar(&f.Limit, "limit", 0, "at most this many results (0 = all)")
	fl.Uint64Var(&f.After, "after", 0, "start after this sequence number (from a previous page)")
	fl.BoolVar(&asJSON, "json", false, "one JSON object per match, then a summary object")
	return cmd
}
