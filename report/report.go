// Package report builds compliance reports from a sealed audit log for a
// period: SOC 2 (mapped to the Trust Services Criteria it evidences),
// PCI DSS v4.0 Requirement 10, ISO/IEC 27001:2022 A.8.15 (logging), and
// GDPR per customer (inferences, models accessed, exports, deletions,
// erasure and access requests, and every record that names the person).
//
// Each report first verifies the whole log offline with the trusted keys
// (package verify), and states whether it verified, which sequence range
// and which signed checkpoint it covers, and the verification's evidence:
// the key history, the sealer's runs and the exceptions of the period
// (starts without a clean stop, unanchored stretches, shed and dropped
// events, operator overrides), to which it adds what only a reading of the
// period shows: when the sealer was not running, and the parts of the
// period the log does not cover. It then reads the records of the period
// trusting the verified checkpoint and checking them again, and counts
// them per criterion. It is rendered as JSON or as one self-contained HTML
// page (Render); the sealer builds it for a reader over its socket and
// records its SHA-256 in the chain, which makes it tamper-evident
// (FORMAT.md §10).
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// Options say what to report on.
type Options struct {
	Dir      string
	Keys     signer.Verifiers
	From, To time.Time // the sealer's receive time, inclusive; zero = open
	Customer string    // GDPR: the customer (data subject) reported on
	// ReadThrough says how the log is read: ReadBySealer when the sealer
	// builds the report for a reader (the read is recorded in the chain
	// and the report's SHA-256 with it), else the files were read
	// directly ("" or ReadFromFiles).
	ReadThrough string
	// Workers bounds the verification's goroutines (0: every core); the
	// sealer uses 1, beside ingest.
	Workers int
	// LastKey, if set, is the key ID of the key the log's last checkpoint
	// must be signed by (HistoryKeys): a log that verifies but ends with
	// another key's checkpoint is reported unverifiable (untrusted_key).
	LastKey string
	// Live says the log is being written (the sealer builds the report):
	// records after its last checkpoint are the sealer's own, not sealed
	// yet, and a verification that finds only that (unsealed_tail,
	// unauthenticated_tail, anchor_pending) leaves the records the report
	// covers intact; they are listed as the exception after_checkpoint.
	Live bool
	// Now is the time the report is generated (default time.Now).
	Now func() time.Time
}

// How a report read the log (Coverage.ReadThrough).
const (
	ReadBySealer  = "sealer"
	ReadFromFiles = "files"
)

// ErrUsage is wrapped by errors about what was asked (an unknown kind or
// format, a GDPR report without a customer): nothing was read.
var ErrUsage = errors.New("report: bad request")

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
	// ReadThrough is ReadBySealer or ReadFromFiles (Options.ReadThrough).
	ReadThrough string `json:"read_through"`
	// LiveTail, for a live log (Options.Live), is what the verification
	// found after the verified checkpoint: the sealer's records not
	// sealed yet, which the report does not cover (after_checkpoint).
	LiveTail *verify.Failure `json:"live_tail,omitempty"`
	// untrusted: the verified checkpoint is not the one Options.LastKey
	// signed, so the records it covers are not read.
	untrusted bool
	// From the verification's evidence report (FORMAT.md §7.1): the
	// period the whole log covers, its key history, and the exceptions an
	// auditor tests for completeness, those of the report's period (by
	// record time), with their counts by code; and the exceptions the
	// report finds in its period (Exception codes sealer_down,
	// period_before_log, after_checkpoint), merged in record order.
	LogPeriod           *verify.Period       `json:"log_period,omitempty"`
	KeyHistory          []verify.KeyUse      `json:"key_history,omitempty"`
	Completeness        *verify.Completeness `json:"completeness,omitempty"`
	Anchors             int                  `json:"anchors"`
	LastAnchor          *verify.AnchorRef    `json:"last_anchor,omitempty"`
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

// Entry is one record listed in a report: the record, and a summary of
// its event for a reader (Summarize).
type Entry struct {
	Seq      uint64          `json:"seq"`
	AuditID  string          `json:"audit_id"`
	Received time.Time       `json:"received"`
	Service  string          `json:"service"`
	Type     string          `json:"type"`
	Summary  string          `json:"summary"`
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
	// Records are the records that name the customer in any identity
	// field (query.SubjectFields): what a subject access request returns.
	Records Listing `json:"records"`
	// IdentityFields are the fields searched for Records.
	IdentityFields []string `json:"identity_fields"`
}

// SOC2Report is the SOC 2 report: the Trust Services Criteria the log
// evidences (CC6.1, CC6.2, CC6.3, CC6.6, CC6.8, CC7.2, CC7.3, CC8.1) and
// the counts behind them.
type SOC2Report struct {
	Kind            string         `json:"report"`
	Coverage        Coverage       `json:"coverage"`
	Criteria        []Criterion    `json:"criteria"`
	AuthSuccesses   map[string]int `json:"authentication_successes_by_service"`
	AuthFailures    map[string]int `json:"authentication_failures_by_service"`
	AuthzDenials    int            `json:"authorization_denials"`
	IncidentsByKind map[string]int `json:"security_incidents_by_kind"`
	IntegrityChecks map[string]int `json:"integrity_checks_by_result"`
	CriticalEvents  Listing        `json:"critical_events"`
	SealerEvents    map[string]int `json:"sealer_events"`
	RecordsByType   map[string]int `json:"records_by_type"`
	LogReads        []LogReads     `json:"log_reads"`
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
	if cov.Checkpoint != nil && cov.Verdict != string(verify.Tampered) && !cov.untrusted {
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
	if o.Workers > 0 {
		f.Workers = min(o.Workers, 4)
	}
	if _, err := query.Scan(ctx, o.Dir, verify.Trust{Keys: o.Keys, Pinned: pin}, f, fn); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	cov.SealedSize = size
	return nil
}

// check verifies the log and returns the coverage skeleton.
func check(ctx context.Context, o Options) (Coverage, *verify.Report, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	through := o.ReadThrough
	if through == "" {
		through = ReadFromFiles
	}
	c := Coverage{From: o.From, To: o.To, GeneratedAt: now().UTC(), ReadThrough: through}
	rep, err := verify.Dir(ctx, o.Dir, verify.Options{Keys: o.Keys, Workers: o.Workers})
	if err != nil {
		return c, nil, fmt.Errorf("report: %w", err)
	}
	c.Verdict, c.FirstFailure, c.Checkpoint = string(rep.Verdict), rep.FirstFailure, rep.LastCheckpoint
	if cp := rep.LastCheckpoint; o.LastKey != "" && cp != nil && cp.KeyID != o.LastKey && rep.Verdict != verify.Tampered {
		c.Verdict, c.FirstFailure = string(verify.Unverifiable), &verify.Failure{Reason: verify.ReasonUntrustedKey,
			Detail: fmt.Sprintf("the log's last checkpoint (size %d) is signed by key %s, not by the key %s whose history the verification followed", cp.Size, cp.KeyID, o.LastKey)}
		c.untrusted = true // nothing of it is read
	}
	if f := rep.FirstFailure; o.Live && rep.Verdict == verify.Incomplete && f != nil &&
		(f.Reason == verify.ReasonUnsealedTail || f.Reason == verify.ReasonUnauthenticatedTail || f.Reason == verify.ReasonAnchorPending) {
		// The sealer's own records, in flight: not a fault of the
		// records up to the checkpoint the report covers.
		c.Verdict, c.FirstFailure, c.LiveTail = string(verify.Intact), nil, f
	}
	c.LogPeriod, c.KeyHistory, c.Completeness = rep.Period, rep.KeyHistory, rep.Completeness
	if rep.Anchoring != nil {
		c.Anchors, c.LastAnchor = rep.Anchoring.Anchors, rep.Anchoring.Last
	}
	c.Exceptions, c.ExceptionCounts, c.ExceptionsTruncated = []verify.Exception{}, map[string]int{}, rep.ExceptionsTruncated
	for _, e := range rep.Exceptions {
		if c.inPeriod(e.Time) {
			c.Exceptions = append(c.Exceptions, e)
			c.ExceptionCounts[e.Code]++
		}
	}
	return c, rep, nil
}

// HistoryKeys returns the keys to verify the log in dir with for the
// holder of its current key (the sealer, or root with the sealer's
// configuration): the key that signed the log's first checkpoint (the
// root of its key history, found among current, the candidates and the
// keys the log introduced: the log does not hold its first key, so after
// a rotation the candidates must, as the keys on the sealer's token do
// until the old key is destroyed), from which the verification follows
// the key endorsements, and current. Set Options.LastKey to current's ID
// with them: what makes the log trusted is that current signed its last
// checkpoint, whose tree holds every record. When the root is not found
// (verify.ErrRootUnknown), the keys are current alone, and a log that
// did not start with it verifies as unverifiable (untrusted_key).
func HistoryKeys(dir string, current signer.PublicKey, candidates signer.Verifiers) (signer.Verifiers, error) {
	// Each key is trusted by itself, whatever name a signature line gives it.
	current.Name = ""
	keys := signer.Verifiers{current}
	all := signer.Verifiers{current}
	for _, k := range candidates {
		k.Name = ""
		all = append(all, k)
	}
	h, err := verify.KeyHistoryOf(dir, all)
	if errors.Is(err, verify.ErrRootUnknown) {
		return keys, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	root, err := signer.ParsePublicKey([]byte(h.Root))
	if err != nil {
		return nil, fmt.Errorf("report: the key history's root: %w", err)
	}
	if !root.Equal(current) {
		keys = append(signer.Verifiers{root}, keys...)
	}
	return keys, nil
}

// inPeriod reports whether t is in the report's period.
func (c *Coverage) inPeriod(t time.Time) bool {
	return (c.From.IsZero() || !t.Before(c.From)) && (c.To.IsZero() || !t.After(c.To))
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
	return Entry{Seq: m.Seq, AuditID: m.AuditID, Received: m.Received, Service: m.Service, Type: m.Type, Summary: Summarize(m.Event), Event: m.Event}
}

func decode(m *query.Match) map[string]any {
	var f map[string]any
	json.Unmarshal(m.Event, &f)
	return f
}

// LogReads counts the reads of the log through the sealer in the period
// (audit.log_read) by one uid and operation.
type LogReads struct {
	UID       uint32 `json:"uid"`
	Operation string `json:"operation"`
	Reads     int    `json:"reads"`
}

// tally is what one reading of the period counts for every report.
type tally struct {
	types    map[string]int
	services map[string]map[string]int // type → service → records
	reads    map[[2]string]int         // uid, operation → reads
	lastRun  *runEnd                   // how the last run seen ended, until the next start
	settings map[string]string         // of the last audit.sealer_started read
}

// runEnd is the end of a sealer run: its last record, and whether it was
// its clean stop.
type runEnd struct {
	seq     uint64
	at      time.Time
	stopped bool
}

// collect verifies the log and reads every record of the period (the
// sealer's own events too), counting them (tally), finding the periods
// the sealer was not running, and passing each record to fn.
func collect(ctx context.Context, o Options, fn func(*query.Match)) (Coverage, *tally, error) {
	cov, rep, err := check(ctx, o)
	if err != nil {
		return cov, nil, err
	}
	t := &tally{types: map[string]int{}, services: map[string]map[string]int{}, reads: map[[2]string]int{}}
	var found []verify.Exception
	err = scanCovered(ctx, o, &cov, query.Filter{From: o.From, To: o.To, Sealer: true}, func(m *query.Match) error {
		cov.add(m)
		t.types[m.Type]++
		if t.services[m.Type] == nil {
			t.services[m.Type] = map[string]int{}
		}
		t.services[m.Type][m.Service]++
		switch m.Type {
		case event.TypeLogRead:
			var lr struct {
				UID       uint32 `json:"uid"`
				Operation string `json:"operation"`
			}
			json.Unmarshal(m.Event, &lr)
			t.reads[[2]string{fmt.Sprint(lr.UID), lr.Operation}]++
		case event.TypeSealerStarted:
			if e := t.lastRun; e != nil {
				found = append(found, downtime(e, m))
			}
			var st struct {
				Settings map[string]string `json:"settings"`
			}
			json.Unmarshal(m.Event, &st)
			t.settings = st.Settings
		}
		switch m.Type {
		case event.TypeKeyIntroduced, event.TypeAnchorState, event.TypeTailDiscarded, event.TypeTPMIdentity:
			// Written as a run starts, before its audit.sealer_started
			// (also later in a run, where they change nothing here).
		default:
			t.lastRun = &runEnd{seq: m.Seq, at: m.Received, stopped: m.Type == event.TypeSealerStopped}
		}
		if fn != nil {
			fn(m)
		}
		return nil
	})
	if err != nil {
		return cov, nil, err
	}
	if t.settings == nil && cov.SealedSize > 0 {
		// The period holds no start: the settings in force are those of
		// the last start before it.
		t.settings, err = lastSettings(ctx, o, &cov)
		if err != nil {
			return cov, nil, err
		}
	}
	found = append(found, coverageGaps(&cov, rep.Unsealed+rep.Unauthenticated)...)
	cov.merge(found)
	return cov, t, nil
}

// lastSettings returns the settings of the last audit.sealer_started the
// verified checkpoint covers before the period's end (nil for none).
func lastSettings(ctx context.Context, o Options, cov *Coverage) (map[string]string, error) {
	var settings map[string]string
	err := scanCovered(ctx, o, cov, query.Filter{To: o.To, Sealer: true, Types: []string{event.TypeSealerStarted}}, func(m *query.Match) error {
		var st struct {
			Settings map[string]string `json:"settings"`
		}
		json.Unmarshal(m.Event, &st)
		settings = st.Settings
		return nil
	})
	return settings, err
}

// merge adds the exceptions the report found to those of the
// verification, in record order.
func (c *Coverage) merge(found []verify.Exception) {
	for _, e := range found {
		c.Exceptions = append(c.Exceptions, e)
		c.ExceptionCounts[e.Code]++
	}
	sort.SliceStable(c.Exceptions, func(i, j int) bool { return c.Exceptions[i].Seq < c.Exceptions[j].Seq })
}

// logReads lists the reads counted, by uid and operation.
func (t *tally) logReads() []LogReads {
	out := []LogReads{}
	for k, n := range t.reads {
		var uid uint32
		fmt.Sscan(k[0], &uid)
		out = append(out, LogReads{UID: uid, Operation: k[1], Reads: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UID != out[j].UID {
			return out[i].UID < out[j].UID
		}
		return out[i].Operation < out[j].Operation
	})
	return out
}

// count sums the records of the types given (a type may be "prefix.*").
func (t *tally) count(types ...string) int {
	n := 0
	for typ, c := range t.types {
		for _, p := range types {
			if prefix, ok := strings.CutSuffix(p, ".*"); ok && strings.HasPrefix(typ, prefix+".") || typ == p {
				n += c
				break
			}
		}
	}
	return n
}

// GDPR builds the report for o.Customer: what the log records of the
// processing of the customer's data (by customer_id), and every record
// that names the customer in any identity field.
func GDPR(ctx context.Context, o Options) (*GDPRReport, error) {
	if o.Customer == "" {
		return nil, fmt.Errorf("%w: a GDPR report needs a customer id", ErrUsage)
	}
	cov, _, err := collect(ctx, o, nil)
	if err != nil {
		return nil, err
	}
	r := &GDPRReport{Kind: KindGDPR, Customer: o.Customer, Coverage: cov, ModelsAccessed: []string{}, IdentityFields: query.SubjectFields,
		Exports: newListing(), Deletions: newListing(), ErasureRequests: newListing(), AccessRequests: newListing(), Records: newListing()}
	models := map[string]bool{}
	err = scanCovered(ctx, o, &r.Coverage, query.Filter{From: o.From, To: o.To, Subject: o.Customer}, func(m *query.Match) error {
		r.Records.add(m)
		f := decode(m)
		if f["customer_id"] != o.Customer {
			return nil
		}
		switch m.Type {
		case event.TypeInferenceExecuted:
			r.Inferences++
			if n, ok := f["tokens_processed"].(float64); ok {
				r.TokensProcessed += uint64(n)
			}
			if s, ok := f["model_ref"].(string); ok {
				models[s] = true
			}
		case event.TypeModelAccessed:
			if s, ok := f["model_ref"].(string); ok {
				models[s] = true
			}
		case event.TypeGDPRDataExport:
			r.Exports.add(m)
		case event.TypeDataDeleted:
			r.Deletions.add(m)
		case event.TypeGDPRRightToErasure:
			r.ErasureRequests.add(m)
		case event.TypeGDPRDataAccessRequest:
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
	r := &SOC2Report{Kind: KindSOC2, AuthSuccesses: map[string]int{}, AuthFailures: map[string]int{},
		IncidentsByKind: map[string]int{}, IntegrityChecks: map[string]int{}, CriticalEvents: newListing(), SealerEvents: map[string]int{}}
	cov, t, err := collect(ctx, o, func(m *query.Match) {
		switch {
		case m.Type == event.TypeAuthSuccess:
			r.AuthSuccesses[m.Service]++
		case m.Type == event.TypeAuthFailure:
			r.AuthFailures[m.Service]++
		case m.Type == event.TypeAuthzDenied:
			r.AuthzDenials++
		case m.Type == event.TypeSealVerified:
			r.IntegrityChecks["passed"]++
		case m.Type == event.TypeSealVerificationFailed || m.Type == event.TypeIntegrityViolation:
			r.IntegrityChecks["failed"]++
		}
		if strings.HasPrefix(m.Type, "security.") {
			r.IncidentsByKind[m.Type]++
		}
		if strings.HasPrefix(m.Type, "audit.") {
			r.SealerEvents[m.Type]++
		}
		if m.Critical {
			r.CriticalEvents.add(m)
		}
	})
	if err != nil {
		return nil, err
	}
	r.Coverage, r.RecordsByType, r.LogReads = cov, t.types, t.logReads()
	r.Criteria = soc2Criteria(&r.Coverage, t)
	return r, nil
}
