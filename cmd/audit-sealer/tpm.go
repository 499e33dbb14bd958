package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/storage"
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

// tpmIdentity reads the identity of the counter's TPM, which the sealer
// records at every start: without its attestation key in the log, no
// auditor can check evidence of the counter, so failing to create it stops
// the sealer. A missing or unreadable EK certificate only leaves it out.
func tpmIdentity(c *tpm.Counter, log hclog.Logger) (event.TPMIdentity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, err := tpm.ReadIdentity(ctx, c)
	if err != nil {
		return event.TPMIdentity{}, fmt.Errorf("the TPM's attestation key, which the log records so that auditors can check the counter: %w", err)
	}
	ev := event.TPMIdentity{AKName: hex.EncodeToString(id.AKName), AKPublic: base64.StdEncoding.EncodeToString(id.AKPublic),
		NVIndex: id.NVIndex, NVName: hex.EncodeToString(id.NVName)}
	cert, err := tpm.ReadEKCertificate(ctx, c)
	switch {
	case err == nil:
		ev.EKCertificate = base64.StdEncoding.EncodeToString(cert)
	case errors.Is(err, tpm.ErrNoEKCertificate):
		log.Info("the TPM holds no EK certificate: auditors can pin its attestation key, but not check it against the TPM vendor's CA")
	default:
		log.Warn("cannot read the TPM's EK certificate; its identity is recorded without it", "error", err)
	}
	return ev, nil
}

func tpmCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "tpm", Short: "The TPM 2.0 NV counter that anchors the log"}
	cmd.AddCommand(tpmProvisionCommand(), tpmReadCommand(), tpmCertifyCommand(), tpmIdentityCommand())
	return cmd
}

func tpmIdentityCommand() *cobra.Command {
	var f configFlags
	var ekOut string
	cmd := &cobra.Command{
		Use:   "identity [--ek-cert FILE]",
		Short: "Print the TPM's attestation key Name and the counter's Name; write its EK certificate",
		Long: `identity prints what the sealer records in the log at every start
(audit.tpm_identity): the Name of the attestation key that certifies the
counter, and the counter index's handle and Name. With --ek-cert FILE it
writes the endorsement key certificate the TPM holds (PEM), which an auditor
needs to make a credential challenge (audit-verify tpm challenge).`,
		Args: cobra.NoArgs,
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
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			id, err := tpm.ReadIdentity(ctx, c)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "ak_name %x\nnv_index 0x%08x\nnv_name %x\n", id.AKName, id.NVIndex, id.NVName)
			cert, err := tpm.ReadEKCertificate(ctx, c)
			switch {
			case errors.Is(err, tpm.ErrNoEKCertificate):
				fmt.Fprintln(w, "ek_certificate none")
				if ekOut != "" {
					return &exitError{code: 1, err: err}
				}
				return nil
			case err != nil:
				return err
			}
			parsed, err := evidence.ParseEKCertificate(cert)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "ek_certificate issuer %q\n", parsed.Issuer.String())
			if ekOut != "" {
				if err := os.WriteFile(ekOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: wrote the EK certificate to %s\n", ekOut)
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "tpm")
	cmd.Flags().StringVar(&ekOut, "ek-cert", "", "write the TPM's EK certificate (PEM) to this file")
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
	f.register(cmd.Flags(), "tpm")
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
	f.register(cmd.Flags(), "tpm")
	return cmd
}

func tpmCertifyCommand() *cobra.Command {
	var f configFlags
	var nonceHex, challengeFile, out string
	cmd := &cobra.Command{
		Use:   "certify (--nonce HEX | --challenge FILE) --out FILE",
		Short: "Write TPM evidence: an NV_Certify quote of the counter by an endorsement-hierarchy attestation key",
		Long: `certify asks the TPM to sign the counter's value together with the auditor's
nonce (TPM2_NV_Certify, by a restricted ECC P-256 attestation key in the
endorsement hierarchy) and writes the evidence file that
audit-verify --tpm-evidence FILE --nonce HEX checks offline.

With --challenge FILE (from audit-verify tpm challenge) the nonce is the
credential the auditor encrypted to the TPM's endorsement key for its
attestation key: the TPM recovers it (TPM2_ActivateCredential) only if it
holds both, which proves to the auditor that the attestation key lives in
the TPM that the EK certificate certifies.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadTPM(&f, cmd)
			if err != nil {
				return err
			}
			var nonce []byte
			var ch *evidence.Challenge
			switch {
			case (nonceHex == "") == (challengeFile == ""):
				return &exitError{code: 2, err: errors.New("give either --nonce (the auditor's fresh random value, hex) or --challenge (the auditor's challenge file)")}
			case challengeFile != "":
				data, err := storage.ReadFileMax(challengeFile, evidence.MaxChallengeSize)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--challenge: %w", err)}
				}
				if ch, err = evidence.ParseChallenge(data); err != nil {
					return &exitError{code: 2, err: err}
				}
			default:
				nonce, err = hex.DecodeString(nonceHex)
				if err != nil || len(nonce) == 0 {
					return &exitError{code: 2, err: fmt.Errorf("--nonce must be hex (the auditor's fresh random value)")}
				}
			}
			c, err := openCounter(cfg)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var ev []byte
			if ch != nil {
				ev, err = tpm.CertifyChallenge(ctx, c, ch)
			} else {
				ev, err = tpm.Certify(ctx, c, nonce)
			}
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
	f.register(cmd.Flags(), "tpm")
	cmd.Flags().StringVar(&nonceHex, "nonce", "", "the auditor's nonce, hex")
	cmd.Flags().StringVar(&challengeFile, "challenge", "", "the auditor's credential challenge (audit-verify tpm challenge)")
	cmd.Flags().StringVar(&out, "out", "tpm-evidence.json", "evidence file to write")
	return cmd
}
