package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// configCommand groups what an operator does with the configuration
// without starting the sealer.
func configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check the configuration without starting the sealer"}
	cmd.AddCommand(configCheckCommand())
	return cmd
}

// configCheckCommand validates the configuration the way serve builds it
// (defaults, the file, AUDIT_SEALER_* variables, flags) and starts
// nothing, like `sshd -t`: exit 0 when serve would accept it, 2 with the
// problem otherwise.
func configCheckCommand() *cobra.Command {
	var f configFlags
	cmd := &cobra.Command{
		Use:   "check [--config FILE] [serve flags]",
		Short: "Validate the configuration as serve would, and start nothing (like sshd -t)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			source := f.source().String()
			fmt.Fprintf(cmd.OutOrStdout(), "audit-sealer: configuration OK (%s): data_dir %s, socket %s, dev %v, %d policy entries, %d witnesses\n",
				source, cfg.DataDir, cfg.Socket, cfg.Dev, len(cfg.Policy), len(cfg.Witnesses))
			return nil
		},
	}
	f.register(cmd.Flags(), serveFlags...)
	return cmd
}
