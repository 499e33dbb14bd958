// Package testkit generates the test vectors that the chain, storage and
// verify tests share: small real logs written by the ledger with a fixed key
// and clock, one that verifies for each shape of a good log and one per kind
// of tampering, each with the reason code the verifier must report.
//
// Vectors are generated, never stored in the repository: tests call
// Generate into a temporary directory, and `go run ./internal/testkit/cmd/vectors DIR`
// writes them out for people who want to look at them or test another
// verifier against them. The same inputs always give the same bytes.
package testkit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/witness"
)

// Vector is one generated log and what verifying it must say.
type Vector struct {
	Name    string
	Comment string
	// Expect is the verifier's reason code for the first failure, or "" when
	// the log must verify as intact.
	Expect string
	// Dir is the data directory.
	Dir string
	// KeyFile is the trusted public key (PEM).
	KeyFile string
	// TrustedFile, if not "", is a checkpoint the auditor kept.
	TrustedFile string
	// Witnesses, when set, are the verifier keys (cosignature/v1, as
	// litewitness prints them) of the witness policy the vector is also
	// verified with: every witness listed must have cosigned (the quorum
	// is all of them), within the default freshness bound.
	// WitnessExpect is the reason code the verifier must report with that
	// policy ("" intact); WitnessesFile holds the keys, one per line.
	Witnesses     []string
	WitnessExpect string
	WitnessesFile string
	// Sealer is what the sealer must do when it starts on Dir, holding
	// the key SealerKey (a Key label) and, when Counter is not 0, a TPM
	// counter at that value.
	Sealer    SealerOutcome
	SealerKey string
	Counter   uint64
}

// SealerOutcome is what the sealer's start-up check (ledger.Open) does with
// a vector's data directory.
type SealerOutcome string

// The sealer outcomes. The error outcomes name the ledger's error.
const (
	SealerOpens          SealerOutcome = "opens"           // starts, keeping every record
	SealerDiscards       SealerOutcome = "discards"        // starts after cutting the remains of a crash (kept aside)
	SealerCompletesPrune SealerOutcome = "completes_prune" // starts after removing what an interrupted prune left
	// Refusals.
	SealerUnauthenticatedTail SealerOutcome = "refuses: unauthenticated tail"    // ledger.ErrUnauthenticatedTail
	SealerTailInvalid         SealerOutcome = "refuses: tail invalid"            // ledger.ErrTailInvalid
	SealerKeyNotIntroduced    SealerOutcome = "refuses: key not introduced"      // ledger.ErrKeyNotIntroduced
	SealerHistoryRewritten    SealerOutcome = "refuses: history rewritten"       // ledger.ErrHistoryRewritten
	SealerShorterThanFile     SealerOutcome = "refuses: shorter than checkpoint" // ledger.ErrShorterThanCheckpoint
	SealerRollback            SealerOutcome = "refuses: rollback"                // ledger.ErrRollback
)

// Key returns the fixed test signing key with the given label, derived from
// the label so that vectors are reproducible.
func Key(label string) *signer.SoftwareSigner {
	seed := sha256.Sum256([]byte("audit-sealer testkit key: " + label))
	s, err := signer.NewSoftwareSignerFromKey("audit-sealer.test/"+label, ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		panic(err)
	}
	return s
}

// WitnessKey returns a fixed witness cosigning key with the given label,
// named "witness.test/<label>", derived from the label as Key does: for
// tests and examples of cosigned checkpoints that need no running witness.
func WitnessKey(label string) *witness.Signer {
	seed := sha256.Sum256([]byte("audit-sealer testkit witness key: " + label))
	s, err := witness.NewSigner("witness.test/"+label, ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		panic(err)
	}
	return s
}

// Keys returns the public halves of the test keys with the given labels,
// without their names: trusted whatever name a signature line gives them,
// as a key read from PEM is.
func Keys(labels ...string) signer.Verifiers {
	var vs signer.Verifiers
	for _, l := range labels {
		k := Key(l).Public()
		k.Name = ""
		vs = append(vs, k)
	}
	return vs
}

// Clock is a fake clock that advances by Step on every reading.
type Clock struct {
	T    time.Time
	Step time.Duration
}

// NewClock returns a clock starting at a fixed instant.
func NewClock() *Clock {
	return &Clock{T: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), Step: time.Millisecond}
}

// Now returns the current fake time and advances it.
func (c *Clock) Now() time.Time {
	t := c.T
	c.T = c.T.Add(c.Step)
	return t
}

// Generate writes every vector under root (which must exist) and returns
// them sorted by name.
func Generate(root string) ([]Vector, error) {
	var out []Vector
	all := append(generators[:len(generators):len(generators)], attackVectors...)
	for _, g := range append(all, witnessVectors...) {
		v, err := g.build(root, g.name)
		if err != nil {
			return nil, fmt.Errorf("testkit: vector %s: %w", g.name, err)
		}
		v.Name, v.Comment, v.Expect = g.name, g.comment, g.expect
		if g.witnessPolicy {
			for _, w := range TestWitnesses {
				v.Witnesses = append(v.Witnesses, WitnessKey(w).Verifier().String())
			}
			v.WitnessExpect = g.witnessExpect
			v.WitnessesFile = filepath.Join(filepath.Dir(v.Dir), "witnesses.txt")
			if err := writeWitnessesFile(v); err != nil {
				return nil, err
			}
		}
		v.Sealer, v.SealerKey, v.Counter = g.sealer, g.sealerKey, g.counter
		if v.Sealer == "" {
			v.Sealer = SealerOpens
		}
		if v.SealerKey == "" {
			v.SealerKey = "main"
		}
		if err := writeVectorFile(v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ByName indexes vectors by name.
func ByName(vs []Vector) map[string]Vector {
	m := make(map[string]Vector, len(vs))
	for _, v := range vs {
		m[v.Name] = v
	}
	return m
}

// writeVectorFile writes <vector>/vector.txt, the header of the vector in the
// style of age's testkit: "expect: …" and "comment: …" lines.
func writeVectorFile(v Vector) error {
	expect := v.Expect
	if expect == "" {
		expect = "intact"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "expect: %s\nsealer: %s (key %s", expect, v.Sealer, v.SealerKey)
	if v.Counter != 0 {
		fmt.Fprintf(&b, ", TPM counter %d", v.Counter)
	}
	fmt.Fprintf(&b, ")\ncomment: %s\nkey: %s\n", v.Comment, filepath.Base(v.KeyFile))
	if v.TrustedFile != "" {
		fmt.Fprintf(&b, "trusted checkpoint: %s\n", filepath.Base(v.TrustedFile))
	}
	if v.WitnessesFile != "" {
		wexpect := v.WitnessExpect
		if wexpect == "" {
			wexpect = "intact"
		}
		fmt.Fprintf(&b, "witnesses: %s (all of them must cosign, at most 1h before the log's last checkpoint)\nexpect with witnesses: %s\n", filepath.Base(v.WitnessesFile), wexpect)
	}
	return os.WriteFile(filepath.Join(filepath.Dir(v.Dir), "vector.txt"), []byte(b.String()), 0o600)
}
