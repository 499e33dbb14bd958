package witness

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadPolicy is wrapped by the errors of NewPolicy.
var ErrBadPolicy = errors.New("witness: bad witness policy")

// Policy is the witnesses an auditor trusts and how many of them must
// cosign a checkpoint for it to count as witnessed (FORMAT.md §5.6). The
// freshness of cosignatures is the caller's to judge: a Policy only says
// which cosignatures are valid and by whom.
type Policy struct {
	witnesses []*Verifier
	quorum    int
}

// NewPolicy returns the policy of the witnesses ws with the given quorum (0:
// all of them). It refuses an empty list, a witness listed twice (the same
// key, or the same name and key ID), and a quorum above the number of
// witnesses or below 0.
func NewPolicy(ws []*Verifier, quorum int) (*Policy, error) {
	if len(ws) == 0 {
		return nil, fmt.Errorf("%w: no witness listed", ErrBadPolicy)
	}
	for i, w := range ws {
		if w == nil {
			return nil, fmt.Errorf("%w: witness %d is nil", ErrBadPolicy, i+1)
		}
		for _, o := range ws[:i] {
			if o.key.Equal(w.key) || (o.name == w.name && o.hash == w.hash) {
				return nil, fmt.Errorf("%w: witness %s is listed twice", ErrBadPolicy, w)
			}
		}
	}
	if quorum < 0 || quorum > len(ws) {
		return nil, fmt.Errorf("%w: quorum %d, want 1 to %d (the witnesses listed), or 0 for all", ErrBadPolicy, quorum, len(ws))
	}
	if quorum == 0 {
		quorum = len(ws)
	}
	return &Policy{witnesses: append([]*Verifier(nil), ws...), quorum: quorum}, nil
}

// Witnesses returns the policy's witnesses, in the order listed.
func (p *Policy) Witnesses() []*Verifier { return append([]*Verifier(nil), p.witnesses...) }

// Quorum returns how many distinct witnesses must cosign.
func (p *Policy) Quorum() int { return p.quorum }

// String describes the policy: "2 of witness.example/a, witness.example/b".
func (p *Policy) String() string {
	names := make([]string, len(p.witnesses))
	for i, w := range p.witnesses {
		names[i] = w.name
	}
	return fmt.Sprintf("%d of %s", p.quorum, strings.Join(names, ", "))
}

// Lookup returns the index of the listed witness whose key name and key ID
// a cosignature line names, or -1.
func (p *Policy) Lookup(c Cosignature) int {
	for i, w := range p.witnesses {
		if w.name == c.Name && w.hash == c.KeyHash {
			return i
		}
	}
	return -1
}

// Cosigner is a valid cosignature by a listed witness: Witness is its index
// in the policy.
type Cosigner struct {
	Witness int
	Cosignature
}

// Cosigners checks the cosignatures cs of the checkpoint note text and
// returns the valid ones by listed witnesses, at most one per witness (its
// latest, when it cosigned the same text more than once), in the order
// listed. Lines by keys the policy does not list are ignored; lines that
// name a listed key but do not verify are returned in bad (a note may carry
// them: they count for nothing).
func (p *Policy) Cosigners(text []byte, cs []Cosignature) (valid []Cosigner, bad []Cosignature) {
	best := make([]*Cosignature, len(p.witnesses))
	for i := range cs {
		c := &cs[i]
		w := p.Lookup(*c)
		if w < 0 {
			continue
		}
		if p.witnesses[w].VerifyCosignature(text, *c) != nil {
			bad = append(bad, *c)
			continue
		}
		if best[w] == nil || c.Timestamp > best[w].Timestamp {
			best[w] = c
		}
	}
	for i, c := range best {
		if c != nil {
			valid = append(valid, Cosigner{Witness: i, Cosignature: *c})
		}
	}
	return valid, bad
}
