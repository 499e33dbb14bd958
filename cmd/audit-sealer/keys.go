package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func keysCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage checkpoint signing keys"}
	var f configFlags
	var format string
	export := &cobra.Command{
		Use:   "export-public",
		Short: "Print the public key that verifies checkpoints (PEM or note verifier key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if !cfg.Dev {
				return &exitError{code: 2, err: fmt.Errorf("exporting a PKCS#11 key needs the HSM support of a later build; use --dev for the development key")}
			}
			s, err := devSigner(cfg, false)
			if err != nil {
				return err
			}
			switch format {
			case "pem":
				fmt.Fprint(cmd.OutOrStdout(), string(s.Public().MarshalPEM()))
			case "note":
				fmt.Fprintln(cmd.OutOrStdout(), s.Public().VerifierKey())
			default:
				return &exitError{code: 2, err: fmt.Errorf("--format %q: want pem or note", format)}
			}
			return nil
		},
	}
	f.register(export.Flags())
	export.Flags().StringVar(&format, "format", "pem", "pem (SubjectPublicKeyInfo, for openssl and audit-verify) or note (sumdb/note verifier key)")
	cmd.AddCommand(export)
	return cmd
}
