package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/internal/clidoc"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// Exit statuses.
const (
	exitIntact    = 0
	exitFailed    = 1 // tampered or incomplete
	exitCannotRun = 2 // could not check
)

// The largest file of each kind audit-verify reads: storage.ReadFileMax
// refuses a larger one before reading it (exit status 2).
const (
	// maxKeyFile: a PEM public key or a note verifier key is well under
	// 1 KiB.
	maxKeyFile = 64 << 10
	// maxCheckpointFile: a signed checkpoint note (FORMAT.md §3.1, §5).
	maxCheckpointFile = chain.MaxCheckpointLen
	// maxBundleFile: a proof bundle (FORMAT.md §6).
	maxBundleFile = chain.MaxBundleSize
	// maxResultFile: a query result line holds a bundle, the event once more
	// (at most 64 KiB) and a few short members.
	maxResultFile = chain.MaxBundleSize + event.MaxEncodedSize + 16<<10
	// maxEvidenceFile: a TPM evidence file (FORMAT.md §5.4).
	maxEvidenceFile = evidence.MaxSize
	// maxChallengeFile: a credential challenge file (FORMAT.md §5.4).
	maxChallengeFile = evidence.MaxChallengeSize
	// maxCAFile: PEM CA certificates for EK certificates, or one EK
	// certificate (a few KiB each).
	maxCAFile = 256 << 10
)

// exitCode carries an exit status out of a cobra command.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	var code exitCode
	switch {
	case err == nil:
		return exitIntact
	case errors.As(err, &code):
		return int(code)
	default:
		errorf(stderr, "%v", err)
		return exitCannotRun
	}
}

type common struct {
	keyFiles []string
	json     bool
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var c common
	var checkpointFile string
	var workers int
	var requireHardware, requireFIPS, allSignatures bool
	var minCounter int64
	var evidenceFile, nonceHex, akNameHex, challengeFile, secretHex, ekCAFile, format string
	var anchorInterval time.Duration
	var wf witnessFlags
	root := &cobra.Command{
		Use:   "audit-verify --key FILE [--key FILE...] [--checkpoint FILE] [--witness VKEY... [--witness-quorum K]] [--format text|json|html] DATA_DIR",
		Short: "Check an audit-sealer log offline with only the public key",
		Long: `audit-verify checks every byte of an audit-sealer data directory: framing,
record hashes, the hash chain, sequence numbers across segments, event schemas,
Merkle roots and checkpoint signatures, and that the tail is sealed.

--key takes a PEM public key, a note verifier key, or the key history bundle
of audit-sealer keys export-public (repeat it for several). A key history is
trusted from its root key (the log's first key; pin it); the log's own key
endorsements then make later keys trusted, and each endorsement of the
bundle must name the record the log holds at that seq.
--checkpoint takes a checkpoint you kept earlier: the log must contain it.
--tpm-evidence takes TPM evidence of the anchor counter (audit-sealer tpm
certify): it must be by the attestation key the log's TPM identity names
(unknown_ak otherwise), which --ak-name pins; with --challenge (see
audit-verify tpm challenge) it must also prove that key lives in the TPM
whose EK certificate chains to a CA of --ek-ca.

--witness takes a witness you trust (its cosignature/v1 verifier key, as
litewitness prints it; repeat it, or give @FILE of keys one per line):
every checkpoint a listed witness cosigned (in the log's
audit.checkpoint_witnessed records, the checkpoint file, --checkpoint) must
agree with the log (inconsistent_with_witness), and --witness-quorum of
them (default all) must have cosigned a checkpoint of the log at most
--witness-max-age (default 1h) before its last checkpoint (unwitnessed).

--require-fips fails (not_fips) a log any of whose runs of the sealer did not
record FIPS 140-3 mode in its audit.sealer_started (docs/fips.md).

--format json (or --json) prints the evidence report as one JSON document,
--format html as one self-contained page to attach to an audit: the
verifier's version, the time, the inputs, the period covered, the keys and
their history, the anchoring and the exceptions (FORMAT.md §7.1).

Exit status: 0 intact, 1 tampered or incomplete, 2 could not verify (a
checkpoint signed by a key you did not give, bad arguments, unreadable
input).`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case c.json && cmd.Flags().Changed("format") && format != "json":
				return fmt.Errorf("--json and --format %s: choose one", format)
			case c.json:
				format = "json"
			case format != "text" && format != "json" && format != "html":
				return fmt.Errorf("--format %q: want text, json or html", format)
			}
			if anchorInterval <= 0 {
				return fmt.Errorf("--anchor-interval %s: want a positive duration", anchorInterval)
			}
			t, err := c.trust()
			if err != nil {
				return err
			}
			opts := verify.Options{Keys: t.keys, Workers: workers, RequireHardware: requireHardware, RequireFIPS: requireFIPS, AllSignatures: allSignatures, AnchorInterval: anchorInterval}
			if opts.Witness, err = wf.policy(cmd); err != nil {
				return err
			}
			if akNameHex != "" {
				if opts.AKName, err = parseAKName(akNameHex); err != nil {
					return fmt.Errorf("--ak-name: %w", err)
				}
			}
			if challengeFile != "" || secretHex != "" || ekCAFile != "" {
				switch {
				case challengeFile == "" || secretHex == "" || ekCAFile == "":
					return errors.New("--challenge, --challenge-secret and --ek-ca go together: the challenge you made, the secret it printed, and the CA certificates you trust for EK certificates")
				case evidenceFile == "":
					return errors.New("--challenge needs --tpm-evidence: the evidence the operator made with it")
				case nonceHex != "":
					return errors.New("--challenge replaces --nonce: the challenge's credential is the nonce")
				}
				if opts.EKChallenge, err = readEKChallenge(challengeFile, secretHex, ekCAFile); err != nil {
					return err
				}
			}
			if evidenceFile != "" {
				var nonce []byte
				switch {
				case opts.EKChallenge != nil:
					nonce = opts.EKChallenge.Challenge.Nonce(opts.EKChallenge.Secret)
				case nonceHex != "":
					if nonce, err = hex.DecodeString(nonceHex); err != nil {
						return fmt.Errorf("--nonce: %w", err)
					}
				}
				res, err := checkEvidence(evidenceFile, nonce)
				if err != nil {
					return err
				}
				opts.Evidence = res
			}
			if minCounter >= 0 {
				m := uint64(minCounter)
				opts.MinCounter = &m
			}
			if checkpointFile != "" {
				if opts.Trusted, err = storage.ReadFileMax(checkpointFile, maxCheckpointFile); err != nil {
					return fmt.Errorf("--checkpoint: %w", err)
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			prog := newProgress(stderr)
			if prog != nil {
				opts.Progress = prog.update
			}
			verifiedAt := time.Now()
			rep, err := verify.Dir(ctx, args[0], opts)
			prog.clear()
			if err != nil {
				return err
			}
			// The key histories given are compared with the log only once
			// the log verified: read before, a record an attacker changed
			// would turn the tampered verdict into "cannot verify".
			if rep.Verdict == verify.Intact {
				if err := t.checkHistories(args[0]); err != nil {
					return err
				}
			}
			in := inputsInfo{DataDir: args[0], KeyFiles: c.keyFiles, Checkpoint: checkpointFile, TPMEvidence: evidenceFile,
				RequireHardware: requireHardware, RequireFIPS: requireFIPS, AllSignatures: allSignatures, AnchorInterval: anchorInterval.String()}
			if minCounter >= 0 {
				in.MinCounter = &minCounter
			}
			if opts.Witness != nil {
				in.Witnesses, in.WitnessQuorum, in.WitnessMaxAge = wf.keys, opts.Witness.Policy.Quorum(), wf.maxAge.String()
			}
			if err := writeReport(stdout, format, newEvidenceReport(rep, in, opts.Trusted, verifiedAt)); err != nil {
				return err
			}
			if code := rep.Verdict.ExitCode(); code != exitIntact {
				return exitCode(code)
			}
			return nil
		},
	}
	root.PersistentFlags().StringArrayVar(&c.keyFiles, "key", nil, "trusted public key file (PEM or note verifier key) or key history bundle (audit-sealer keys export-public); repeatable")
	root.PersistentFlags().BoolVar(&c.json, "json", false, "print one JSON document (for DATA_DIR: the same as --format json)")
	root.Flags().StringVar(&format, "format", "text", "text, json (the evidence report as one JSON document) or html (one self-contained page)")
	root.Flags().DurationVar(&anchorInterval, "anchor-interval", verify.DefaultAnchorInterval, "the sealer's anchor interval, assumed where the log records none (audit.sealer_started settings)")
	root.Flags().StringVar(&checkpointFile, "checkpoint", "", "a checkpoint kept earlier; the log must be consistent with it")
	root.Flags().IntVar(&workers, "workers", 0, "goroutines checking records, and segments checked at once (0 = all cores)")
	root.Flags().StringVar(&evidenceFile, "tpm-evidence", "", "TPM evidence (audit-sealer tpm certify): the log's last anchor must reach the certified counter")
	root.Flags().StringVar(&nonceHex, "nonce", "", "with --tpm-evidence: the hex nonce you gave to tpm certify (proves the evidence is fresh)")
	root.Flags().StringVar(&akNameHex, "ak-name", "", "the TPM attestation key Name (hex) you pinned: the log's TPM identity and the evidence must name it (unknown_ak)")
	root.Flags().StringVar(&challengeFile, "challenge", "", "with --tpm-evidence: the credential challenge you made (audit-verify tpm challenge) and the operator answered")
	root.Flags().StringVar(&secretHex, "challenge-secret", "", "with --challenge: the hex secret audit-verify tpm challenge printed")
	root.Flags().StringVar(&ekCAFile, "ek-ca", "", "with --challenge: PEM certificates of the CAs you trust for EK certificates (roots are trusted, others only link to them)")
	root.Flags().Int64Var(&minCounter, "min-counter", -1, "a TPM counter value the log is known to have reached; a lower last anchor fails (rolled_back)")
	root.Flags().BoolVar(&requireHardware, "require-hardware", false, "fail (software_key) unless every checkpoint says it was signed by a PKCS#11 key outside dev mode")
	root.Flags().BoolVar(&requireFIPS, "require-fips", false, "fail (not_fips) unless every run of the sealer recorded FIPS 140-3 mode: the Go Cryptographic Module on or only, a frozen module version, and for a PKCS#11 key a token that reported a validation the key meets")
	wf.add(root, true)
	root.Flags().BoolVar(&allSignatures, "all-signatures", false, "check every checkpoint's signature; by default each segment's last checkpoint, key endorsements and checkpoints by introduced keys are checked, and their signatures cover every earlier checkpoint (FORMAT.md §7)")
	root.AddCommand(newProofCommand(&c, stdout), newConsistencyCommand(&c, stdout), newReportCommand(&c, stdout), newTPMCommand(stdout, stderr))
	buildinfo.AddVersion(root, buildinfo.Hardware{}) // software verification only: no PKCS#11, no TPM
	clidoc.Add(root)                                 // with -tags gendocs: a hidden command that writes the manual pages
	return root
}

func newProofCommand(c *common, stdout io.Writer) *cobra.Command {
	var wf witnessFlags
	cmd := &cobra.Command{
		Use:   "proof --key FILE [--witness VKEY... [--witness-quorum K]] [--json] BUNDLE",
		Short: "Check a single-record disclosure bundle (from audit-sealer prove), or one result line of audit-sealer query --proofs",
		Long: `proof checks a bundle's checkpoint signature (following its key
endorsements from the keys you trust), the record and its inclusion proof.
With --witness, the bundle's checkpoint must also carry cosignatures by
--witness-quorum (default all) of the witnesses listed, none dated in the
future (unwitnessed, exit 1, otherwise): the witnesses saw the tree that
holds the record.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := c.trust()
			if err != nil {
				return err
			}
			pol, err := wf.policy(cmd)
			if err != nil {
				return err
			}
			data, err := storage.ReadFileMax(args[0], maxResultFile)
			if err != nil {
				return err
			}
			bundle, result, err := parseProofInput(data)
			if err != nil {
				return err // exit 2: not well formed, so no proof either way
			}
			d, err := t.ring.CheckInclusion(bundle)
			if err == nil && result != nil {
				err = checkResult(result, &d.Record)
			}
			if errors.Is(err, chain.ErrUnknownKey) {
				return cannotVerify(stdout, c.json, untrustedBundle("the bundle's checkpoint", err))
			}
			if err != nil {
				if c.json {
					json.NewEncoder(stdout).Encode(map[string]any{"verdict": "invalid", "error": err.Error()})
				} else {
					fmt.Fprintf(stdout, "audit-verify: proof INVALID: %v\n", err)
				}
				return exitCode(exitFailed)
			}
			var witnessed *verify.WitnessedCheckpoint
			if pol != nil {
				witnessed, err = pol.CheckCheckpoint(bundle.Checkpoint)
				if errors.Is(err, verify.ErrUnwitnessed) {
					if c.json {
						json.NewEncoder(stdout).Encode(map[string]any{"verdict": "unwitnessed", "reason": verify.ReasonUnwitnessed, "error": err.Error()})
					} else {
						fmt.Fprintf(stdout, "audit-verify: proof UNWITNESSED: the proof holds, but %v\n", err)
					}
					return exitCode(exitFailed)
				}
				if err != nil {
					return err
				}
			}
			r := d.Record
			out := map[string]any{
				"verdict": "valid", "seq": r.Seq, "kind": r.Kind.String(), "time": r.Time(),
				"checkpoint": summaryOf(d.Checkpoint),
			}
			if witnessed != nil {
				out["witnesses"] = witnessed.Cosigners
				out["witness_quorum"] = pol.Policy.Quorum()
			}
			if r.Kind == chain.KindEvent || r.Kind == chain.KindSealerEvent {
				out["service"], out["audit_id"], out["type"] = string(r.Service), string(r.AuditID), string(r.Type)
				out["event"] = json.RawMessage(r.Event)
			}
			if result != nil {
				out["query_result"] = "every field of the result line is the proven record's"
			}
			if c.json {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(stdout, "audit-verify: proof valid: record %d (%s) is in the log under a checkpoint of size %d signed %s by key %s\n",
				r.Seq, r.Kind, d.Checkpoint.Size, d.Checkpoint.Time.Format(time.RFC3339), d.Checkpoint.Key.ID())
			if r.Kind == chain.KindEvent || r.Kind == chain.KindSealerEvent {
				fmt.Fprintf(stdout, "service %s, audit_id %s, received %s\n%s\n", r.Service, r.AuditID, r.Time().Format(time.RFC3339Nano), r.Event)
			}
			if result != nil {
				fmt.Fprintln(stdout, "every field of the query result line is the proven record's")
			}
			if witnessed != nil {
				fmt.Fprintf(stdout, "witnessed: the checkpoint of size %d is cosigned by %d of the witnesses you listed (quorum %d):\n",
					witnessed.Size, len(witnessed.Cosigners), pol.Policy.Quorum())
				for _, w := range witnessed.Cosigners {
					fmt.Fprintf(stdout, "  %s at %s, %s after the record\n", w.Witness, w.CosignedAt.Format(time.RFC3339), w.CosignedAt.Sub(r.Time()).Round(time.Second))
				}
			}
			return nil
		},
	}
	wf.add(cmd, false)
	return cmd
}

func newConsistencyCommand(c *common, stdout io.Writer) *cobra.Command {
	var kept string
	cmd := &cobra.Command{
		Use:   "consistency --key FILE --checkpoint KEPT BUNDLE",
		Short: "Check that the log only grew since a checkpoint you kept (bundle from audit-sealer prove --from-size)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := c.trust()
			if err != nil {
				return err
			}
			if kept == "" {
				return errors.New("--checkpoint: name the checkpoint you kept")
			}
			old, err := storage.ReadFileMax(kept, maxCheckpointFile)
			if err != nil {
				return fmt.Errorf("--checkpoint: %w", err)
			}
			data, err := storage.ReadFileMax(args[0], maxBundleFile)
			if err != nil {
				return err
			}
			b, err := chain.ParseConsistencyBundle(data)
			if err != nil {
				return err
			}
			cur, err := t.ring.CheckConsistency(b, old)
			if errors.Is(err, chain.ErrUnknownKey) {
				what := "the bundle's checkpoint"
				if _, oerr := t.ring.Open(old); errors.Is(oerr, chain.ErrUnknownKey) {
					what, err = "your checkpoint", oerr
				}
				return cannotVerify(stdout, c.json, untrustedBundle(what, err))
			}
			if err != nil {
				if c.json {
					json.NewEncoder(stdout).Encode(map[string]any{"verdict": "inconsistent", "error": err.Error()})
				} else {
					fmt.Fprintf(stdout, "audit-verify: INCONSISTENT: %v\n", err)
				}
				return exitCode(exitFailed)
			}
			if c.json {
				return json.NewEncoder(stdout).Encode(map[string]any{"verdict": "consistent", "old_size": b.OldSize, "checkpoint": summaryOf(cur)})
			}
			fmt.Fprintf(stdout, "audit-verify: consistent: the log of size %d (signed %s by key %s) extends your checkpoint of size %d\n",
				cur.Size, cur.Time.Format(time.RFC3339), cur.Key.ID(), b.OldSize)
			return nil
		},
	}
	cmd.Flags().StringVar(&kept, "checkpoint", "", "the checkpoint you kept earlier")
	return cmd
}

func summaryOf(cp *chain.SignedCheckpoint) map[string]any {
	return map[string]any{"size": cp.Size, "time": cp.Time, "key_id": cp.Key.ID(), "signer_kind": cp.SignerKind, "algorithm": cp.Algorithm, "dev": cp.Dev}
}

func printReport(w io.Writer, er *evidenceReport) {
	rep := er.Report
	switch rep.Verdict {
	case verify.Intact:
		fmt.Fprintf(w, "audit-verify: intact: %d records in %d segments, %d checkpoints verified, %d signatures checked (%.2fs)\n",
			rep.Records, rep.Segments, rep.Checkpoints, rep.SignaturesChecked, rep.Seconds)
	case verify.Unverifiable:
		fmt.Fprintf(w, "audit-verify: cannot verify: %s\n", rep.FirstFailure)
		fmt.Fprintf(w, "checked %d records in %d segments, %d checkpoints verified with the keys you gave before it\n",
			rep.Records, rep.Segments, rep.Checkpoints)
	default:
		fmt.Fprintf(w, "audit-verify: %s: %s\n", strings.ToUpper(string(rep.Verdict)), rep.FirstFailure)
		fmt.Fprintf(w, "checked %d records in %d segments, %d checkpoints verified before the failure\n",
			rep.Records, rep.Segments, rep.Checkpoints)
	}
	if cp := rep.LastCheckpoint; cp != nil {
		mode := ""
		if cp.Dev {
			mode = ", DEV MODE"
		}
		fmt.Fprintf(w, "last checkpoint: size %d at %s, key %s (%s %s%s)\n",
			cp.Size, cp.Time.Format(time.RFC3339), cp.KeyID, cp.SignerKind, cp.Algorithm, mode)
	}
	if a := rep.LastAnchor; a != nil {
		fmt.Fprintf(w, "last anchor: TPM counter %d (index %s) at record %d, %d anchored checkpoints\n", a.Counter, a.Index, a.Seq, a.Anchors)
	}
	if id := rep.TPMIdentity; id != nil {
		ek := "no EK certificate"
		if id.EKCertificate != "" {
			ek = "with an EK certificate"
		}
		fmt.Fprintf(w, "TPM identity: attestation key %s, counter index %s (record %d, %s)\n", id.AKName, id.NVIndex, id.Seq, ek)
	}
	if e := rep.Evidence; e != nil {
		var notes []string
		if e.NonceChecked {
			notes = append(notes, "nonce checked")
		} else {
			notes = append(notes, "NO NONCE: the evidence may be old")
		}
		if e.AKPinned {
			notes = append(notes, "the attestation key you pinned")
		}
		if e.EKCA != "" {
			notes = append(notes, fmt.Sprintf("in the TPM whose EK %q certified", e.EKCA))
		}
		reaches := ""
		if rep.FirstFailure == nil {
			reaches = "; the log reaches it"
		}
		fmt.Fprintf(w, "TPM evidence: counter %d at index %s certified by attestation key %s (%s)%s\n", e.Counter, e.Index, e.AKName, strings.Join(notes, ", "), reaches)
	}
	if t := rep.TrustedCheckpoint; t != nil && t.Consistent {
		fmt.Fprintf(w, "consistent with your checkpoint of size %d\n", t.Size)
	}
	printWitnessing(w, rep)
	printEvidence(w, er)
	for _, e := range rep.Exceptions {
		fmt.Fprintf(w, "exception: %s at record %d, %s (segment %s): %s\n", e.Code, e.Seq, e.Time.Format(time.RFC3339Nano), e.Segment, e.Detail)
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

// checkEvidence reads and verifies a TPM evidence file offline; a nonce,
// if given, must be the certified one.
func checkEvidence(path string, nonce []byte) (*evidence.Result, error) {
	data, err := storage.ReadFileMax(path, maxEvidenceFile)
	if err != nil {
		return nil, fmt.Errorf("--tpm-evidence: %w", err)
	}
	ev, err := evidence.Parse(data)
	if err != nil {
		return nil, err
	}
	res, err := ev.Verify(nonce)
	if err != nil {
		return nil, fmt.Errorf("the TPM evidence does not verify: %w", err)
	}
	return res, nil
}

// parseAKName decodes an attestation key Name given in hex: a TPM name
// algorithm (SHA-256, SHA-384 or SHA-512) and a digest of its size.
func parseAKName(s string) ([]byte, error) {
	name, err := hex.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if n := len(name); n < 2 || (name[0] != 0 || !(name[1] == 0x0b && n == 34 || name[1] == 0x0c && n == 50 || name[1] == 0x0d && n == 66)) {
		return nil, fmt.Errorf("%s is not a TPM Name (000b and 32 bytes of SHA-256, as audit-verify prints it)", s)
	}
	return name, nil
}

// readEKChallenge reads what --challenge, --challenge-secret and --ek-ca
// name.
func readEKChallenge(challengeFile, secretHex, caFile string) (*verify.EKChallenge, error) {
	data, err := storage.ReadFileMax(challengeFile, maxChallengeFile)
	if err != nil {
		return nil, fmt.Errorf("--challenge: %w", err)
	}
	ch, err := evidence.ParseChallenge(data)
	if err != nil {
		return nil, fmt.Errorf("--challenge: %w", err)
	}
	secret, err := hex.DecodeString(secretHex)
	if err != nil || len(secret) != evidence.SecretSize {
		return nil, fmt.Errorf("--challenge-secret: want the %d-byte hex secret audit-verify tpm challenge printed", evidence.SecretSize)
	}
	data, err = storage.ReadFileMax(caFile, maxCAFile)
	if err != nil {
		return nil, fmt.Errorf("--ek-ca: %w", err)
	}
	anchors, inter, err := evidence.ParseCAFile(data)
	if err != nil {
		return nil, fmt.Errorf("--ek-ca: %w", err)
	}
	return &verify.EKChallenge{Challenge: ch, Secret: secret, Anchors: anchors, Intermediates: inter}, nil
}

func newTPMCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "tpm", Short: "Credential challenges for TPM evidence"}
	var ekFile, akNameHex, out string
	challenge := &cobra.Command{
		Use:   "challenge --ek-cert FILE --ak-name HEX --out FILE",
		Short: "Make a credential challenge: proof that the attestation key lives in the TPM whose EK certificate you have",
		Long: `challenge encrypts a fresh credential to the endorsement key (EK) that the
certificate certifies, for the attestation key (AK) named (TPM2_MakeCredential,
in pure Go), and writes the challenge file for the operator, who answers it
with audit-sealer tpm certify --challenge FILE --out EVIDENCE. Only the TPM
holding that EK, with that AK loaded, recovers the credential, and the
evidence carries it as its nonce.

It prints a secret (hex) on standard output: keep it, and check the answer
with audit-verify --tpm-evidence EVIDENCE --challenge FILE
--challenge-secret SECRET --ek-ca CA.pem DATA_DIR. The secret determines the
credential together with the AK Name and the EK certificate in the file, so
a file altered on its way fails the check.

--ek-cert takes the EK certificate (PEM or DER: audit-sealer tpm identity
--ek-cert writes it, and audit-verify --json shows the one the log
records); --ak-name the AK Name the log's TPM identity names.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ekFile == "" || akNameHex == "" || out == "" {
				return errors.New("--ek-cert, --ak-name and --out are required")
			}
			name, err := parseAKName(akNameHex)
			if err != nil {
				return fmt.Errorf("--ak-name: %w", err)
			}
			cert, err := storage.ReadFileMax(ekFile, maxCAFile)
			if err != nil {
				return fmt.Errorf("--ek-cert: %w", err)
			}
			ch, secret, err := evidence.NewChallenge(rand.Reader, cert, name)
			if errors.Is(err, evidence.ErrFIPSOnly) {
				return err // GODEBUG=fips140=only: not the certificate's fault
			}
			if err != nil {
				return fmt.Errorf("--ek-cert: %w", err)
			}
			data, err := ch.Marshal()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			parsed, _ := ch.Certificate()
			fmt.Fprintf(stderr, "audit-verify: wrote a credential challenge for attestation key %x to %s (EK certificate issued by %q); keep the secret below\n",
				name, out, parsed.Issuer.String())
			fmt.Fprintln(stdout, hex.EncodeToString(secret))
			return nil
		},
	}
	challenge.Flags().StringVar(&ekFile, "ek-cert", "", "the TPM's EK certificate (PEM or DER)")
	challenge.Flags().StringVar(&akNameHex, "ak-name", "", "the attestation key Name (hex) the log's TPM identity names")
	challenge.Flags().StringVar(&out, "out", "", "the challenge file to write, for the operator")
	cmd.AddCommand(challenge)
	return cmd
}

// errorf prints an error in the house style: "audit-verify: error: …".
func errorf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "audit-verify: error: "+format+"\n", args...)
}
