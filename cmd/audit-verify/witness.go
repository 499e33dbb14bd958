package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
	"github.com/audit-sealer/audit-sealer/witness"
)

// maxWitnessFile bounds a file of witness verifier keys (one key is about
// 80 bytes).
const maxWitnessFile = 64 << 10

// witnessFlags are the witness policy's flags (FORMAT.md §5.6, §7).
type witnessFlags struct {
	keys   []string
	quorum int
	maxAge time.Duration
}

// add declares the flags on cmd; withAge adds --witness-max-age.
func (w *witnessFlags) add(cmd *cobra.Command, withAge bool) {
	cmd.Flags().StringArrayVar(&w.keys, "witness", nil, "a witness you trust: its cosignature/v1 note verifier key (NAME+HASH+KEY, as litewitness prints it), or @FILE (or a FILE) of such keys one per line; repeatable")
	cmd.Flags().IntVar(&w.quorum, "witness-quorum", 0, "how many of the --witness witnesses must have cosigned (0: all of them)")
	if withAge {
		cmd.Flags().DurationVar(&w.maxAge, "witness-max-age", verify.DefaultWitnessMaxAge, "a cosignature counts only if made at most this long before the log's last checkpoint (0: no bound)")
	}
}

// policy returns the witness policy the flags give, or nil without
// --witness. A key that does not parse, a witness listed twice or a quorum
// out of range is refused, naming the problem.
func (w *witnessFlags) policy(cmd *cobra.Command) (*verify.WitnessPolicy, error) {
	if len(w.keys) == 0 {
		for _, f := range []string{"witness-quorum", "witness-max-age"} {
			if cmd.Flags().Lookup(f) != nil && cmd.Flags().Changed(f) {
				return nil, fmt.Errorf("--%s needs --witness: name the witnesses you trust", f)
			}
		}
		return nil, nil
	}
	var ws []*witness.Verifier
	for _, arg := range w.keys {
		got, err := readWitnessKeys(arg)
		if err != nil {
			return nil, fmt.Errorf("--witness %s: %w", arg, err)
		}
		ws = append(ws, got...)
	}
	if w.maxAge < 0 {
		return nil, fmt.Errorf("--witness-max-age %s: want a positive duration, or 0 for no bound", w.maxAge)
	}
	p, err := witness.NewPolicy(ws, w.quorum)
	if err != nil {
		return nil, fmt.Errorf("--witness, --witness-quorum: %w", err)
	}
	return &verify.WitnessPolicy{Policy: p, MaxAge: w.maxAge}, nil
}

// readWitnessKeys reads one --witness value: a verifier key, or @FILE, or
// a FILE, holding verifier keys one per line (blank lines and lines
// starting with # are skipped).
func readWitnessKeys(arg string) ([]*witness.Verifier, error) {
	path, isFile := strings.CutPrefix(arg, "@")
	if !isFile {
		v, kerr := witness.ParseVerifierKey(arg)
		if kerr == nil {
			return []*witness.Verifier{v}, nil
		}
		if _, err := os.Stat(arg); err != nil {
			return nil, kerr // no such file: it was meant as a key
		}
	}
	data, err := storage.ReadFileMax(path, maxWitnessFile)
	if err != nil {
		return nil, err
	}
	var ws []*witness.Verifier
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := witness.ParseVerifierKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		ws = append(ws, v)
	}
	if len(ws) == 0 {
		return nil, errors.New("the file holds no witness verifier key")
	}
	return ws, nil
}

// printWitnessing prints the witness part of the text report.
func printWitnessing(w io.Writer, rep *verify.Report) {
	wr := rep.Witnessing
	if wr == nil {
		return
	}
	fmt.Fprintf(w, "witnesses: size %d of %d witnessed by the quorum of %d (%d records after it), freshness %s\n",
		wr.WitnessedSize, wr.LogSize, wr.Quorum, wr.Unwitnessed, wr.MaxAge)
	for _, s := range wr.Witnesses {
		if s.Latest == nil {
			fmt.Fprintf(w, "witness %s: no cosignature of a checkpoint that agrees with the log\n", s.Name)
			continue
		}
		l := s.Latest
		where := "the " + l.Source + " file"
		switch {
		case l.Seq != nil:
			where = fmt.Sprintf("record %d", *l.Seq)
		case l.Source == "trusted":
			where = "your --checkpoint"
		}
		fresh := "fresh"
		if !l.Fresh {
			fresh = "too old"
		}
		fmt.Fprintf(w, "witness %s: cosigned size %d at %s (%s; %s), %d cosignatures\n",
			s.Name, l.Size, l.CosignedAt.Format(time.RFC3339), where, fresh, s.Cosignatures)
	}
}
