package event

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// typeDocs says in one line what each event type records. EVENTS.md and the
// JSON Schemas take it from here; TestEveryTypeDescribed keeps it complete.
var typeDocs = map[string]string{
	TypeAuthSuccess:            "An actor authenticated to a service endpoint.",
	TypeAuthFailure:            "An authentication attempt failed; the user tried, if known, is named only by an id or a token fingerprint.",
	TypeTokenCreated:           "A token was issued, recorded by its fingerprint with its scope and optional expiry.",
	TypeTokenRevoked:           "A token was revoked.",
	TypeAuthzGranted:           "An actor was allowed an action on a resource.",
	TypeAuthzDenied:            "An actor was refused an action on a resource, and why.",
	TypePermissionChanged:      "The permissions of a user or token changed, old and new.",
	TypePoolCreated:            "A model pool was created on a node.",
	TypePoolDeleted:            "A model pool was deleted, with the replicas it stopped.",
	TypePoolModified:           "A model pool's settings changed (changes holds what changed).",
	TypeNodeRegistered:         "A GPU node joined, with its GPUs, VRAM and capabilities.",
	TypeNodeDeregistered:       "A GPU node left, with the pools it affected.",
	TypeTaskSubmitted:          "An inference task was submitted; the prompt is recorded only by its length and SHA-256, never its text.",
	TypeTaskCompleted:          "An inference task finished on a worker, with its result.",
	TypeTaskCanceled:           "An inference task was canceled.",
	TypeVRAMSealed:             "A GPU worker sealed a model shard in VRAM, recording its digest.",
	TypeSealVerified:           "A worker checked a sealed shard against its digest.",
	TypeSealVerificationFailed: "A sealed shard no longer matches its digest.",
	TypeVRAMAllocated:          "A worker allocated VRAM.",
	TypeVRAMAllocationFailed:   "A worker could not allocate the VRAM asked for.",
	TypeVRAMDeallocated:        "A worker freed a shard's VRAM.",
	TypeRateLimitExceeded:      "A client went over a rate limit.",
	TypePathTraversalAttempt:   "A request tried to reach a path outside what it may (attempted_path may hold \"..\" and separators).",
	TypeInvalidTokenUsed:       "A request presented an invalid token, recorded by its fingerprint, never a part of it.",
	TypePolicyViolation:        "A worker found a security policy broken (for example vram_only) and acted on it.",
	TypeSuspiciousActivity:     "Activity judged suspicious, with a risk score from 0 to 100.",
	TypeIntegrityViolation:     "A resource's hash did not match what was expected.",
	TypeMalformedModelRejected: "A model file failed validation and was rejected.",
	TypeResourceLimitViolation: "A resource limit was exceeded.",
	TypeInferenceExecuted:      "Inference ran for a customer; no prompt or output is recorded.",
	TypeModelAccessed:          "A customer accessed a model (inference, download or inspect).",
	TypeDataDeleted:            "A customer's data of the listed types was deleted.",
	TypeGDPRDataAccessRequest:  "A data subject access request (GDPR) was made.",
	TypeGDPRDataExport:         "A customer's data was exported (GDPR), recorded with the export file's hash.",
	TypeGDPRRightToErasure:     "An erasure request (GDPR) was carried out.",
	TypeSealerStarted:          "The sealer started, with its version, mode, key and effective settings, any torn tail it cut, and its FIPS 140-3 state: the Go Cryptographic Module's mode and version, and what the HSM reported.",
	TypeSealerStopped:          "The sealer stopped, with the records this run wrote.",
	TypeEventsShed:             "Events were dropped under load, with counts and the reason.",
	TypeClientDropped:          "A client library reported events it dropped before they reached the sealer.",
	TypeStorageRecovered:       "Writing the log failed (full disk, I/O error) and the sealer resumed; bytes never made durable were cut and kept aside.",
	TypeKeyIntroduced:          "A signing key was introduced (start, rotation), with its public key.",
	TypeAnchorState:            "The state of the TPM anchor counter at start or around an increment.",
	TypeRetentionPruned:        "Whole sealed segments past the retention period were deleted.",
	TypeLogRead:                "Someone read the log through the sealer (query, export, prove, report): who, with what filters, how many results.",
	TypeTailDiscarded:          "At start, records at the end of the log that nothing signed authenticates were cut and kept aside, never sealed.",
	TypeCheckpointWitnessed:    "A witness cosigned a checkpoint of the log: the checkpoint's text and the verified cosignature line (FORMAT.md 5.6).",
	TypeWitnessAlarm:           "Split view: a witness refused a checkpoint as inconsistent with one it cosigned, or cosigned a larger tree of this log.",
	TypeTPMIdentity:            "The TPM that anchors the log: its attestation key and the anchor counter's NV index.",
	TypeConfigReloaded:         "The running sealer reloaded its configuration (SIGHUP): the settings applied, those that need a restart, and the settings and policy in force.",
}

// sharedShapes are the objects several types share, with what they are.
var sharedShapes = []struct {
	name string
	sch  *schema
	doc  string
}{
	{"actor", &actorSchema, "Who performed the action."},
	{"resource", &resourceSchema, "The object an action applies to."},
	{"result", &resultSchema, `The outcome of an operation, in exactly one of three forms: {"status":"success"}, {"status":"failure","reason":...} (reason required) or {"status":"partial_success","details":...} (details required); no other combination of keys.`},
}

// categoryTitles names the categories in EVENTS.md, in registry order.
var categoryTitles = map[string]string{
	"authentication": "Authentication",
	"authorization":  "Authorization",
	"resource":       "Resource operations",
	"vram":           "VRAM operations (GPU workers)",
	"security":       "Security incidents",
	"data_access":    "Data access",
	"compliance":     "Compliance (GDPR)",
	"sealer":         "The sealer's own events",
}

// fieldKindName says in words what JSON a field holds.
func fieldKindName(f *fieldSpec) string {
	switch f.kind {
	case kindTime:
		return "timestamp"
	case kindString:
		if f.text.class == classEnum {
			return "enum"
		}
		return "string"
	case kindU32:
		if f.max != math.MaxUint32 {
			return "u32 (0.." + strconv.FormatUint(f.max, 10) + ")"
		}
		return "u32"
	case kindU64, kindOptU64:
		return "u64"
	case kindIP:
		return "ip"
	case kindActor:
		return "actor"
	case kindResource:
		return "resource"
	case kindResult, kindOptResult:
		return "result"
	case kindStrings:
		return "[string]"
	case kindU32s:
		return "[u32]"
	case kindObject:
		return "object"
	case kindStringMap:
		return "object of strings"
	}
	panic("event: catalogue: unknown field kind")
}

// fieldRules says in words what values field f accepts.
func fieldRules(f *fieldSpec) string {
	switch f.kind {
	case kindTime:
		if f.time == timeExpiry {
			return "at most 100 years ahead"
		}
		return ""
	case kindString:
		return describeText(f.text)
	case kindStrings:
		return "each " + describeText(f.text)
	case kindObject:
		return "depth at most 4, at most 4 KiB once canonical; keys and strings free text, may be empty"
	case kindStringMap:
		return "at most " + strconv.Itoa(maxSettings) + " entries; keys free text, values free text that may be empty"
	}
	return ""
}

// writeFieldTable writes the markdown table of the fields of sch.
func writeFieldTable(b *bytes.Buffer, sch *schema) {
	b.WriteString("| field | type | required | rules |\n|---|---|---|---|\n")
	for i := range sch.fields {
		f := &sch.fields[i]
		req := "yes"
		if f.optional {
			req = "optional"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.name, fieldKindName(f), req, escapeCell(fieldRules(f)))
	}
}

// escapeCell makes s safe in a markdown table cell.
func escapeCell(s string) string {
	return strings.NewReplacer("|", `\|`, `\`, `\\`).Replace(s)
}

// CatalogueMarkdown returns EVENTS.md, the event catalogue: every type with
// its meaning, fields and rules, generated from the registry.
func CatalogueMarkdown() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(catalogueIntro)
	b.WriteString("\n## Shared shapes\n")
	for _, s := range sharedShapes {
		fmt.Fprintf(&b, "\n### %s\n\n%s\n\n", s.name, s.doc)
		writeFieldTable(&b, s.sch)
	}
	b.WriteString("\n## Types\n\nC marks the critical types: each is made durable and sealed by a signed checkpoint at once (a client's before its reply, whatever `durable` says).\n")
	category := ""
	for _, ti := range registry {
		doc := typeDocs[ti.name]
		if doc == "" {
			return nil, fmt.Errorf("event: catalogue: no description for %s", ti.name)
		}
		if ti.category != category {
			category = ti.category
			fmt.Fprintf(&b, "\n### %s\n\n| type | C | meaning |\n|---|---|---|\n", categoryTitles[category])
			for _, t := range registry {
				if t.category != category {
					continue
				}
				c := ""
				if t.critical {
					c = "C"
				}
				fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", t.name, anchor(t.name), c, escapeCell(typeDocs[t.name]))
			}
		}
		fmt.Fprintf(&b, "\n#### %s\n\n%s\n\n", ti.name, typeSummary(ti))
		writeFieldTable(&b, &ti.schema)
	}
	writePersonalData(&b)
	b.WriteString(catalogueOutro)
	return b.Bytes(), nil
}

// personalField says whether a field of a type holds personal data, and
// under which name the catalogue's personal data section lists it: user
// references (an id or a token fingerprint), IP addresses, the actor (its
// user_id, ip and session_id), the requester of a subject request and the
// customer id.
func personalField(f *fieldSpec) []string {
	switch {
	case f.kind == kindActor:
		return []string{"actor.user_id", "actor.ip", "actor.session_id"}
	case f.kind == kindIP:
		return []string{f.name}
	case f.kind == kindString && f.text != nil && (f.text.class == classUserRef || f.text.class == classAttempted):
		return []string{f.name}
	case f.name == "requester" || f.name == "customer_id":
		return []string{f.name}
	}
	return nil
}

// writePersonalData writes the section on the personal data the log
// holds: which fields, in which types, why it is kept despite GDPR Art.
// 17, and how to keep it pseudonymous.
func writePersonalData(b *bytes.Buffer) {
	b.WriteString(personalDataIntro)
	var names []string
	types := map[string][]string{}
	for _, ti := range registry {
		for i := range ti.schema.fields {
			for _, name := range personalField(&ti.schema.fields[i]) {
				if types[name] == nil {
					names = append(names, name)
				}
				types[name] = append(types[name], "`"+ti.name+"`")
			}
		}
	}
	b.WriteString("\n| field | in |\n|---|---|\n")
	for _, n := range names {
		fmt.Fprintf(b, "| `%s` | %s |\n", n, strings.Join(types[n], ", "))
	}
	b.WriteString(personalDataOutro)
}

const personalDataIntro = `
## Personal data

The log holds personal data in the fields below: who acted (user ids,
token fingerprints, session ids), from where (IP addresses), and whose
data was processed (customer ids, the requester of a subject request).
` + "`audit.log_read`" + ` also records the uid and gid of whoever read the log.
Free-text fields (` + "`reason`" + `, ` + "`details`" + `, ` + "`path`" + `, ...) must not carry any:
put identifiers in the identity fields, where a subject access request
finds them (` + "`audit-sealer query --subject ID`" + ` searches ` + "`actor.user_id`" + `,
` + "`attempted_user`" + `, ` + "`subject`" + `, ` + "`requester`" + ` and ` + "`customer_id`" + `;
` + "`audit-sealer report gdpr --customer ID`" + ` reports on one customer).
`

const personalDataOutro = `
The log is append-only and sealed: erasing a record would break the proof
of every record after it, so a GDPR Art. 17 erasure request is carried out
in the services' own data (and recorded here, ` + "`compliance.gdpr_right_to_erasure`" + `),
not in the log. Keeping the audit trail is covered by the exemptions of
Art. 17(3): (b), where Union or Member State law requires the audit trail
(NIS2, DORA and sector rules, for the entities they cover; a contractual
standard such as PCI DSS is not such a law), and (e), for the
establishment, exercise or defence of legal claims; the retention below
bounds how long (Art. 5(1)(e)). Record this basis in the register of
processing (Art. 30), and have the data protection officer confirm it.

**Emit pseudonymous identifiers.** A ` + "`user_id`" + `, ` + "`subject`" + `, ` + "`requester`" + ` or
` + "`customer_id`" + ` should be an internal id or a keyed hash (HMAC-SHA-256 with a
key the service keeps), never an e-mail address or a name: the log then
names no one without the mapping, which stays outside it and can be erased
(the records stay verifiable, and become anonymous for whoever lacks the
mapping). Tokens are logged by fingerprint only (` + "`token:`" + ` and hex), and
IP addresses only where a type has an ` + "`ip`" + ` field.
`

// anchor returns the markdown heading anchor of a type name.
func anchor(name string) string {
	return strings.ReplaceAll(name, ".", "")
}

const catalogueIntro = `# Event catalogue

<!-- Generated from package event (go generate ./event); do not edit. -->

The audit events that services send to audit-sealer (PROTOCOL.md says how),
and the sealer's own ` + "`audit.*`" + ` events that share the log. This file is
generated from the same field lists that the sealer validates with, as are
the JSON Schemas in ` + "`schema/`" + ` (` + "`audit-sealer schema [TYPE]`" + ` prints them).
How ` + "`audit-sealer export`" + ` presents each type to a SIEM (its CEF name,
OCSF class and activity, ECS categorization) is in
[docs/export-mappings.md](docs/export-mappings.md).

## Conventions

- An event is one JSON object: ` + "`type`" + ` (the dotted name, the only
  discriminator), ` + "`timestamp`" + ` (the time the emitting service saw the
  action; the sealer adds its own receive time and keeps both), then the
  type's fields. Field names are snake_case.
- Validation refuses, it never rewrites: an event that breaks a rule is
  refused with an error naming the field and the rule, never the value;
  nothing of it is stored and it takes no sequence number.
- Unknown types, unknown fields, missing or null required fields and wrong
  JSON types are refused. An optional field is omitted or ` + "`null`" + ` (both
  mean none), never ` + "`\"\"`" + `; a required string may not be empty.
- Integers are plain digits (no sign, fraction or exponent): u32 is
  0..4294967295, u64 0..18446744073709551615.
- Timestamps are RFC 3339 in UTC (` + "`Z`" + ` or ` + "`+00:00`" + `) with at most 9
  fraction digits, not before 2000-01-01 and at most 24 hours ahead of the
  sealer's clock.
- Every string: valid UTF-8; no control character other than tab
  (carriage return never, line feed only where a field's rules allow it);
  no bidirectional control (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
  U+061C) and no U+FEFF; at most 1024 bytes. Identifiers are at most 256 bytes without ` + "`..`" + `, ` + "`/`" + ` or ` + "`\\`" + `.
- A value shaped like a raw credential (` + "`Bearer …`" + `, a JWT, ` + "`sk-…`" + `,
  ` + "`ghp_…`" + `, ` + "`-----BEGIN`" + ` …) is refused: log a token fingerprint,
  ` + "`token:`" + ` followed by lower-case hex of its SHA-256 (6 to 64 digits).
- Enumerations match exactly, in lower case.
- One event is at most 64 KiB encoded; JSON nests at most 16 levels.
`

const catalogueOutro = `
## Never logged

Raw tokens, passwords or keys (fingerprints only); prompt or output text
(length and hash only); VRAM pointers or any memory address; seal keys or
model bytes. Customer identifiers are opaque ids (see Personal data).

## Retention

The default retention is 7 years (2555 days), the longest common
requirement (SOC 2; GDPR asks 1 to 3 years, ISO 27001 3 to 5, HIPAA 6, PCI
DSS 4.0 12 months). Deletion happens only by whole sealed segments past the
retention period and is itself recorded (` + "`audit.retention_pruned`" + `).
`
