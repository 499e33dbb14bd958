package report

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/verify"
)

// Criterion is one requirement of a framework and what the log of the
// period shows of it. Requirements are paraphrased, never quoted; a
// status says what the log shows, not that the requirement is met (that
// is the auditor's judgement, which needs more than the log).
type Criterion struct {
	ID    string `json:"id"`    // "CC6.1", "10.2.1.4", "A.8.15"
	Title string `json:"title"` // the requirement, paraphrased
	// Status is one of the Status constants.
	Status string `json:"status"`
	// Evidence says what the log holds for it in the period, with counts.
	Evidence []string `json:"evidence"`
	// Types are the event types counted (a type may be "prefix.*").
	Types []string `json:"types,omitempty"`
	// Records counts the records of Types in the period.
	Records int `json:"records"`
	// Exceptions are the codes of the period's exceptions that bear on
	// it, with their counts.
	Exceptions map[string]int `json:"exceptions,omitempty"`
	// Limits says what the log cannot show for it.
	Limits string `json:"limits"`
}

// The statuses of a criterion.
const (
	// StatusEvidenced: the log holds records for it in the period, and
	// no exception bears on it.
	StatusEvidenced = "evidenced"
	// StatusExceptions: exceptions of the period bear on it (listed).
	StatusExceptions = "exceptions"
	// StatusNoRecords: the period holds no record of its kind, which may
	// be right (no privilege changed) or not: the auditor decides.
	StatusNoRecords = "no_records"
	// StatusFailed: the log did not verify, or what it records fails it
	// (a retention shorter than required).
	StatusFailed = "failed"
)

// Exception codes by what they bear on.
var (
	completenessCodes = []string{"unclean_stop", "events_shed", "client_dropped", "storage_recovered", ExceptionSealerDown,
		"tail_discarded", "torn_tail_cut", "crash_recovered", "anchoring_disabled", "interrupted_prune"}
	protectionCodes = []string{"unanchored_stretch", "rollback_override", "anchor_reset", "counter_jump", "witness_alarm",
		"dev_mode", "unendorsed_key", "tpm_identity_changed", "anchoring_disabled"}
	retentionCodes = []string{ExceptionBeforeLog, "interrupted_prune"}
	failureCodes   = []string{"events_shed", "client_dropped", "storage_recovered", ExceptionSealerDown, "unanchored_stretch",
		"anchoring_disabled", "witness_alarm", "tail_discarded"}
)

// builder makes the criteria of one report from the coverage and tally.
type builder struct {
	c *Coverage
	t *tally
}

// row makes a criterion counting types, bearing the exception codes
// given; evidence lines are added by the caller.
func (b builder) row(id, title string, types []string, codes []string, limits string, evidence ...string) Criterion {
	cr := Criterion{ID: id, Title: title, Types: types, Limits: limits, Evidence: evidence}
	if cr.Evidence == nil {
		cr.Evidence = []string{}
	}
	if len(types) > 0 {
		cr.Records = b.t.count(types...)
		cr.Evidence = append([]string{b.byType(types)}, cr.Evidence...)
	}
	for _, code := range codes {
		if n := b.c.ExceptionCounts[code]; n > 0 {
			if cr.Exceptions == nil {
				cr.Exceptions = map[string]int{}
			}
			cr.Exceptions[code] = n
		}
	}
	switch {
	case b.c.Verdict != string(verify.Intact):
		cr.Status = StatusFailed
		cr.Evidence = append(cr.Evidence, fmt.Sprintf("the log did not verify (%s): nothing it holds is evidence", b.c.Verdict))
	case len(cr.Exceptions) > 0:
		cr.Status = StatusExceptions
	case len(types) > 0 && cr.Records == 0:
		cr.Status = StatusNoRecords
	default:
		cr.Status = StatusEvidenced
	}
	return cr
}

// byType says how many records of each type (or prefix) the period holds.
func (b builder) byType(types []string) string {
	var parts []string
	total := 0
	for _, p := range types {
		n := b.t.count(p)
		total += n
		parts = append(parts, fmt.Sprintf("%s %d", p, n))
	}
	return fmt.Sprintf("%d records in the period: %s", total, strings.Join(parts, ", "))
}

// integrity says what the verification showed.
func (b builder) integrity() string {
	c := b.c
	cp := c.Checkpoint
	if cp == nil {
		return fmt.Sprintf("verification: %s; no checkpoint verified", c.Verdict)
	}
	kind := cp.SignerKind + " " + cp.Algorithm
	if cp.Dev {
		kind += ", development mode"
	}
	return fmt.Sprintf("verification: %s; every record up to checkpoint %d (%s) is hash-chained, in its Merkle tree, and signed by key %s (%s); %d key(s) in the key history",
		c.Verdict, cp.Size, human(cp.Time), cp.KeyID, kind, len(c.KeyHistory))
}

// runs says how the sealer ran.
func (b builder) runs() string {
	s := b.t.count(event.TypeSealerStarted)
	return fmt.Sprintf("the sealer started %d times and stopped cleanly %d times in the period; %d records in all", s, b.t.count(event.TypeSealerStopped), b.c.Records)
}

// reads says who read the log through the sealer.
func (b builder) reads() []string {
	lr := b.t.logReads()
	if len(lr) == 0 {
		return []string{"no read of the log through the sealer in the period"}
	}
	var out []string
	for _, r := range lr {
		out = append(out, fmt.Sprintf("uid %d: %d %s read(s) through the sealer", r.UID, r.Reads, r.Operation))
	}
	return out
}

// human formats t for a reader: "7 Dec 2026 17:23:09 UTC".
func human(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 Jan 2006 15:04:05 UTC")
}

// Event types by what they record.
var (
	accessTypes      = []string{"auth.*", event.TypeAuthzGranted, event.TypeAuthzDenied}
	credentialTypes  = []string{event.TypeTokenCreated, event.TypeTokenRevoked, event.TypePermissionChanged}
	threatTypes      = []string{event.TypeRateLimitExceeded, event.TypeInvalidTokenUsed, event.TypePathTraversalAttempt, event.TypeSuspiciousActivity}
	malwareTypes     = []string{event.TypeMalformedModelRejected, event.TypeIntegrityViolation, event.TypeSealVerificationFailed, event.TypeSealVerified}
	changeTypes      = []string{"pool.*", "node.*", event.TypeConfigReloaded, event.TypeKeyIntroduced}
	adminTypes       = []string{"pool.*", "node.*", event.TypePermissionChanged, event.TypeTokenCreated, event.TypeTokenRevoked}
	invalidTypes     = []string{event.TypeAuthFailure, event.TypeAuthzDenied, event.TypeInvalidTokenUsed}
	lifecycleTypes   = []string{event.TypeSealerStarted, event.TypeSealerStopped, event.TypeRetentionPruned}
	objectTypes      = []string{event.TypePoolCreated, event.TypePoolDeleted, event.TypeNodeRegistered, event.TypeNodeDeregistered}
	dataAccessTypes  = []string{"data.*", event.TypeGDPRDataExport}
	readTypes        = []string{event.TypeLogRead}
	integrityTypes   = []string{event.TypeSealVerified, event.TypeSealVerificationFailed, event.TypeIntegrityViolation}
	monitoringLimits = "Events a service never sent, or dropped without reporting; whether anyone acted on what was recorded."
)

// soc2Criteria maps the period to the Trust Services Criteria (2017, with
// the 2022 points of focus) the log gives evidence for.
func soc2Criteria(c *Coverage, t *tally) []Criterion {
	b := builder{c, t}
	return []Criterion{
		b.row("CC6.1", "Logical access to protected information assets is restricted by access security software and architecture",
			accessTypes, nil, "Which access should have been allowed: compare the decisions with the access policy."),
		b.row("CC6.2", "Users and their credentials are registered, authorized, and removed when no longer authorized",
			[]string{event.TypeTokenCreated, event.TypeTokenRevoked}, nil, "Credentials issued outside the services that emit to the sealer; whether each issue was approved."),
		b.row("CC6.3", "Access is authorized, modified and removed by role, with least privilege and segregation of duties",
			[]string{event.TypePermissionChanged, event.TypeAuthzDenied}, nil, "Whether each permission change was approved; role design."),
		b.row("CC6.6", "Threats from sources outside the system's boundaries are detected and blocked",
			threatTypes, nil, "Threats the services did not detect or report."),
		b.row("CC6.8", "Unauthorized or malicious software is prevented or detected",
			malwareTypes, nil, "Software checks outside the model and shard checks the workers report."),
		b.row("CC7.2", "System components are monitored for anomalies that indicate malicious acts, natural disasters or errors",
			[]string{"security.*"}, append(completenessCodes, protectionCodes...), monitoringLimits, b.integrity(), b.runs()),
		b.row("CC7.3", "Security events are evaluated to decide whether they are incidents",
			[]string{"security.*", event.TypeAuthFailure, event.TypeSealVerificationFailed}, nil,
			"The evaluation itself: the critical events and the exceptions of the period are listed for the auditor to test against the entity's incident records.",
			fmt.Sprintf("%d exceptions in the period listed below for evaluation", len(c.Exceptions))),
		b.row("CC8.1", "Changes to infrastructure, software and configuration are authorized, tested, approved and implemented",
			changeTypes, nil, "Whether each change was authorized and tested; changes made outside the services that emit to the sealer."),
	}
}

// PCIReport is the PCI DSS v4.0 Requirement 10 report: the events of
// 10.2.1.1 to 10.2.1.7 in the period, the protection of the trail (10.3),
// its retention (10.5.1) and the failures of the logging itself (10.7.2).
type PCIReport struct {
	Kind          string         `json:"report"`
	Coverage      Coverage       `json:"coverage"`
	Criteria      []Criterion    `json:"criteria"`
	Retention     Retention      `json:"retention"`
	ReadAccess    ReadAccess     `json:"read_access"`
	LogReads      []LogReads     `json:"log_reads"`
	RecordsByType map[string]int `json:"records_by_type"`
}

// Retention is what the log says of its retention (PCI DSS 10.5.1).
type Retention struct {
	// Days is the retention the sealer ran with (retention_days of its
	// last audit.sealer_started), 0 when the log records none.
	Days int `json:"days"`
	// LogFirst and LogLast are the times of the log's first and last
	// records; LogDays how many days that spans.
	LogFirst time.Time `json:"log_first,omitzero"`
	LogLast  time.Time `json:"log_last,omitzero"`
	LogDays  float64   `json:"log_days"`
	// PrunedBefore: records 0 to PrunedBefore-1 were deleted by retention.
	PrunedBefore uint64 `json:"pruned_before"`
	Prunes       int    `json:"prunes_in_period"`
}

// ReadAccess is who the sealer's configuration let read the log through
// its socket (the settings of its last audit.sealer_started; PCI DSS
// 10.3.1).
type ReadAccess struct {
	UIDs   string `json:"uids"`
	GIDs   string `json:"gids"`
	Groups string `json:"groups"`
}

// PCI builds the PCI DSS Requirement 10 report.
func PCI(ctx context.Context, o Options) (*PCIReport, error) {
	cov, t, err := collect(ctx, o, nil)
	if err != nil {
		return nil, err
	}
	r := &PCIReport{Kind: KindPCI, Coverage: cov, RecordsByType: t.types, LogReads: t.logReads(),
		ReadAccess: ReadAccess{UIDs: t.settings["query_uids"], GIDs: t.settings["query_gids"], Groups: t.settings["query_groups"]}}
	r.Retention = retention(&r.Coverage, t)
	r.Criteria = pciCriteria(&r.Coverage, t, r.Retention, r.ReadAccess)
	return r, nil
}

func retention(c *Coverage, t *tally) Retention {
	r := Retention{Prunes: t.count(event.TypeRetentionPruned)}
	r.Days, _ = strconv.Atoi(t.settings["retention_days"])
	if p := c.LogPeriod; p != nil {
		r.LogFirst, r.LogLast, r.PrunedBefore = p.FirstTime, p.LastTime, p.PrunedBefore
		r.LogDays = p.LastTime.Sub(p.FirstTime).Hours() / 24
	}
	return r
}

func pciCriteria(c *Coverage, t *tally, ret Retention, ra ReadAccess) []Criterion {
	b := builder{c, t}
	retain := b.row("10.5.1", "Audit log history is retained for at least 12 months, the most recent three months immediately available",
		nil, retentionCodes, "Copies kept elsewhere (archives, the SIEM); that archived segments can be restored.",
		retentionEvidence(ret)...)
	switch {
	case retain.Status == StatusFailed:
	case ret.Days > 0 && ret.Days < 365:
		retain.Status = StatusFailed
		retain.Evidence = append(retain.Evidence, "the retention configured is shorter than 12 months")
	case ret.Days == 0 && retain.Status == StatusEvidenced:
		retain.Status = StatusNoRecords
	}
	access := "the sealer's last start records no [query] settings"
	known := ra.UIDs != "" || ra.GIDs != "" || ra.Groups != ""
	if known {
		access = fmt.Sprintf("readers through the sealer ([query]): uids %s, gids %s, groups [%s]; each read is recorded (10.2.1.3)", ra.UIDs, ra.GIDs, ra.Groups)
	}
	readAccess := b.row("10.3.1", "Read access to audit log files is limited to those with a job-related need",
		nil, nil, "The file permissions and the members of the reader groups: check them on the host.", access)
	if !known && readAccess.Status == StatusEvidenced {
		readAccess.Status = StatusNoRecords
	}
	content := b.row("10.2.2", "Each record holds the user, the type of event, date and time, success or failure, the origin and the affected data or component",
		nil, nil, "Whether the services fill the fields truthfully.",
		"the sealer refuses any event without the fields its type requires (EVENTS.md), and records with each its receive time, sequence number and the emitting service's identity (from the socket's peer credentials)")
	if c.Records == 0 && content.Status == StatusEvidenced {
		content.Status = StatusNoRecords
	}
	return []Criterion{
		b.row("10.2.1", "Audit logs are enabled and active for all system components",
			nil, completenessCodes, monitoringLimits, b.runs()),
		b.row("10.2.1.1", "All individual user access to cardholder data is logged",
			dataAccessTypes, nil, "Which data is cardholder data: the entity's scoping decides which of these accesses count."),
		b.row("10.2.1.2", "All actions by any individual with administrative access are logged",
			adminTypes, nil, "Which actors hold administrative access: compare the actors with the entity's list."),
		b.row("10.2.1.3", "All access to audit logs is logged",
			readTypes, nil, "Reads of the data directory's files by root, which bypass the sealer and are not recorded: only root can read it (0700).",
			b.reads()...),
		b.row("10.2.1.4", "Invalid logical access attempts are logged",
			invalidTypes, nil, "Attempts the services did not report."),
		b.row("10.2.1.5", "Changes to identification and authentication credentials are logged (new accounts, privilege elevation, changes to administrative accounts)",
			credentialTypes, nil, "Accounts managed outside the services that emit to the sealer."),
		b.row("10.2.1.6", "Initialization, stopping and pausing of the audit logs are logged",
			lifecycleTypes, []string{"unclean_stop", ExceptionSealerDown, "anchoring_disabled"}, "Time the sealer was not running is listed (sealer_down); what services did meanwhile is not in the log."),
		b.row("10.2.1.7", "Creation and deletion of system-level objects are logged",
			objectTypes, nil, "Objects outside the pools and nodes the services report."),
		content,
		readAccess,
		b.row("10.3.2", "Audit log files are protected against modification",
			nil, []string{"rollback_override", "anchor_reset", "unendorsed_key", "dev_mode"}, "Custody of the signing key (a pkcs11 signer keeps it in the HSM).", b.integrity()),
		b.row("10.3.3", "Audit log files are promptly backed up to a secure central place or media that is hard to alter",
			nil, []string{"unanchored_stretch", "anchoring_disabled", "witness_alarm"}, "Forwarding to a central log server (audit-sealer export): evidence it from the SIEM.",
			anchorEvidence(c)),
		b.row("10.3.4", "File integrity monitoring or change detection is used on audit logs",
			integrityTypes, nil, "How often verification runs: schedule audit-verify or this report.", b.integrity()),
		retain,
		b.row("10.7.2", "Failures of critical security control systems, the audit logging among them, are detected, alerted and addressed",
			nil, failureCodes, "Alerting and the response: compare the exceptions with the entity's tickets.",
			fmt.Sprintf("%d exceptions in the period", len(c.Exceptions))),
	}
}

func retentionEvidence(r Retention) []string {
	out := []string{}
	if r.Days > 0 {
		out = append(out, fmt.Sprintf("retention configured: %d days (%.1f years)", r.Days, float64(r.Days)/365))
	} else {
		out = append(out, "the log records no retention setting")
	}
	if !r.LogFirst.IsZero() {
		out = append(out, fmt.Sprintf("the log holds records from %s to %s (%.0f days), all of them online in the data directory", human(r.LogFirst), human(r.LogLast), r.LogDays))
	}
	if r.PrunedBefore > 0 {
		out = append(out, fmt.Sprintf("records 0 to %d were deleted by retention (%d prune(s) in the period), each only once older than the retention (checked by the verifier)", r.PrunedBefore-1, r.Prunes))
	}
	return out
}

func anchorEvidence(c *Coverage) string {
	if c.LastAnchor == nil {
		return "no checkpoint is anchored in a TPM counter"
	}
	return fmt.Sprintf("%d checkpoints anchored in a TPM counter, the last at record %d (%s, counter %d)", c.Anchors, c.LastAnchor.Seq, human(c.LastAnchor.Time), c.LastAnchor.Counter)
}

// ISO27001Report is the ISO/IEC 27001:2022 Annex A 8.15 (logging) report:
// the logs produced, stored, protected and analysed, with A.8.17 (clock
// synchronization).
type ISO27001Report struct {
	Kind              string         `json:"report"`
	Coverage          Coverage       `json:"coverage"`
	Criteria          []Criterion    `json:"criteria"`
	RecordsByCategory map[string]int `json:"records_by_category"`
	RecordsByType     map[string]int `json:"records_by_type"`
	Retention         Retention      `json:"retention"`
	LogReads          []LogReads     `json:"log_reads"`
}

// ISO27001 builds the ISO/IEC 27001:2022 A.8.15 report.
func ISO27001(ctx context.Context, o Options) (*ISO27001Report, error) {
	cov, t, err := collect(ctx, o, nil)
	if err != nil {
		return nil, err
	}
	r := &ISO27001Report{Kind: KindISO27001, Coverage: cov, RecordsByType: t.types, RecordsByCategory: map[string]int{}, LogReads: t.logReads()}
	for typ, n := range t.types {
		r.RecordsByCategory[event.Category(typ)] += n
	}
	r.Retention = retention(&r.Coverage, t)
	b := builder{&r.Coverage, t}
	var cats []string
	for c, n := range r.RecordsByCategory {
		cats = append(cats, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(cats)
	r.Criteria = []Criterion{
		b.row("A.8.15 (produced)", "Logs recording activities, exceptions, faults and other relevant events are produced",
			nil, completenessCodes, monitoringLimits, "records by category: "+strings.Join(cats, ", "), b.runs()),
		b.row("A.8.15 (stored)", "Logs are stored, for the retention the organization decided",
			nil, retentionCodes, "Whether the retention matches the organization's policy.", retentionEvidence(r.Retention)...),
		b.row("A.8.15 (protected)", "Logs are protected against tampering and unauthorized access",
			nil, protectionCodes, "Custody of the signing key; file permissions on the host.", b.integrity(), anchorEvidence(&r.Coverage)),
		b.row("A.8.15 (analysed)", "Logs are analysed",
			readTypes, nil, "Analysis outside the sealer (the SIEM the log is exported to); what was concluded.",
			append(b.reads(), fmt.Sprintf("%d critical events and %d exceptions in the period", t.critical(), len(r.Coverage.Exceptions)))...),
		b.row("A.8.17", "Clocks of the information processing systems are synchronized to approved time sources",
			nil, nil, "That the sealer's clock was synchronised with an authoritative source: check the host's time service.",
			"record times, by the sealer's clock, never go backwards across the log (checked by the verifier: time_backwards)"),
	}
	return r, nil
}

// critical counts the critical events of the period.
func (t *tally) critical() int {
	n := 0
	for typ, c := range t.types {
		if event.IsCritical(typ) {
			n += c
		}
	}
	return n
}
