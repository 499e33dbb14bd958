package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/verify"
)

func proveCommand() *cobra.Command {
	var dataDir, out string
	var seq uint64
	cmd := &cobra.Command{
		Use:   "prove --data-dir DIR --seq N --out FILE",
		Short: "Export one record with its inclusion proof and a signed checkpoint (check with audit-verify proof)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := verify.Prove(dataDir, seq)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(b, "", "  ")
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
			fmt.Fprintf(os.Stderr, "audit-sealer: wrote the proof of record %d (tree size %d) to %s\n", seq, b.TreeSize, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "/var/lib/audit-sealer", "data directory")
	cmd.Flags().Uint64Var(&seq, "seq", 0, "sequence number of the record to disclose")
	cmd.Flags().StringVar(&out, "out", "-", "output file (- for stdout)")
	cmd.MarkFlagRequired("seq")
	return cmd
}
