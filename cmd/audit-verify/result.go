package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/strictjson"
)

// errMalformed is wrapped when the input of audit-verify proof is not a
// well-formed bundle or query result line (exit status 2: an input that is
// not well formed proves nothing, neither way).
var errMalformed = errors.New("malformed input")

// queryResult is one line of `audit-sealer query --json --proofs`: the
// fields a reader sees, and the bundle that proves them. Its fields are
// declared here rather than imported from package query so that the
// verifier depends on nothing but the format. It is parsed strictly
// (package strictjson): every member present once under its exact name, no
// other member, no duplicate member inside event either.
type queryResult struct {
	Seq      uint64          `json:"seq"`
	AuditID  string          `json:"audit_id"`
	Service  string          `json:"service"`
	Type     string          `json:"type"`
	Received time.Time       `json:"received"`
	Critical bool            `json:"critical"`
	Event    json.RawMessage `json:"event"`
	Proof    json.RawMessage `json:"proof"` // an inclusion bundle (chain.ParseInclusionBundle)
}

// parseProofInput reads either a bundle (audit-sealer prove) or a query
// result line that carries one (audit-sealer query --proofs), both
// strictly. For a result line it also returns the result, whose fields must
// then be the proven record's (checkResult).
func parseProofInput(data []byte) (*chain.InclusionBundle, *queryResult, error) {
	var top map[string]json.RawMessage
	if err := strictjson.Unmarshal(data, &top); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	// A bundle has a format member; a result line has seq and proof.
	_, format := top["format"]
	_, seq := top["seq"]
	_, proof := top["proof"]
	if format || !seq && !proof {
		b, err := chain.ParseInclusionBundle(data)
		return b, nil, err
	}
	var r queryResult
	if err := strictjson.Unmarshal(data, &r); err != nil {
		return nil, nil, fmt.Errorf("%w: query result line: %w", errMalformed, err)
	}
	b, err := chain.ParseInclusionBundle(r.Proof)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: query result line: proof: %w", errMalformed, err)
	}
	return b, &r, nil
}

// checkResult reports the first field of a query result line that is not
// what the proven record holds: a result whose fields were edited after the
// query fails even though its bundle is good. The event must be the
// record's canonical event byte for byte (audit-sealer query prints it
// unchanged), so that no reader can see in it anything the record does not
// say.
func checkResult(r *queryResult, rec *chain.Record) error {
	switch {
	case r.Seq != rec.Seq:
		return fmt.Errorf("the result says seq %d, the proof is for record %d", r.Seq, rec.Seq)
	case rec.Kind != chain.KindEvent && rec.Kind != chain.KindSealerEvent:
		return fmt.Errorf("the proven record %d is a %s, not an event", rec.Seq, rec.Kind)
	case r.AuditID != string(rec.AuditID):
		return fmt.Errorf("the result's audit_id %q is not the proven record's %q", r.AuditID, rec.AuditID)
	case r.Service != string(rec.Service):
		return fmt.Errorf("the result's service %q is not the proven record's %q", r.Service, rec.Service)
	case r.Type != string(rec.Type):
		return fmt.Errorf("the result's type %q is not the proven record's %q", r.Type, rec.Type)
	case r.Critical != event.IsCritical(string(rec.Type)):
		return fmt.Errorf("the result says critical %v, the proven record's type %s says %v", r.Critical, rec.Type, !r.Critical)
	case !r.Received.Equal(rec.Time()):
		return fmt.Errorf("the result's received time %s is not the proven record's %s", r.Received.Format(time.RFC3339Nano), rec.Time().Format(time.RFC3339Nano))
	}
	if !bytes.Equal(r.Event, rec.Event) {
		n := 0
		for n < len(r.Event) && n < len(rec.Event) && r.Event[n] == rec.Event[n] {
			n++
		}
		return fmt.Errorf("the result's event is not the proven record's canonical event: they differ from byte %d", n)
	}
	return nil
}
