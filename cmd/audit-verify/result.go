package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
)

// queryResult is one line of `audit-sealer query --json --proofs`: the
// fields a reader sees, and the bundle that proves them. Its fields are
// declared here rather than imported from package query so that the
// verifier depends on nothing but the format.
type queryResult struct {
	Seq      *uint64               `json:"seq"`
	AuditID  string                `json:"audit_id"`
	Service  string                `json:"service"`
	Type     string                `json:"type"`
	Received time.Time             `json:"received"`
	Critical bool                  `json:"critical"`
	Event    json.RawMessage       `json:"event"`
	Proof    chain.InclusionBundle `json:"proof"`
}

// parseProofInput reads either a bundle (audit-sealer prove) or a query
// result line that carries one (audit-sealer query --proofs). For a result
// line it also returns the result, whose fields must then be the proven
// record's (checkResult).
func parseProofInput(data []byte) (*chain.InclusionBundle, *queryResult, error) {
	var probe struct {
		Proof json.RawMessage `json:"proof"`
		Seq   json.RawMessage `json:"seq"`
	}
	if json.Unmarshal(data, &probe) != nil || probe.Seq == nil || len(probe.Proof) == 0 || probe.Proof[0] != '{' {
		b, err := chain.ParseInclusionBundle(data)
		return b, nil, err
	}
	b, err := chain.ParseInclusionBundle(probe.Proof)
	if err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r queryResult
	if err := dec.Decode(&r); err != nil {
		return nil, nil, fmt.Errorf("query result line: %w", err)
	}
	return b, &r, nil
}

// checkResult reports the first field of a query result line that is not
// what the proven record holds: a result whose fields were edited after the
// query fails even though its bundle is good.
func checkResult(r *queryResult, rec *chain.Record) error {
	switch {
	case *r.Seq != rec.Seq:
		return fmt.Errorf("the result says seq %d, the proof is for record %d", *r.Seq, rec.Seq)
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
	same, err := sameJSON(r.Event, rec.Event)
	if err != nil {
		return fmt.Errorf("the result's event: %w", err)
	}
	if !same {
		return fmt.Errorf("the result's event is not the proven record's event")
	}
	return nil
}

// sameJSON compares two JSON values by meaning (numbers exactly): the query
// printed the record's event through encoding/json, which may escape
// characters differently from the canonical bytes in the record.
func sameJSON(a, b []byte) (bool, error) {
	decode := func(data []byte) (any, error) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		return v, err
	}
	va, err := decode(a)
	if err != nil {
		return false, err
	}
	vb, err := decode(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(va, vb), nil
}
