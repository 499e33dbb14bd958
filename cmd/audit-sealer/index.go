package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/index"
)

func indexCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index build|check [--data-dir DIR]",
		Short: "Build or check the query index files of the closed segments",
		Long: `Each closed segment of the log has an index file beside it (<first seq>.idx,
FORMAT.md §8) that lets query read only the records that can match. The
sealer writes it in the background when it closes a segment. The index is
never trusted over the log: query checks the leaf hashes it holds against
the segment's signed checkpoint, reads every listed record from the
segment, checks it against its leaf and applies the filter to it, and
ignores (and reads in full) a segment whose index is missing, outdated
(version 1), damaged or stale.

build writes the missing, outdated, damaged and stale index files (--all:
every one);
it needs write access to the data directory and can run while the sealer
runs. check rebuilds every index in memory from its segment and compares it
with the file: an index that omits a record, which would hide it from
queries, fails the check. check exits 0 when every index file present is
exactly what its segment gives (missing and outdated ones are listed:
queries do not use them, so they hide nothing), 1 when one differs or is
damaged, 2 when it could not check.`,
	}
	var f configFlags
	var all, asJSON bool
	build := &cobra.Command{
		Use:   "build [--data-dir DIR] [--all]",
		Short: "Write the index files that are missing, damaged or stale",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			dataDir, err := f.dataDirOf(cmd)
			if err != nil {
				return err
			}
			res, err := index.Update(ctx, dataDir, all)
			printResults(cmd, res, asJSON)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			return nil
		},
	}
	check := &cobra.Command{
		Use:   "check [--data-dir DIR]",
		Short: "Rebuild every index in memory and compare it with its file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			dataDir, err := f.dataDirOf(cmd)
			if err != nil {
				return err
			}
			res, _, err := index.CheckAll(ctx, dataDir)
			printResults(cmd, res, asJSON)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			for _, r := range res {
				switch r.Status {
				case "ok", "missing", "outdated":
				case "error":
					return &exitError{code: 2, err: fmt.Errorf("index check: %s: %s", r.Segment, r.Err)}
				default:
					return &exitError{code: 1, err: fmt.Errorf("index check: %s: %s", r.Segment, r.Err)}
				}
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{build, check} {
		f.register(c.Flags(), "data-dir")
		c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per closed segment")
	}
	build.Flags().BoolVar(&all, "all", false, "rebuild every index, not only the missing, damaged or stale ones")
	cmd.AddCommand(build, check)
	return cmd
}

// printResults prints one line (or JSON object) per closed segment.
func printResults(cmd *cobra.Command, res []index.Result, asJSON bool) {
	w := cmd.OutOrStdout()
	enc := json.NewEncoder(w)
	for _, r := range res {
		if asJSON {
			enc.Encode(r)
			continue
		}
		if r.Err != "" && r.Status != "missing" {
			fmt.Fprintf(w, "%s\t%s\t%s\n", r.Segment, r.Status, r.Err)
		} else {
			fmt.Fprintf(w, "%s\t%s\n", r.Segment, r.Status)
		}
	}
}
