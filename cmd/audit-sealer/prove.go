package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/verify"
)

func proveCommand() *cobra.Command {
	var f configFlags
	var out string
	var seq, fromSize uint64
	cmd := &cobra.Command{
		Use:   "prove [--data-dir DIR] (--seq N | --from-size A) [--out FILE]",
		Short: "Export one record with its inclusion proof, or a consistency proof from an earlier checkpoint",
		Long: `prove --seq N writes record N with its inclusion proof and a signed
checkpoint, so that one record can be disclosed and checked with only the
public key (audit-verify proof): the checkpoint cosigned by witnesses that
covers the record, with their cosignature lines, when the log holds one
(the checkpoint file, the audit.checkpoint_witnessed records of the last two
segments), so that audit-verify proof --witness checks that the witnesses
saw it; else the last checkpoint. prove --from-size A writes the proof that
the log's current tree extends the tree of size A, for an auditor who kept
that checkpoint (audit-verify consistency).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bySeq, byFrom := cmd.Flags().Changed("seq"), cmd.Flags().Changed("from-size")
			if bySeq == byFrom {
				return &exitError{code: 2, err: errors.New("give exactly one of --seq and --from-size")}
			}
			dataDir, err := f.dataDirOf(cmd)
			if err != nil {
				return err
			}
			var bundle any
			var what string
			if bySeq {
				b, err := verify.Prove(dataDir, seq)
				if err != nil {
					return err
				}
				bundle, what = b, fmt.Sprintf("the proof of record %d (tree size %d)", seq, b.TreeSize)
			} else {
				b, err := verify.ProveConsistency(dataDir, fromSize)
				if err != nil {
					return err
				}
				bundle, what = b, fmt.Sprintf("the consistency proof from size %d to %d", fromSize, b.TreeSize)
			}
			data, err := json.MarshalIndent(bundle, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if out == "" || out == "-" {
				_, err = os.Stdout.Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "audit-sealer: wrote %s to %s\n", what, out)
			return nil
		},
	}
	f.register(cmd.Flags(), "data-dir")
	cmd.Flags().Uint64Var(&seq, "seq", 0, "sequence number of the record to disclose")
	cmd.Flags().Uint64Var(&fromSize, "from-size", 0, "tree size of the checkpoint the auditor kept")
	cmd.Flags().StringVar(&out, "out", "-", "output file (- for stdout)")
	return cmd
}
