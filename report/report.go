// Package report builds compliance reports from a sealed audit log for a
// time range: GDPR per customer (inferences, models accessed, exports,
// deletions, erasure and access requests) and SOC 2 (authentication
// successes and failures, authorization denials, security incidents by
// kind, integrity checks and their results). Each report first verifies
// the whole log offline with the trusted keys, and states which sequence
// range and which signed checkpoint it covers and whether the log verified;
// it is rendered as JSON or as a readable HTML page.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// Options say what to report on.
type Options struct {
	Dir      string
	Keys     signer.Verifiers
	From, To time.Time // the sealer's receive time, inclusive; zero = open
	Customer string    // GDPR: the customer_id reported on
}

// Coverage says what the report is based on.
type Coverage struct {
	From         time.Time                 `json:"from,omitzero"`
	To           time.Time                 `json:"to,omitzero"`
	FirstSeq     *uint64                   `json:"first_seq,omitempty"` // first and last record in the range
	LastSeq      *uint64                   `json:"last_seq,omitempty"`
	Records      uint64                    `json:"records_in_range"`
	Checkpoint   *verify.CheckpointSummary `json:"checkpoint"`
	Verdict      string                    `json:"verdict"` // the log's verification verdict
	FirstFailure *verify.Failure           `json:"first_failure,omitempty"`
	GeneratedAt  time.Time                 `json:"generated_at"`
	SealedSize   uint64                    `json:"sealed_size"`
	// From the verification's evidence report (FORMAT.md §7.1): the
	// period the whole log covers, its key history, and the exceptions an
	// auditor tests for completeness, those of the report's period (by
	// record time), with their counts by code.
	LogPeriod           *verify.Period       `json:"log_period,omitempty"`
	KeyHistory          []verify.KeyUse      `json:"key_history,omitempty"`
	Completeness        *verify.Completeness `json:"completeness,omitempty"`
	Exceptions          []verify.Exception   `json:"exceptions"`
	ExceptionCounts     map[string]int       `json:"exception_counts"`
	ExceptionsTruncated bool                 `json:"exceptions_truncated,omitempty"`
}

// MaxListed bounds each list of records in a report (critical events,
// exports, deletions, requests, a customer's records): a report on a large
// log stays small and its memory flat, and the full list is one query away
// (the report's Listed counts say how many there are in all).
const MaxListed = 1000

// Listing is a bounded list of records: the first MaxListed in sequence
// order, and how many the period holds in all.
type Listing struct {
	Total     int     `json:"total"`
	Entries   []Entry `json:"entries"`
	Truncated bool    `json:"truncated"` // Total > len(Entries)
}

func newListing() Listing { return Listing{Entries: []Entry{}} }

func (l *Listing) add(m *query.Match) {
	l.Total++
	if len(l.Entries) < MaxListed {
		l.Entries = append(l.Entries, entry(m))
	} else {
		l.Truncated = true
	}
}

// Entry is one record listed in a report.
type Entry struct {
	Seq      uint64          `json:"seq"`
	AuditID  string          `json:"audit_id"`
	Received time.Time       `json:"received"`
	Service  string          `json:"service"`
	Type     string          `json:"type"`
	Event    json.RawMessage `json:"event"`
}

// GDPRReport is the GDPR report for one customer.
type GDPRReport struct {
	Kind            string   `json:"report"`
	Customer        string   `json:"customer_id"`
	Coverage        Coverage `json:"coverage"`
	Inferences      int      `json:"inferences"`
	TokensProcessed uint64   `json:"tokens_processed"`
	ModelsAccessed  []string `json:"models_accessed"`
	Exports         Listing  `json:"exports"`
	Deletions       Listing  `json:"deletions"`
	ErasureRequests Listing  `json:"erasure_requests"`
	AccessRequests  Listing  `json:"access_requests"`
	Records         Listing  `json:"records"`
}

// SOC2Report is the SOC 2 (CC6, CC7.2) report.
type SOC2Report struct {
	Kind            string         `json:"report"`
	Coverage        Coverage       `json:"coverage"`
	AuthSuccesses   map[string]int `json:"authentication_successes_by_service"`
	AuthFailures    map[string]int `json:"authentication_failures_by_service"`
	AuthzDenials    int            `json:"authorization_denials"`
	IncidentsByKind map[string]int `json:"security_incidents_by_kind"`
	IntegrityChecks map[string]int `json:"integrity_checks_by_result"`
	CriticalEvents  Listing        `json:"critical_events"`
	SealerEvents    map[string]int `json:"sealer_events"`
}

// scanCovered runs query.Scan up to the checkpoint the verification ended
// on: records sealed after it (the log may grow while the report is built)
// are not covered by the checkpoint the report names, so they are left out
// rather than reported as verified. The scan trusts that checkpoint (the
// verification followed the key history to it, so a log whose key was
// rotated since the key the report was given is covered too) and checks
// again what it reads: a log changed since its verification fails the
// report (an error wrapping verify.ErrTampered). A log that did not
// verify (tampered) is not read: the report lists nothing from it.
func scanCovered(ctx context.Context, o Options, cov *Coverage, f query.Filter, fn func(*query.Match) error) error {
	var size uint64
	if cov.Checkpoint != nil && cov.Verdict != string(verify.Tampered) {
		size = cov.Checkpoint.Size
	}
	if size == 0 {
		cov.SealedSize = 0
		return nil // no verified checkpoint: nothing is covered
	}
	pin, err := cov.Checkpoint.Pin()
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	f.Before = size
	if _, err := query.Scan(ctx, o.Dir, verify.Trust{Keys: o.Keys, Pinned: pin}, f, fn); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	cov.SealedSize = size
	return nil
}

// check verifies the log and returns the coverage skeleton.
func check(ctx context.Context, o Options) (Coverage, error) {
	c := Coverage{From: o.From, To: o.To, GeneratedAt: time.Now().UTC()}
	rep, err := verify.Dir(ctx, o.Dir, verify.Options{Keys: o.Keys})
	if err != nil {
		return c, fmt.Errorf("report: %w", err)
	}
	c.Verdict, c.FirstFailure, c.Checkpoint = string(rep.Verdict), rep.FirstFailure, rep.LastCheckpoint
	c.LogPeriod, c.KeyHistory, c.Completeness = rep.Period, rep.KeyHistory, rep.Completeness
	c.Exceptions, c.ExceptionCounts, c.ExceptionsTruncated = []verify.Exception{}, map[string]int{}, rep.ExceptionsTruncated
	for _, e := range rep.Exceptions {
		if (o.From.IsZero() || !e.Time.Before(o.From)) && (o.To.IsZero() || !e.Time.After(o.To)) {
			c.Exceptions = append(c.Exceptions, e)
			c.ExceptionCounts[e.Code]++
		}
	}
	return c, nil
}

func (c *Coverage) add(m *query.Match) {
	if c.FirstSeq == nil {
		s := m.Seq
		c.FirstSeq = &s
	}
	s := m.Seq
	c.LastSeq = &s
	c.Records++
}

func entry(m *query.Match) Entry {
	return Entry{Seq: m.Seq, AuditID: m.AuditID, Received: m.Received, Service: m.Service, Type: m.Type, Event: m.Event}
}

func decode(m *query.Match) map[string]any {
	var f map[string]any
	json.Unmarshal(m.Event, &f)
	return f
}

// GDPR builds the report for o.Customer.
func GDPR(ctx context.Context, o Options) (*GDPRReport, error) {
	if o.Customer == "" {
		return nil, fmt.Errorf("report: a GDPR report needs a customer id")
	}
	cov, err := check(ctx, o)
	if err != nil {
		return nil, err
	}
	r := &GDPRReport{Kind: "gdpr", Customer: o.Customer, Coverage: cov, ModelsAccessed: []string{},
		Exports: newListing(), Deletions: newListing(), ErasureRequests: newListing(), AccessRequests: newListing(), Records: newListing()}
	models := map[string]bool{}
	err = scanCovered(ctx, o, &r.Coverage, query.Filter{From: o.From, To: o.To, Entity: o.Customer}, func(m *query.Match) error {
		f := decode(m)
		if f["customer_id"] != o.Customer {
			return nil
		}
		r.Coverage.add(m)
		r.Records.add(m)
		switch m.Type {
		case "data.inference_executed":
			r.Inferences++
			if n, ok := f["tokens_processed"].(float64); ok {
				r.TokensProcessed += uint64(n)
			}
			if s, ok := f["model_ref"].(string); ok {
				models[s] = true
			}
		case "data.model_accessed":
			if s, ok := f["model_ref"].(string); ok {
				models[s] = true
			}
		case "compliance.gdpr_data_export":
			r.Exports.add(m)
		case "data.deleted":
			r.Deletions.add(m)
		case "compliance.gdpr_right_to_erasure":
			r.ErasureRequests.add(m)
		case "compliance.gdpr_data_access_request":
			r.AccessRequests.add(m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for m := range models {
		r.ModelsAccessed = append(r.ModelsAccessed, m)
	}
	sort.Strings(r.ModelsAccessed)
	return r, nil
}

// SOC2 builds the SOC 2 report.
func SOC2(ctx context.Context, o Options) (*SOC2Report, error) {
	cov, err := check(ctx, o)
	if err != nil {
		return nil, err
	}
	r := &SOC2Report{Kind: "soc2", Coverage: cov, AuthSuccesses: map[string]int{}, AuthFailures: map[string]int{},
		IncidentsByKind: map[string]int{}, IntegrityChecks: map[string]int{}, CriticalEvents: newListing(), SealerEvents: map[string]int{}}
	err = scanCovered(ctx, o, &r.Coverage, query.Filter{From: o.From, To: o.To, Sealer: true}, func(m *query.Match) error {
		r.Coverage.add(m)
		switch {
		case m.Type == "auth.success":
			r.AuthSuccesses[m.Service]++
		case m.Type == "auth.failure":
			r.AuthFailures[m.Service]++
		case m.Type == "authz.denied":
			r.AuthzDenials++
		case m.Type == "seal.verified":
			r.IntegrityChecks["passed"]++
		case m.Type == "seal.verification_failed" || m.Type == "security.integrity_violation":
			r.IntegrityChecks["failed"]++
		}
		if len(m.Type) > 9 && m.Type[:9] == "security." {
			r.IncidentsByKind[m.Type]++
		}
		if len(m.Type) > 6 && m.Type[:6] == "audit." {
			r.SealerEvents[m.Type]++
		}
		if m.Critical {
			r.CriticalEvents.add(m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}
