package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/tpm"
)

// tpmAuthEnv holds the counter index's auth value when no file is configured.
const tpmAuthEnv = "AUDIT_SEALER_TPM_AUTH"

// tpmConfig turns the configuration into a tpm.Config; the index auth comes
// from auth_file or AUDIT_SEALER_TPM_AUTH (never a flag), which is removed
// from the environment once read.
func tpmConfig(cfg config.Config) (tpm.Config, error) {
	tc := tpm.Config{Transport: cfg.TPM.Transport, Index: cfg.TPM.Index}
	var err error
	tc.Auth, err = secretFrom(tpmAuthEnv, cfg.TPM.AuthFile, tpm.AuthFromEnv, tpm.AuthFromFile,
		"no TPM index auth: set [tpm] auth_file (AUDIT_SEALER_TPM_AUTH_FILE) or "+tpmAuthEnv)
	return tc, err
}

// openCounter opens the anchor counter the configuration names, or returns
// nil when none is configured.
func openCounter(cfg config.Config) (*tpm.Counter, error) {
	if cfg.TPM.Transport == "" {
		return nil, nil
	}
	tc, err := tpmConfig(cfg)
	if err != nil {
		return nil, err
	}
	c, err := tpm.Open(tc)
	if errors.Is(err, tpm.ErrIndexMissing) {
		return nil, fmt.Errorf("anchor reset: the TPM counter index 0x%08x is missing (the TPM was cleared or the index undefined); "+
			"nothing can vouch that this log is the latest; provision the index again (audit-sealer tpm provision) and check the log with audit-verify before starting: %w", cfg.TPM.Index, err)
	}
	return c, err
}

func tpmCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "tpm", Short: "The TPM 2.0 NV counter that anchors the log"}
	cmd.AddCommand(tpmProvisionCommand(), tpmReadCommand(), tpmCertifyCommand())
	return cmd
}

// loadTPM loads the configuration for the tpm commands, which need the
// [tpm] settings but not a signing key.
func loadTPM(f *configFlags, cmd *cobra.Command) (config.Config, error) {
	cfg, err := f.load(cmd.Flags())
	if err != nil && !isOnlyMissingKeyLabel(cfg) {
		probe := cfg
		probe.Dev = true
		if probe.Validate() != nil {
			return cfg, &exitError{code: 2, err: err}
		}
	}
	if cfg.TPM.Transport == "" {
		return cfg, &exitError{code: 2, err: errors.New("no TPM configured: set [tpm] transport or AUDIT_SEALER_TPM (device:/dev/tpmrm0, unix:PATH or tcp:HOST:PORT)")}
	}
	return cfg, nil
}

func tpmProvisionCommand() *cobra.Command {
	var f configFlags
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Define the NV counter index (TPM_NT_COUNTER, not orderly, NoDA) and initialise it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadTPM(&f, cmd)
			if err != nil {
				return err
			}
			tc, err := tpmConfig(cfg)
			if err != nil {
				return err
			}
			v, err := tpm.Provision(tc)
			if errors.Is(err, tpm.ErrAlreadyProvisioned) {
				fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: index 0x%08x is already provisioned\n", cfg.TPM.Index)
			} else if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v)
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func tpmReadCommand() *cobra.Command {
	var f configFlags
	cmd := &cobra.Command{
		Use:   "read",
		Short: "Print the counter's value",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadTPM(&f, cmd)
			if err != nil {
				return err
			}
			c, err := openCounter(cfg)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			v, err := c.Read(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v)
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func tpmCertifyCommand() *cobra.Command {
	var f configFlags
	var nonceHex, out string
	cmd := &cobra.Command{
		Use:   "certify --nonce HEX --out FILE",
		Short: "Write TPM evidence: an NV_Certify quote of the counter by an endorsement-hierarchy attestation key",
		Long: `certify asks the TPM to sign the counter's value together with the auditor's
nonce (TPM2_NV_Certify, by a restricted ECC P-256 attestation key in the
endorsement hierarchy) and writes the evidence file that
audit-verify --tpm-evidence FILE --nonce HEX checks offline.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadTPM(&f, cmd)
			if err != nil {
				return err
			}
			nonce, err := hex.DecodeString(nonceHex)
			if err != nil || len(nonce) == 0 {
				return &exitError{code: 2, err: fmt.Errorf("--nonce must be hex (the auditor's fresh random value)")}
			}
			c, err := openCounter(cfg)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			ev, err := tpm.Certify(ctx, c, nonce)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, ev, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: wrote TPM evidence for index 0x%08x to %s\n", cfg.TPM.Index, out)
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&nonceHex, "nonce", "", "the auditor's nonce, hex")
	cmd.Flags().StringVar(&out, "out", "tpm-evidence.json", "evidence file to write")
	return cmd
}
