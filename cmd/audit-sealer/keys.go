package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

func keysCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage checkpoint signing keys (on the PKCS#11 token, or the --dev key)"}
	cmd.AddCommand(exportPublicCommand(), generateCommand(), listCommand(), rotateCommand())
	return cmd
}

func exportPublicCommand() *cobra.Command {
	var f configFlags
	var format string
	var current, witnessKey bool
	var roots []string
	cmd := &cobra.Command{
		Use:   "export-public [--current] [--format bundle|pem|note] [--root FILE] [--witness-key]",
		Short: "Print what auditors need to verify checkpoints: the log's key history bundle (default), or the active public key",
		Long: `export-public prints, by default, the key history bundle of the log in the
data directory (FORMAT.md §5.5): the key that signed the log's first
checkpoint (the root, the key auditors pin) and, for every key introduced
since (keys rotate), the audit.key_introduced record with the checkpoint that
endorses it and the record's inclusion proof. audit-verify --key takes the
bundle; it stays valid after any number of rotations.

The log holds its first key's signatures, not the key: export-public looks
for it among the keys on the token (or the development key) and the keys
given with --root (the PEM you exported before the first rotation).

--current (or --format pem|note) prints only the active key: PEM
(SubjectPublicKeyInfo, for openssl and audit-verify) or a note verifier key.
After a rotation that key alone does not verify the log's earlier
checkpoints.

--witness-key prints the note verifier key of the witnessing key
([witnessing] key_label: the Ed25519 key that signs what is sent to
witnesses, named after the log's origin), for witnessctl add-key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if witnessKey {
				return exportWitnessKey(cmd, cfg)
			}
			switch {
			case format == "" && current:
				format = "pem"
			case format == "":
				format = "bundle"
			case format == "bundle" && current:
				return &exitError{code: 2, err: errors.New("--current prints one key: --format pem or note")}
			case format != "bundle" && format != "pem" && format != "note":
				return &exitError{code: 2, err: fmt.Errorf("--format %q: want bundle, pem or note", format)}
			}
			pub, err := configuredKey(cfg)
			if err != nil {
				return err
			}
			switch format {
			case "bundle":
				return exportHistory(cmd, cfg, pub, roots)
			case "pem":
				fmt.Fprint(cmd.OutOrStdout(), string(pub.MarshalPEM()))
			case "note":
				if pub.Name == "" {
					pub.Name = cfg.Signer.KeyName
				}
				fmt.Fprintln(cmd.OutOrStdout(), pub.VerifierKey())
			default:
				return &exitError{code: 2, err: fmt.Errorf("--format %q: want bundle, pem or note", format)}
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "data-dir", "dev")
	cmd.Flags().StringVar(&format, "format", "", "bundle (key history, the default), pem (SubjectPublicKeyInfo of the active key, the default with --current) or note (its sumdb/note verifier key)")
	cmd.Flags().BoolVar(&current, "current", false, "print only the active key")
	cmd.Flags().BoolVar(&witnessKey, "witness-key", false, "print the note verifier key of the witnessing key ([witnessing] key_label), named after the log's origin")
	cmd.Flags().StringArrayVar(&roots, "root", nil, "a public key file (PEM or note key) that may be the log's first key, when it is no longer on the token; repeatable")
	return cmd
}

// exportWitnessKey prints the note verifier key of the witnessing key
// under the log's origin (FORMAT.md §5.6), for witnessctl add-key.
func exportWitnessKey(cmd *cobra.Command, cfg config.Config) error {
	if cfg.Witnessing.KeyLabel == "" {
		return &exitError{code: 2, err: errors.New("--witness-key: the configuration sets no [witnessing] key_label (without one the log key is sent to witnesses: --current --format note)")}
	}
	data, err := storage.ReadDataFile(filepath.Join(cfg.DataDir, storage.CheckpointFile), chain.MaxCheckpointLen)
	if err != nil {
		return fmt.Errorf("--witness-key needs the log's origin from its checkpoint file (start the sealer once): %w", err)
	}
	cp, _, _, err := chain.PeekCheckpoint(data)
	if err != nil {
		return fmt.Errorf("--witness-key: %s: %w", storage.CheckpointFile, err)
	}
	keys, err := tokenKeys(cfg)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Label == cfg.Witnessing.KeyLabel && k.KeyID != "" {
			if k.Public.Algorithm != signer.Ed25519 {
				return fmt.Errorf("the witnessing key %q is %s; witnesses take Ed25519 keys only", k.Label, k.Public.Algorithm)
			}
			pub := k.Public
			pub.Name = cp.Origin
			fmt.Fprintln(cmd.OutOrStdout(), pub.VerifierKey())
			return nil
		}
	}
	return fmt.Errorf("no key labelled %q with a public half on the token", cfg.Witnessing.KeyLabel)
}

// exportHistory prints the key history bundle of the log in the data
// directory. The root is looked for among the keys on the token (or the
// development key), the --root files and the keys the log introduced.
func exportHistory(cmd *cobra.Command, cfg config.Config, active signer.PublicKey, roots []string) error {
	candidates, err := signer.LoadPublicKeys(roots)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--root: %w", err)}
	}
	candidates = append(candidates, active)
	if !cfg.Dev {
		keys, err := tokenKeys(cfg)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.KeyID != "" {
				candidates = append(candidates, k.Public)
			}
		}
	}
	h, err := verify.KeyHistoryOf(cfg.DataDir, candidates)
	if errors.Is(err, verify.ErrRootUnknown) {
		return fmt.Errorf("%w: give the public key you exported before the first rotation with --root", err)
	}
	if err != nil {
		return err
	}
	root, _ := h.RootKey()
	ring := verify.NewKeyRing(signer.Verifiers{root})
	if err := ring.Follow(h.Origin, h.Endorsements); err != nil {
		return fmt.Errorf("the log's key history does not check: %w", err)
	}
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(data))
	fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: key history of %s: root key %s, %d key introductions\n", h.Origin, root.ID(), len(h.Endorsements))
	if !ring.Keys().Contains(active) {
		fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: warning: the active key %s is not endorsed from the root (introduced without endorsement, or not yet introduced): auditors must be given it out of band (--current)\n", active.ID())
	}
	return nil
}

func generateCommand() *cobra.Command {
	var f configFlags
	var algorithm, label string
	cmd := &cobra.Command{
		Use:   "generate --algorithm ed25519|ecdsa-p256 --label LABEL",
		Short: "Generate a signing key on the PKCS#11 token (token object, sensitive, never extractable)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil && !isOnlyMissingKeyLabel(cfg) {
				return &exitError{code: 2, err: err}
			}
			alg, err := signer.ParseAlgorithm(algorithm)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if label == "" {
				return &exitError{code: 2, err: errors.New("--label is required")}
			}
			hc, err := hsmConfig(cfg)
			if err != nil {
				return err
			}
			pub, err := hsm.GenerateKey(hc, alg, label)
			if err != nil {
				return err
			}
			pub.Name = cfg.Signer.KeyName
			fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: generated %s key %q (key id %s) on the token\n", alg, label, pub.ID())
			fmt.Fprint(cmd.OutOrStdout(), string(pub.MarshalPEM()))
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&algorithm, "algorithm", "ed25519", "ed25519 or ecdsa-p256")
	cmd.Flags().StringVar(&label, "label", "", "CKA_LABEL of the new key")
	return cmd
}

// isOnlyMissingKeyLabel lets `keys generate` and `keys list` run with a
// configuration that names the token but no key yet.
func isOnlyMissingKeyLabel(cfg config.Config) bool {
	probe := cfg
	probe.Signer.KeyLabel = "probe"
	return probe.Validate() == nil
}

func listCommand() *cobra.Command {
	var f configFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys on the PKCS#11 token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil && !isOnlyMissingKeyLabel(cfg) {
				return &exitError{code: 2, err: err}
			}
			keys, err := tokenKeys(cfg)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]map[string]any, len(keys))
				for i, k := range keys {
					out[i] = map[string]any{"label": k.Label, "id": k.ID, "algorithm": k.Algorithm, "key_id": k.KeyID,
						"sensitive": k.Sensitive, "always_sensitive": k.AlwaysSensitive, "extractable": k.Extractable, "never_extractable": k.NeverExtractable}
				}
				b, _ := json.MarshalIndent(out, "", "  ")
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "LABEL\tALGORITHM\tKEY ID\tSENSITIVE\tEXTRACTABLE")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%v\n", k.Label, k.Algorithm, k.KeyID, k.Sensitive, k.Extractable)
			}
			return w.Flush()
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func rotateCommand() *cobra.Command {
	var f configFlags
	var toLabel, reason string
	cmd := &cobra.Command{
		Use:   "rotate --to-label LABEL",
		Short: "Hand checkpoint signing to another key on the token, endorsed by the current one (the running sealer does it without a restart)",
		Long: `rotate records audit.key_introduced with the new key's public half, seals
that record with the current key (the endorsement an offline verifier
follows, after which the current key signs nothing more), and seals once
more with the new key.

When a sealer runs on the data directory (it holds the directory's lock),
rotate asks it over its socket (--socket, or the configuration's): the
sealer does the same while it runs, with no restart, and emitters are not
refused. Only root and the uids and groups of [admin] may ask; any other
user gets not_authorized. Otherwise rotate opens the log itself and closes
it when done.

Either way, then set key_label to the new label in the configuration, so
that the next start uses the new key (a key that did not sign the log's
last checkpoint is refused at start). With --dev a new development key is
generated, replaces dev-signing.key, and the retired key is wiped: nothing
that could sign for the old key stays in the data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if !cfg.Dev && toLabel == "" {
				return &exitError{code: 2, err: errors.New("--to-label is required")}
			}
			if sealerRunning(cfg.DataDir) {
				// A sealer runs on this log: it rotates, without a restart.
				return rotateOnline(cmd, cfg.Socket, toLabel, reason)
			}
			cur, err := openSigner(cfg)
			if err != nil {
				return err
			}
			l, _, err := ledger.Open(ledger.Config{Dir: cfg.DataDir, Signer: cur, KeyName: cfg.Signer.KeyName, Dev: cfg.Dev, SegmentSize: cfg.SegmentSize})
			if errors.Is(err, storage.ErrLocked) {
				return rotateOnline(cmd, cfg.Socket, toLabel, reason) // it started meanwhile
			}
			if err != nil {
				return err
			}
			var next signer.Signer
			var commit func() error
			if cfg.Dev {
				gen, err := signer.NewSoftwareSigner(signer.Ed25519, cfg.Signer.KeyName)
				if err != nil {
					l.Close()
					return err
				}
				next = gen
				// The new key is on disk before the log introduces it, and
				// replaces the old one (which is then wiped) only once the log
				// is closed: a crash in between leaves both keys usable.
				path := filepath.Join(cfg.DataDir, storage.DevKeyFile)
				staged := path + ".next"
				if err := os.Remove(staged); err != nil && !errors.Is(err, os.ErrNotExist) {
					l.Close()
					return err
				}
				if err := gen.WriteKeyFile(staged); err != nil {
					l.Close()
					return err
				}
				commit = func() error { return replaceDevKey(path, staged) }
			} else {
				nc := cfg
				nc.Signer.KeyLabel = toLabel
				n, err := openSigner(nc)
				if err != nil {
					l.Close()
					return err
				}
				next = n
				commit = func() error { return nil }
			}
			introduced := l.NextSeq()
			cp, err := l.IntroduceKey(next, reason)
			endorsed := l.LastCheckpoint() != nil && l.LastCheckpoint().Size > introduced
			switch {
			case err != nil && !endorsed && l.Err() == nil && l.NextSeq() > introduced:
				// The current key did not sign the endorsement. Closing would
				// seal the introduction with the current key, which would
				// then be retired while it stays the configured key: cut the
				// introduction (never synced) instead, as the sealer's
				// storage recovery would, and change nothing.
				seg, off := l.Durable()
				l.Abandon()
				if _, derr := storage.DiscardUndurable(cfg.DataDir, seg, off); derr != nil {
					return errors.Join(fmt.Errorf("the current key could not endorse the new key: %w", err), derr)
				}
				return fmt.Errorf("the current key could not endorse the new key; nothing changed: %w", err)
			case err != nil && !endorsed:
				l.Close()
				return err
			case err != nil:
				// Endorsed: the new key signs; Close seals with it.
				fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: note: the new key's first checkpoint failed (%v); closing the log seals with it\n", err)
			}
			if err := l.Close(); err != nil {
				return err
			}
			if cp == nil {
				cp = l.LastCheckpoint()
			}
			if err := commit(); err != nil {
				return fmt.Errorf("the log introduced the new key but the key file could not be switched: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: introduced key %s, endorsed by key %s in the checkpoint of size %d at %s\n",
				next.Public().ID(), cur.Public().ID(), cp.Size, cp.Time.Format(time.RFC3339))
			if !cfg.Dev {
				fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: now set key_label = %q (AUDIT_SEALER_PKCS11_KEY_LABEL) and start the sealer\n", toLabel)
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "data-dir", "dev", "socket")
	cmd.Flags().StringVar(&toLabel, "to-label", "", "label of the new key on the token (generate it first with keys generate)")
	cmd.Flags().StringVar(&reason, "reason", "scheduled rotation", "why the key changes (recorded in the chain)")
	return cmd
}

// replaceDevKey puts the staged development key in place of the one at
// path and wipes the retired key's bytes (FORMAT.md §5.1: a retired key
// signs nothing, so nothing should be left that can sign for it).
func replaceDevKey(path, staged string) error {
	old, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer old.Close()
	fi, err := old.Stat()
	if err != nil {
		return err
	}
	if err := os.Rename(staged, path); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	if _, err := old.WriteAt(make([]byte, fi.Size()), 0); err != nil {
		return fmt.Errorf("wipe the retired key: %w", err)
	}
	return old.Sync()
}

// syncDir fsyncs a directory, making a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
