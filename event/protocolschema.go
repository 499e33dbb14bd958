package event

import "math"

// The request and reply envelopes of PROTOCOL.md, as JSON Schema. They live
// here, beside the event schemas they refer to, until the protocol has a
// package of its own. The sealer's parser (internal/sealer) is the
// authority; these say what it accepts and sends.

// protocolErrorCodes are the error codes of PROTOCOL.md "Errors".
var protocolErrorCodes = []string{"bad_json", "bad_request", "frame_too_large", "invalid_event", "not_authorized",
	"shed", "timeout", "unavailable", "not_sealed", "tampered", "internal"}

func u64Schema() *jsonObject { return uintSchema(math.MaxUint64) }

func typed(t string) *jsonObject { return object("type", t) }

func dateTime() *jsonObject { return object("type", "string", "format", "date-time") }

// whenConst returns {"if": {key == value}, "then": then}.
func whenConst(key string, value any, then *jsonObject) *jsonObject {
	return object("if", object("required", []string{key}, "properties", object(key, object("const", value))), "then", then)
}

// idSchema is a request's id, echoed in its reply.
func idSchema() *jsonObject {
	return object("type", "string", "maxLength", 64, "$comment", "at most 64 bytes; maxLength counts characters")
}

// RequestSchema returns the JSON Schema (draft 2020-12) of a request line
// of PROTOCOL.md, schema/request.schema.json. An emit's event refers to
// events.schema.json. The output is deterministic.
func RequestSchema() ([]byte, error) {
	events := SchemaBaseURI + "events.schema.json"
	filter := object("type", "object", "additionalProperties", false, "properties", object(
		"user", typed("string"),
		"subject", typed("string"),
		"service", typed("string"),
		"types", object("type", "array", "items", typed("string")),
		"entity", typed("string"),
		"from", dateTime(),
		"to", dateTime(),
		"critical", typed("boolean"),
		"sealer", typed("boolean"),
		"after", u64Schema(),
	))
	s := object(
		"$schema", draft202012,
		"$id", SchemaBaseURI+"request.schema.json",
		"title", "audit-sealer request (protocol version 1)",
		"description", "One request line of PROTOCOL.md. Generated from package event; do not edit.",
		"$comment", "Fields an op does not use are accepted and ignored by the sealer, and by this schema, but they must have the type given here and may not be null (except event). Not expressible: a line is at most 131072 bytes; keys may not repeat; nesting is at most 64 levels.",
		"type", "object",
		"required", []string{"op"},
		"properties", object(
			"op", object("enum", []string{"hello", "emit", "flush", "status", "ping", "query", "export", "report", "report_dropped", "rotate_key"}),
			"id", idSchema(),
			"durable", typed("boolean"),
			"service", object("type", "string", "description", "one of the service identities the sealer's policy gives the peer"),
			"event", object("description", "emit: the event"),
			"count", u64Schema(),
			"reason", object("type", "string", "description", "report_dropped: a short code; empty means unspecified"),
			"filter", object("description", "query, export: which records; report: the period (from, to)", "not", typed("null")),
			"limit", object("type", "integer", "description", "at most 1000 matches; 0, a negative value or one above 1000 means 1000"),
			"key_label", object("type", "string", "description", "rotate_key: the label of the new key on the sealer's token (none for a --dev sealer)"),
			"follow", object("type", "boolean", "description", "export: go on with the records sealed later, until the connection closes"),
			"report", object("type", "string", "description", "report: soc2, pci, iso27001 or gdpr"),
			"format", object("type", "string", "description", "report: json (the default) or html"),
			"customer", object("type", "string", "description", "report: the customer of a gdpr report"),
		),
		"additionalProperties", false,
		"allOf", []any{
			whenConst("op", "emit", object("required", []string{"event"},
				"properties", object("event", object("$ref", events+"#/$defs/client_event")))),
			whenConst("op", "report_dropped", object("required", []string{"count"},
				"properties", object(
					"count", object("minimum", 1),
					"reason", object("anyOf", []any{object("const", ""), object("$ref", events+"#/$defs/text")}),
				))),
			whenConst("op", "query", object("properties", object("filter", filter))),
			whenConst("op", "export", object("properties", object("filter", filter))),
			whenConst("op", "report", object("required", []string{"report"},
				"properties", object(
					"report", object("enum", []string{"soc2", "pci", "iso27001", "gdpr"}),
					"format", object("enum", []string{"json", "html"}),
					"filter", object("type", "object", "additionalProperties", false, "properties", object("from", dateTime(), "to", dateTime())),
				))),
		},
	)
	return marshalDocument(s)
}

// ReplySchema returns the JSON Schema (draft 2020-12) of a reply line of
// PROTOCOL.md, schema/reply.schema.json. The output is deterministic.
func ReplySchema() ([]byte, error) {
	match := object("type", "object",
		"required", []string{"seq", "audit_id", "service", "type", "received", "critical", "event"},
		"properties", object(
			"seq", u64Schema(),
			"audit_id", typed("string"),
			"service", typed("string"),
			"type", typed("string"),
			"received", dateTime(),
			"critical", typed("boolean"),
			"event", object("$ref", SchemaBaseURI+"events.schema.json"),
			"proof", typed("object"),
		))
	status := object("type", "object",
		"description", "the sealer's status",
		"required", []string{"last_seq", "records", "unsealed", "last_checkpoint_size", "last_checkpoint_time",
			"queue_depth", "queue_bytes", "queue_uids", "shed_total", "key_id", "key_kind", "algorithm", "dev",
			"signer_error", "storage_error", "anchoring", "anchors_made", "nv_writes_per_year_estimate",
			"anchor_error", "connections", "uptime_seconds", "version", "seal_errors", "anchor_errors", "storage_errors", "config_reload_error"},
		"properties", object(
			"log_id", typed("string"),
			"last_seq", u64Schema(),
			"records", u64Schema(),
			"unsealed", u64Schema(),
			"last_checkpoint_size", u64Schema(),
			"last_checkpoint_time", dateTime(),
			"queue_depth", typed("integer"),
			"queue_bytes", typed("integer"),
			"queue_uids", typed("integer"),
			"shed_total", u64Schema(),
			"key_id", typed("string"),
			"key_kind", typed("string"),
			"algorithm", typed("string"),
			"dev", typed("boolean"),
			"signer_error", typed("string"),
			"storage_error", typed("string"),
			"anchoring", typed("boolean"),
			"last_anchor", object("description", "absent until the log has an anchored checkpoint", "type", "integer", "minimum", 0),
			"last_anchor_age_seconds", object("description", "absent until this run of the sealer anchored", "type", "number"),
			"anchors_made", u64Schema(),
			"nv_writes_per_year_estimate", typed("number"),
			"anchor_error", typed("string"),
			"connections", typed("integer"),
			"uptime_seconds", typed("number"),
			"version", object("type", "string", "description", "the sealer's build"),
			"seal_errors", object("description", "checkpoints the log key failed to sign since the sealer started", "type", "integer", "minimum", 0),
			"anchor_errors", object("description", "anchors the TPM counter failed since the sealer started", "type", "integer", "minimum", 0),
			"storage_errors", object("description", "write or sync failures of the log since the sealer started", "type", "integer", "minimum", 0),
			"signer_failing_since", object("description", "absent while signing works: when the current failure began", "type", "string", "format", "date-time"),
			"anchor_failing_since", object("description", "absent while anchoring works: when the current failure began", "type", "string", "format", "date-time"),
			"storage_failing_since", object("description", "absent while the log can be written: when the current failure began", "type", "string", "format", "date-time"),
			"config_reloaded_at", object("description", "absent before the first reload: when the configuration was last reloaded", "type", "string", "format", "date-time"),
			"config_reload_error", object("description", "why the last reload failed (the configuration before it is in force); empty when it did not", "type", "string"),
			"witness_quorum", object("description", "absent without witnesses: how many must cosign", "type", "integer", "minimum", 1),
			"witnessed_size", object("description", "absent without witnesses: the largest size a quorum of them cosigned since the sealer started", "type", "integer", "minimum", 0),
			"witnesses", object("description", "absent without witnesses: each witness (FORMAT.md 5.6)", "type", "array",
				"items", object("type", "object",
					"required", []string{"name", "url", "witnessed_size", "lag_records", "lag_seconds", "error", "split_view"},
					"properties", object(
						"name", typed("string"),
						"url", typed("string"),
						"witnessed_size", u64Schema(),
						"lag_records", u64Schema(),
						"lag_seconds", typed("number"),
						"error", typed("string"),
						"split_view", typed("boolean"),
					))),
		))
	errObj := object("type", "object",
		"required", []string{"code", "message"},
		"properties", object(
			"code", object("enum", protocolErrorCodes),
			"message", typed("string"),
			"field", object("type", "string", "description", "invalid_event: the JSON path of the field"),
			"rule", object("type", "string", "description", "invalid_event: the rule code"),
			"reason", object("type", "string", "description", "tampered: the verifier's reason code"),
		))
	s := object(
		"$schema", draft202012,
		"$id", SchemaBaseURI+"reply.schema.json",
		"title", "audit-sealer reply (protocol version 1)",
		"description", "One reply line of PROTOCOL.md. Generated from package event; do not edit.",
		"$comment", "Members may be added within protocol version 1 (PROTOCOL.md, Evolution), so the objects here are open: a client ignores members it does not know.",
		"type", "object",
		"required", []string{"ok"},
		"properties", object(
			"id", idSchema(),
			"ok", typed("boolean"),
			"accepted", object("const", true),
			"seq", u64Schema(),
			"audit_id", typed("string"),
			"durable", object("const", true),
			"sealed", object("const", true),
			"checkpoint_size", u64Schema(),
			"time", dateTime(),
			"status", status,
			"matches", object("type", "array", "items", match),
			"more", typed("boolean"),
			"next", u64Schema(),
			"key", object("type", "object",
				"description", "the reply to rotate_key: the key that now signs and the one it replaced",
				"required", []string{"key_id", "previous_key_id", "introduced_seq", "checkpoint_size"},
				"properties", object(
					"key_id", typed("string"),
					"previous_key_id", typed("string"),
					"key_label", typed("string"),
					"introduced_seq", u64Schema(),
					"checkpoint_size", u64Schema(),
					"warning", typed("string"),
				)),
			"hello", object("type", "object",
				"description", "the reply to hello: what this sealer accepts",
				"required", []string{"protocol", "version", "ops", "types", "critical_types", "services"},
				"properties", object(
					"protocol", object("type", "integer", "minimum", 1),
					"version", typed("string"),
					"ops", object("type", "array", "items", typed("string")),
					"types", object("type", "array", "items", typed("string")),
					"critical_types", object("type", "array", "items", typed("string")),
					"services", object("type", "array", "items", typed("string")),
				)),
			"done", object("const", true, "description", "export: the last reply of an export that does not follow"),
			"report", object("type", "object",
				"description", "the reply to report: the report, and its signature (FORMAT.md section 10)",
				"required", []string{"kind", "format", "verdict", "sha256", "seq", "body", "signature"},
				"properties", object(
					"kind", typed("string"),
					"format", typed("string"),
					"verdict", typed("string"),
					"sha256", object("type", "string", "pattern", "^[0-9a-f]{64}$"),
					"seq", u64Schema(),
					"body", object("type", "string", "contentEncoding", "base64"),
					"signature", typed("object"),
				)),
			"error", errObj,
		),
		"allOf", []any{
			whenConst("ok", false, object("required", []string{"error"})),
			whenConst("ok", true, object("not", object("required", []string{"error"}))),
		},
	)
	return marshalDocument(s)
}
