package event

import (
	"strings"
	"testing"
)

// Bases for the rejection cases; each is valid as is.
const (
	baseDenied = `{"type":"authz.denied","timestamp":"2026-11-27T10:00:05Z","actor":{"user_id":"token:a3f2c1","ip":"192.168.1.100","auth_method":"bearer_token","session_id":"sess-1"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"write","reason":"insufficient_permissions"}`
	basePool   = `{"type":"pool.created","timestamp":"2026-11-27T10:00:07Z","actor":{"user_id":"system","auth_method":"internal"},"pool_id":"pool-7","model_ref":"m","node_id":"node-1","replicas":2,"gpu_devices":[0,1]}`
	baseMod    = `{"type":"pool.modified","timestamp":"2026-11-27T10:00:09Z","actor":{"user_id":"admin","auth_method":"mtls"},"pool_id":"pool-7","changes":{"replicas":{"new":4,"old":2}}}`
	baseTask   = `{"type":"task.completed","timestamp":"2026-11-27T10:00:13Z","task_id":"task-99","worker_id":"worker-gpu-0","tokens_generated":480,"duration_ms":12,"result":{"status":"success"}}`
	baseSub    = `{"type":"task.submitted","timestamp":"2026-11-27T10:00:12Z","actor":{"user_id":"customer-123","auth_method":"api_key"},"task_id":"task-99","model_ref":"llama","prompt_length":1234,"prompt_hash":"` + hexA + `","max_tokens":512}`
	baseToken  = `{"type":"token.created","timestamp":"2026-11-27T10:00:02Z","actor":{"user_id":"admin","auth_method":"mtls"},"token_fingerprint":"token:0123456789abcdef","scope":["read:pools"],"expires_at":"2027-11-27T10:00:00Z"}`
	basePolicy = `{"type":"security.policy_violation","timestamp":"2026-11-27T10:00:24Z","policy":"vram_only","violation":"umd","details":"d","severity":"critical","worker_id":"worker-gpu-0","action_taken":"worker_stopped"}`
	baseRate   = `{"type":"security.rate_limit_exceeded","timestamp":"2026-11-27T10:00:21Z","ip":"203.0.113.9","endpoint":"/v2/tasks","limit":100,"actual":250,"window_seconds":60}`
	baseStart  = `{"type":"audit.sealer_started","timestamp":"2026-11-27T10:00:35Z","version":"1.0.0","mode":"production","key_id":"prod-key-1","key_kind":"pkcs11","algorithm":"ed25519","settings":{"a":"b"},"torn_tail_bytes":17,"torn_tail_kept_as":"torn.bin"}`
	baseKey    = `{"type":"audit.key_introduced","timestamp":"2026-11-27T10:00:39Z","key_id":"3f2a9c01","key_name":"k","algorithm":"ed25519","key_kind":"pkcs11","public_key":"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=","reason":"rotation"}`
	basePrune  = `{"type":"audit.retention_pruned","timestamp":"2026-11-27T10:00:41Z","first_seq":0,"last_seq":9,"segments":["a.seg"],"retention_days":2555,"reason":"expired"}`
	baseShed   = `{"type":"audit.events_shed","timestamp":"2026-11-27T10:00:37Z","count":10,"reason":"queue_full","critical_count":0,"first_at":"2026-11-27T10:00:36Z","last_at":"2026-11-27T10:00:36Z"}`
	baseErase  = `{"type":"compliance.gdpr_right_to_erasure","timestamp":"2026-11-27T10:00:34Z","customer_id":"c-1","completed_at":"2026-11-27T10:00:30Z","data_types_deleted":["logs"]}`
	baseAccess = `{"type":"data.model_accessed","timestamp":"2026-11-27T10:00:30Z","customer_id":"c-1","model_ref":"m","access_type":"download"}`
	baseExport = `{"type":"compliance.gdpr_data_export","timestamp":"2026-11-27T10:00:33Z","customer_id":"c-1","data_types":["logs"],"export_format":"csv","file_hash":"` + hexB + `"}`
	baseSusp   = `{"type":"security.suspicious_activity","timestamp":"2026-11-27T10:00:25Z","actor":{"user_id":"c-1","auth_method":"api_key"},"activity_type":"x","details":"d","risk_score":85}`
	baseAnchor = `{"type":"audit.anchor_state","timestamp":"2026-11-27T10:00:40Z","status":"crash_recovered","counter":42}`
	baseRead   = `{"type":"audit.log_read","timestamp":"2026-11-27T10:00:42Z","uid":1000,"gid":1000,"operation":"export","filters":{"since":"x"},"results":17}`
)

// rep replaces the single occurrence of old in s; it panics when old is
// missing so that a stale case cannot silently test the valid base.
func rep(s, old, new string) string {
	if strings.Count(s, old) != 1 {
		panic("rep: " + old + " occurs " + string(rune('0'+strings.Count(s, old))) + " times")
	}
	return strings.Replace(s, old, new, 1)
}

type rejectCase struct {
	name   string
	in     string
	field  string
	rule   string
	secret string // must not appear in the error message; "" means the S3CR3T marker
}

const marker = "S3CR3T"

var rejectCases = []rejectCase{
	// Framing and JSON syntax.
	{"empty input", "", "", RuleInvalidJSON, "-"},
	{"whitespace only", " \n", "", RuleInvalidJSON, "-"},
	{"array", `["S3CR3T"]`, "", RuleWrongType, ""},
	{"string", `"S3CR3T"`, "", RuleWrongType, ""},
	{"garbage", `S3CR3T`, "", RuleInvalidJSON, ""},
	{"truncated", baseDenied[:60], "", RuleInvalidJSON, "-"},
	{"truncated in value", baseDenied[:50], "timestamp", RuleInvalidJSON, "-"},
	{"missing colon", rep(baseDenied, `"action":"write"`, `"action" "S3CR3T"`), "action", RuleInvalidJSON, ""},
	{"trailing comma", rep(baseDenied, `"insufficient_permissions"}`, `"insufficient_permissions",}`), "", RuleInvalidJSON, "-"},
	{"single quotes", rep(baseDenied, `"action":"write"`, `"action":'S3CR3T'`), "action", RuleWrongType, ""},
	{"leading zero", rep(basePool, `"replicas":2`, `"replicas":02`), "", RuleInvalidJSON, "02"},
	{"NaN", rep(basePool, `"replicas":2`, `"replicas":NaN`), "replicas", RuleWrongType, "NaN"},
	{"raw control byte in string", rep(baseDenied, `"write"`, "\"S3CR3T\x01\""), "action", RuleInvalidJSON, ""},
	{"raw tab in string", rep(baseDenied, `"write"`, "\"S3CR3T\t\""), "action", RuleInvalidJSON, ""},
	{"bad escape", rep(baseDenied, `"write"`, `"S3CR3T\x41"`), "action", RuleInvalidJSON, ""},
	{"utf-8 BOM before object", "\xef\xbb\xbf" + baseDenied, "", RuleInvalidJSON, "-"},
	{"trailing data", baseDenied + ` "S3CR3T"`, "", RuleTrailingData, ""},
	{"second object", baseDenied + baseDenied, "", RuleTrailingData, "-"},
	{"too large", rep(baseDenied, `"write"`, `"`+strings.Repeat("S3CR3T ", 10000)+`"`), "", RuleTooLarge, ""},
	{"too deep before type", `{"x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `,"type":"authz.denied"}`, "x", RuleTooDeep, "-"},
	{"changes too deep", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":{"b":{"c":{"d":{"e":"S3CR3T"}}}}}`), "changes", RuleTooDeep, ""},
	{"changes array too deep", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":[[[["S3CR3T"]]]]}`), "changes", RuleTooDeep, ""},
	{"changes too large", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":"`+strings.Repeat("S3CR3T", 100)+`","b":"`+strings.Repeat("S3CR3T", 100)+`","c":"`+strings.Repeat("x", 1000)+`","d":"`+strings.Repeat("x", 1000)+`","e":"`+strings.Repeat("x", 1000)+`","f":"`+strings.Repeat("x", 1000)+`"}`), "changes", RuleTooLarge, ""},
	{"changes not an object", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `["S3CR3T"]`), "changes", RuleWrongType, ""},
	{"filters not an object", rep(baseRead, `{"since":"x"}`, `"S3CR3T"`), "filters", RuleWrongType, ""},
	{"too many settings", rep(baseStart, `{"a":"b"}`, manySettings(65)), "settings", RuleTooMany, "-"},

	// Duplicate keys at any depth, also through escapes.
	{"duplicate top-level key", rep(baseDenied, `"action":"write"`, `"action":"write","action":"S3CR3T"`), "action", RuleDuplicateKey, ""},
	{"duplicate via escape", rep(baseDenied, `"action":"write"`, `"action":"write","\u0061ction":"S3CR3T"`), "action", RuleDuplicateKey, ""},
	{"duplicate nested key", rep(baseDenied, `"user_id":"token:a3f2c1"`, `"user_id":"token:a3f2c1","user_id":"S3CR3T"`), "actor.user_id", RuleDuplicateKey, ""},
	{"duplicate null then value", rep(baseDenied, `"session_id":"sess-1"`, `"session_id":null,"session_id":"S3CR3T"`), "actor.session_id", RuleDuplicateKey, ""},
	{"duplicate type", rep(baseDenied, `"type":"authz.denied"`, `"type":"authz.denied","type":"authz.granted"`), "type", RuleDuplicateKey, "-"},
	{"duplicate in changes", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"replicas":{"new":4,"new":"S3CR3T"}}`), "changes", RuleDuplicateKey, ""},
	{"duplicate in changes via escape", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":1,"\u0061":"S3CR3T"}`), "changes", RuleDuplicateKey, ""},
	{"duplicate in settings", rep(baseStart, `{"a":"b"}`, `{"a":"b","a":"S3CR3T"}`), "settings", RuleDuplicateKey, ""},

	// Type.
	{"unknown type", rep(baseDenied, `"authz.denied"`, `"authz.S3CR3T"`), "type", RuleUnknownType, ""},
	{"dotted snake type", rep(baseDenied, `"authz.denied"`, `"authorization_denied"`), "type", RuleUnknownType, "authorization_denied"},
	{"type missing", rep(baseDenied, `"type":"authz.denied",`, ``), "type", RuleRequired, "-"},
	{"type null", rep(baseDenied, `"type":"authz.denied"`, `"type":null`), "type", RuleRequired, "-"},
	{"type not a string", rep(baseDenied, `"type":"authz.denied"`, `"type":12345`), "type", RuleWrongType, "12345"},
	{"empty object", `{}`, "type", RuleRequired, "-"},
	{"sealer type from a client", "client:" + baseStart, "type", RuleSealerTypeNotAllowed, "-"},

	// Fields.
	{"unknown field", rep(baseDenied, `"action":"write"`, `"action":"write","extra":"S3CR3T"`), "extra", RuleUnknownField, ""},
	{"unknown field in actor", rep(baseDenied, `"auth_method":"bearer_token"`, `"auth_method":"bearer_token","role":"S3CR3T"`), "actor.role", RuleUnknownField, ""},
	{"unknown field with unsafe name", rep(baseDenied, `"action":"write"`, `"action":"write","ghp_S3CR3TABCDEFGHIJKLMNOPQRSTUV":1`), "", RuleUnknownField, ""},
	{"unknown field with control name", rep(baseDenied, `"action":"write"`, `"action":"write","S3CR3T\u001b":1`), "", RuleUnknownField, ""},
	{"camel-case field", rep(baseDenied, `"action":"write"`, `"action":"write","userId":"S3CR3T"`), "", RuleUnknownField, ""},
	{"required missing", rep(baseDenied, `,"reason":"insufficient_permissions"`, ``), "reason", RuleRequired, "-"},
	{"required nested missing", rep(baseDenied, `,"auth_method":"bearer_token"`, ``), "actor.auth_method", RuleRequired, "-"},
	{"timestamp missing", rep(baseDenied, `"timestamp":"2026-11-27T10:00:05Z",`, ``), "timestamp", RuleRequired, "-"},
	{"required null", rep(baseDenied, `"action":"write"`, `"action":null`), "action", RuleRequired, "-"},
	{"actor null", rep(basePool, `{"user_id":"system","auth_method":"internal"}`, `null`), "actor", RuleRequired, "-"},
	{"array null", rep(basePool, `[0,1]`, `null`), "gpu_devices", RuleRequired, "-"},
	{"empty required string", rep(baseDenied, `"action":"write"`, `"action":""`), "action", RuleEmpty, "-"},
	{"empty optional string", rep(baseDenied, `"session_id":"sess-1"`, `"session_id":""`), "actor.session_id", RuleEmpty, "-"},
	{"empty array element", rep(baseToken, `["read:pools"]`, `["read:pools",""]`), "scope[1]", RuleEmpty, "-"},
	{"success with reason", rep(baseTask, `{"status":"success"}`, `{"status":"success","reason":"S3CR3T"}`), "result.reason", RuleUnknownField, ""},
	{"success with details", rep(baseTask, `{"status":"success"}`, `{"status":"success","details":"S3CR3T"}`), "result.details", RuleUnknownField, ""},
	{"failure without reason", rep(baseTask, `{"status":"success"}`, `{"status":"failure"}`), "result.reason", RuleRequired, "-"},
	{"failure with details", rep(baseTask, `{"status":"success"}`, `{"status":"failure","reason":"r","details":"S3CR3T"}`), "result.details", RuleUnknownField, ""},
	{"partial without details", rep(baseTask, `{"status":"success"}`, `{"status":"partial_success","reason":"S3CR3T"}`), "result.reason", RuleUnknownField, ""},
	{"partial missing details", rep(baseTask, `{"status":"success"}`, `{"status":"partial_success"}`), "result.details", RuleRequired, "-"},
	{"result unknown key", rep(baseTask, `{"status":"success"}`, `{"status":"success","code":"S3CR3T"}`), "result.code", RuleUnknownField, ""},

	// Wrong JSON types.
	{"number for string", rep(baseDenied, `"action":"write"`, `"action":12345`), "action", RuleWrongType, "12345"},
	{"string for object", rep(baseDenied, `"actor":{"user_id":"token:a3f2c1","ip":"192.168.1.100","auth_method":"bearer_token","session_id":"sess-1"}`, `"actor":"S3CR3T"`), "actor", RuleWrongType, ""},
	{"string for number", rep(basePool, `"replicas":2`, `"replicas":"S3CR3T"`), "replicas", RuleWrongType, ""},
	{"bool for number", rep(basePool, `"replicas":2`, `"replicas":true`), "replicas", RuleWrongType, "true"},
	{"string for array", rep(baseToken, `["read:pools"]`, `"S3CR3T"`), "scope", RuleWrongType, ""},
	{"number in string array", rep(baseToken, `["read:pools"]`, `["a",12345]`), "scope[1]", RuleWrongType, "12345"},
	{"string in number array", rep(basePool, `[0,1]`, `[0,"S3CR3T"]`), "gpu_devices[1]", RuleWrongType, ""},
	{"number for timestamp", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `1764237605`), "timestamp", RuleWrongType, "1764237605"},
	{"number for ip", rep(baseRate, `"203.0.113.9"`, `3405803785`), "ip", RuleWrongType, "3405803785"},
	{"number setting value", rep(baseStart, `{"a":"b"}`, `{"a":12345}`), "settings", RuleWrongType, "12345"},

	// Numbers.
	{"negative", rep(basePool, `"replicas":2`, `"replicas":-7`), "replicas", RuleOutOfRange, "-7"},
	{"negative zero", rep(basePool, `"replicas":2`, `"replicas":-0`), "replicas", RuleOutOfRange, "-0"},
	{"fraction", rep(basePool, `"replicas":2`, `"replicas":1.5`), "replicas", RuleOutOfRange, "1.5"},
	{"integral fraction", rep(basePool, `"replicas":2`, `"replicas":2.0`), "replicas", RuleOutOfRange, "2.0"},
	{"exponent", rep(basePool, `"replicas":2`, `"replicas":1e3`), "replicas", RuleOutOfRange, "1e3"},
	{"u32 overflow", rep(basePool, `"replicas":2`, `"replicas":4294967296`), "replicas", RuleOutOfRange, "4294967296"},
	{"u32 array overflow", rep(basePool, `[0,1]`, `[0,99999999999]`), "gpu_devices[1]", RuleOutOfRange, "99999999999"},
	{"u64 overflow", rep(baseSub, `"prompt_length":1234`, `"prompt_length":18446744073709551616`), "prompt_length", RuleOutOfRange, "18446744073709551616"},
	{"huge number", rep(baseSub, `"prompt_length":1234`, `"prompt_length":`+strings.Repeat("9", 400)), "prompt_length", RuleOutOfRange, "99999999999999999999"},
	{"risk score above 100", rep(baseSusp, `"risk_score":85`, `"risk_score":101`), "risk_score", RuleOutOfRange, "101"},
	{"optional u64 negative", rep(baseAnchor, `"counter":42`, `"counter":-42`), "counter", RuleOutOfRange, "-42"},

	// Lengths.
	{"text too long", rep(baseDenied, `"write"`, `"`+strings.Repeat("S3CR3T", 171)+`"`), "action", RuleTooLong, ""},
	{"identifier too long", rep(baseDenied, `"pool-7"`, `"`+strings.Repeat("S3CR3T", 43)+`"`), "resource.resource_id", RuleTooLong, ""},
	{"user id 2000 bytes", rep(baseDenied, `"token:a3f2c1"`, `"`+strings.Repeat("S3CR3T", 334)+`"`), "actor.user_id", RuleTooLong, ""},
	{"array element too long", rep(baseToken, `["read:pools"]`, `["`+strings.Repeat("S3CR3T", 171)+`"]`), "scope[0]", RuleTooLong, ""},
	{"changes string too long", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":"`+strings.Repeat("S3CR3T", 171)+`"}`), "changes", RuleTooLong, ""},
	{"setting value too long", rep(baseStart, `{"a":"b"}`, `{"a":"`+strings.Repeat("S3CR3T", 171)+`"}`), "settings", RuleTooLong, ""},

	// Characters.
	{"NUL", rep(baseDenied, `"write"`, `"S3CR3T\u0000"`), "action", RuleControlCharacter, ""},
	{"ESC", rep(baseDenied, `"write"`, `"S3CR3T\u001b[31m"`), "action", RuleControlCharacter, ""},
	{"BEL", rep(baseDenied, `"write"`, `"S3CR3T\u0007"`), "action", RuleControlCharacter, ""},
	{"backspace escape", rep(baseDenied, `"write"`, `"S3CR3T\b"`), "action", RuleControlCharacter, ""},
	{"DEL", rep(baseDenied, `"write"`, `"S3CR3T\u007f"`), "action", RuleControlCharacter, ""},
	{"C1 NEL", rep(baseDenied, `"write"`, `"S3CR3T`+"\u0085"+`"`), "action", RuleControlCharacter, ""},
	{"C1 escaped", rep(baseDenied, `"write"`, `"S3CR3T\u009b"`), "action", RuleControlCharacter, ""},
	{"control in details", rep(basePolicy, `"details":"d"`, `"details":"S3CR3T\u001b"`), "details", RuleControlCharacter, ""},
	{"control in array", rep(baseToken, `["read:pools"]`, `["ok","S3CR3T\u0000"]`), "scope[1]", RuleControlCharacter, ""},
	{"control in changes value", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":["S3CR3T\u001b"]}`), "changes", RuleControlCharacter, ""},
	{"control in changes key", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"S3CR3T\u0001":1}`), "changes", RuleControlCharacter, ""},
	{"control in setting key", rep(baseStart, `{"a":"b"}`, `{"S3CR3T\u0001":"b"}`), "settings", RuleControlCharacter, ""},
	{"RLO", rep(baseDenied, `"write"`, `"S3CR3T\u202e"`), "action", RuleBidiControl, ""},
	{"LRE raw", rep(baseDenied, `"write"`, `"S3CR3T`+"\u202a"+`"`), "action", RuleBidiControl, ""},
	{"RLM raw", rep(baseDenied, `"write"`, `"S3CR3T`+"\u200f"+`"`), "action", RuleBidiControl, ""},
	{"LRM", rep(baseDenied, `"write"`, `"S3CR3T\u200e"`), "action", RuleBidiControl, ""},
	{"ALM", rep(baseDenied, `"write"`, `"S3CR3T\u061c"`), "action", RuleBidiControl, ""},
	{"isolate", rep(baseDenied, `"write"`, `"S3CR3T\u2066x\u2069"`), "action", RuleBidiControl, ""},
	{"BOM in string", rep(baseDenied, `"write"`, `"\ufeffS3CR3T"`), "action", RuleBidiControl, ""},
	{"bidi in identifier", rep(baseDenied, `"pool-7"`, `"pool-S3CR3T\u202e"`), "resource.resource_id", RuleBidiControl, ""},
	{"CR", rep(baseDenied, `"insufficient_permissions"`, `"S3CR3T\r\n[ERROR] forged"`), "reason", RuleCRNotAllowed, ""},
	{"CR in details", rep(basePolicy, `"details":"d"`, `"details":"S3CR3T\r\nline2"`), "details", RuleCRNotAllowed, ""},
	{"LF", rep(baseDenied, `"insufficient_permissions"`, `"S3CR3T\n[ERROR] forged"`), "reason", RuleLFNotAllowed, ""},
	{"LF in identifier", rep(baseErase, `"c-1"`, `"c-S3CR3T\n"`), "customer_id", RuleLFNotAllowed, ""},
	{"LF in result reason", rep(baseTask, `{"status":"success"}`, `{"status":"failure","reason":"S3CR3T\nx"}`), "result.reason", RuleLFNotAllowed, ""},
	{"LF in changes", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":"S3CR3T\nx"}`), "changes", RuleLFNotAllowed, ""},
	{"invalid utf-8", rep(baseDenied, `"write"`, "\"S3CR3T\xff\""), "action", RuleInvalidUTF8, ""},
	{"overlong utf-8", rep(baseDenied, `"write"`, "\"S3CR3T\xc0\xaf\""), "action", RuleInvalidUTF8, ""},
	{"utf-8 surrogate", rep(baseDenied, `"write"`, "\"S3CR3T\xed\xa0\x80\""), "action", RuleInvalidUTF8, ""},
	{"truncated utf-8", rep(baseDenied, `"write"`, "\"S3CR3T\xe2\x82\""), "action", RuleInvalidUTF8, ""},
	{"lone surrogate escape", rep(baseDenied, `"write"`, `"S3CR3T\ud800"`), "action", RuleInvalidUTF8, ""},
	{"lone low surrogate escape", rep(baseDenied, `"write"`, `"S3CR3T\udc00x"`), "action", RuleInvalidUTF8, ""},
	{"invalid utf-8 in changes", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, "{\"a\":\"S3CR3T\xfe\"}"), "changes", RuleInvalidUTF8, ""},
	{"invalid utf-8 in changes key", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, "{\"S3CR3T\xfe\":1}"), "changes", RuleInvalidUTF8, ""},
	{"invalid utf-8 before type", "{\"x\":\"S3CR3T\xff\"," + baseDenied[1:], "x", RuleInvalidUTF8, ""},
	{"invalid utf-8 in array", rep(baseToken, `["read:pools"]`, "[\"S3CR3T\xff\"]"), "scope[0]", RuleInvalidUTF8, ""},

	// Identifiers.
	{"dotdot in pool id", rep(basePool, `"pool-7"`, `"pool-../../../etc/S3CR3T"`), "pool_id", RulePathSeparator, ""},
	{"slash in id", rep(baseDenied, `"pool-7"`, `"pool/S3CR3T"`), "resource.resource_id", RulePathSeparator, ""},
	{"backslash in id", rep(baseTask, `"worker-gpu-0"`, `"worker\\S3CR3T"`), "worker_id", RulePathSeparator, ""},
	{"dotdot in user id", rep(baseDenied, `"token:a3f2c1"`, `"a..S3CR3T"`), "actor.user_id", RulePathSeparator, ""},
	{"slash in requester", `{"type":"compliance.gdpr_data_access_request","timestamp":"2026-11-27T10:00:32Z","customer_id":"c","requester":"S3CR3T/x","scope":[]}`, "requester", RulePathSeparator, ""},
	{"slash in pools_affected", `{"type":"node.deregistered","timestamp":"2026-11-27T10:00:11Z","actor":{"user_id":"system","auth_method":"internal"},"node_id":"n","reason":"r","pools_affected":["ok","S3CR3T/.."]}`, "pools_affected[1]", RulePathSeparator, ""},
	{"slash in file name", rep(baseStart, `"torn.bin"`, `"../S3CR3T"`), "torn_tail_kept_as", RulePathSeparator, ""},
	{"file name dotdot", rep(baseStart, `"torn.bin"`, `".."`), "torn_tail_kept_as", RulePathSeparator, "-"},
	{"slash in segment", rep(basePrune, `["a.seg"]`, `["a.seg","/S3CR3T"]`), "segments[1]", RulePathSeparator, ""},

	// Hashes, fingerprints, keys.
	{"hash upper case", rep(baseSub, hexA, strings.ToUpper(hexA)), "prompt_hash", RuleNotHex64, strings.ToUpper(hexA)},
	{"hash too short", rep(baseSub, hexA, hexA[:63]), "prompt_hash", RuleNotHex64, hexA[:63]},
	{"hash not hex", rep(baseSub, hexA, "S3CR3T"+hexA[6:]), "prompt_hash", RuleNotHex64, ""},
	{"file hash sha256 prefix", rep(baseExport, `"`+hexB+`"`, `"sha256:`+hexB+`"`), "file_hash", RuleNotHex64, hexB},
	{"key id not hex", rep(baseKey, `"3f2a9c01"`, `"S3CR3T01"`), "key_id", RuleNotHex, ""},
	{"key id upper", rep(baseKey, `"3f2a9c01"`, `"3F2A9C01"`), "key_id", RuleNotHex, "3F2A9C01"},
	{"public key not base64", rep(baseKey, `"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE="`, `"S3CR3T!"`), "public_key", RuleNotBase64, ""},
	{"public key non-canonical bits", rep(baseKey, `"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE="`, `"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIF="`), "public_key", RuleNotBase64, "SIF="},
	{"public key unpadded", rep(baseKey, `"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE="`, `"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE"`), "public_key", RuleNotBase64, "SIE"},
	{"fingerprint without prefix", rep(baseToken, `"token:0123456789abcdef"`, `"0123456789abcdef"`), "token_fingerprint", RuleNotFingerprint, "0123456789abcdef"},
	{"fingerprint upper case", rep(baseToken, `"token:0123456789abcdef"`, `"token:0123456789ABCDEF"`), "token_fingerprint", RuleNotFingerprint, "ABCDEF"},
	{"fingerprint too short", rep(baseToken, `"token:0123456789abcdef"`, `"token:abcde"`), "token_fingerprint", RuleNotFingerprint, "abcde"},
	{"fingerprint too long", rep(baseToken, `"token:0123456789abcdef"`, `"token:`+hexA+`0"`), "token_fingerprint", RuleNotFingerprint, hexA},
	{"raw token as fingerprint", rep(baseToken, `"token:0123456789abcdef"`, `"S3CR3Tabcdefghijklmnop"`), "token_fingerprint", RuleNotFingerprint, ""},
	{"user id token not fingerprint", rep(baseDenied, `"token:a3f2c1"`, `"token:S3CR3T"`), "actor.user_id", RuleNotFingerprint, ""},
	{"attempted user token not fingerprint", `{"type":"auth.failure","timestamp":"2026-11-27T10:00:01Z","attempted_user":"token:S3CR3T","reason":"r","ip":"10.0.0.1","path":"/","service_id":"s"}`, "attempted_user", RuleNotFingerprint, ""},
	{"subject token not fingerprint", `{"type":"authz.permission_changed","timestamp":"2026-11-27T10:00:06Z","actor":{"user_id":"admin","auth_method":"mtls"},"subject":"token:S3CR3T","old_permissions":[],"new_permissions":[]}`, "subject", RuleNotFingerprint, ""},

	// Credentials.
	{"bearer header", rep(baseDenied, `"insufficient_permissions"`, `"Bearer S3CR3TeyJhbGciOiJIUzI1NiJ9"`), "reason", RuleLooksLikeCredential, ""},
	{"bearer lower case", rep(baseDenied, `"insufficient_permissions"`, `"header was: bearer S3CR3Tabcdefgh"`), "reason", RuleLooksLikeCredential, ""},
	{"jwt", rep(baseDenied, `"insufficient_permissions"`, `"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTM0NSM1QifQ.S3CR3T"`), "reason", RuleLooksLikeCredential, "eyJhbGci"},
	{"jwt in user id", rep(baseDenied, `"token:a3f2c1"`, `"eyJhbGciOiJIUzI1NiJ9.S3CR3T"`), "actor.user_id", RuleLooksLikeCredential, ""},
	{"openai key", rep(baseDenied, `"write"`, `"sk-proj-S3CR3T1234567890abcdef"`), "action", RuleLooksLikeCredential, ""},
	{"stripe key", rep(baseDenied, `"write"`, `"sk_live_S3CR3T1234567890abcdef"`), "action", RuleLooksLikeCredential, ""},
	{"github token", rep(baseDenied, `"write"`, `"token=ghp_S3CR3T1234567890abcdefABCDEF"`), "action", RuleLooksLikeCredential, ""},
	{"github pat", rep(baseDenied, `"write"`, `"github_pat_S3CR3T1234567890abcdef_XYZ"`), "action", RuleLooksLikeCredential, ""},
	{"gitlab pat", rep(baseDenied, `"write"`, `"glpat-S3CR3T1234567890abcdef"`), "action", RuleLooksLikeCredential, ""},
	{"slack token", rep(baseDenied, `"write"`, `"xoxb-S3CR3T-123456"`), "action", RuleLooksLikeCredential, ""},
	{"aws key id", rep(baseDenied, `"write"`, `"AKIAS3CR3T0123456789"`), "action", RuleLooksLikeCredential, "S3CR3T"},
	{"pem block", rep(basePolicy, `"details":"d"`, `"details":"key:\n-----BEGIN PRIVATE KEY-----\nS3CR3T"`), "details", RuleLooksLikeCredential, ""},
	{"credential in array", rep(baseToken, `["read:pools"]`, `["sk-S3CR3T1234567890abcdefghij"]`), "scope[0]", RuleLooksLikeCredential, ""},
	{"credential in changes", rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"token":"ghp_S3CR3T1234567890abcdefABCDEF"}`), "changes", RuleLooksLikeCredential, ""},
	{"credential in setting", rep(baseStart, `{"a":"b"}`, `{"pin":"Bearer S3CR3T0123456789"}`), "settings", RuleLooksLikeCredential, ""},

	// IP addresses.
	{"ip out of range", rep(baseRate, `"203.0.113.9"`, `"999.1.1.1"`), "ip", RuleInvalidIP, "999.1.1.1"},
	{"ip leading zero", rep(baseRate, `"203.0.113.9"`, `"010.1.1.1"`), "ip", RuleInvalidIP, "010.1.1.1"},
	{"ip with zone", rep(baseRate, `"203.0.113.9"`, `"fe80::1%S3CR3T"`), "ip", RuleInvalidIP, ""},
	{"ip garbage", rep(baseDenied, `"192.168.1.100"`, `"S3CR3T"`), "actor.ip", RuleInvalidIP, ""},
	{"ip with port", rep(baseRate, `"203.0.113.9"`, `"203.0.113.9:4431"`), "ip", RuleInvalidIP, "4431"},
	{"ip empty", rep(baseRate, `"203.0.113.9"`, `""`), "ip", RuleInvalidIP, "-"},
	{"ip missing", rep(baseRate, `"ip":"203.0.113.9",`, ``), "ip", RuleRequired, "-"},

	// Timestamps.
	{"timestamp with space", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27 10:00:05Z"`), "timestamp", RuleInvalidTimestamp, "10:00:05"},
	{"timestamp not utc", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T11:00:05+01:00"`), "timestamp", RuleInvalidTimestamp, "11:00:05"},
	{"timestamp unknown offset", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:05-00:00"`), "timestamp", RuleInvalidTimestamp, "10:00:05"},
	{"timestamp lower-case z", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:05z"`), "timestamp", RuleInvalidTimestamp, "10:00:05"},
	{"timestamp no zone", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:05"`), "timestamp", RuleInvalidTimestamp, "10:00:05"},
	{"timestamp feb 30", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-02-30T10:00:05Z"`), "timestamp", RuleInvalidTimestamp, "02-30"},
	{"timestamp hour 24", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T24:00:05Z"`), "timestamp", RuleInvalidTimestamp, "24:00"},
	{"timestamp leap second", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:60Z"`), "timestamp", RuleInvalidTimestamp, "10:00:60"},
	{"timestamp 10 fraction digits", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:05.1234567890Z"`), "timestamp", RuleInvalidTimestamp, "1234567890"},
	{"timestamp empty fraction", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:05.Z"`), "timestamp", RuleInvalidTimestamp, "10:00:05"},
	{"timestamp date only", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27"`), "timestamp", RuleInvalidTimestamp, "2026-11-27"},
	{"timestamp unix", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"1764237605"`), "timestamp", RuleInvalidTimestamp, "1764237605"},
	{"timestamp 25h ahead", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-28T13:00:00.000000001Z"`), "timestamp", RuleTimestampInFuture, "2026-11-28"},
	{"completed_at ahead", rep(baseErase, `"2026-11-27T10:00:30Z"`, `"2027-01-01T00:00:00Z"`), "completed_at", RuleTimestampInFuture, "2027-01-01"},
	{"last_at ahead", rep(baseShed, `"last_at":"2026-11-27T10:00:36Z"`, `"last_at":"2030-01-01T00:00:00Z"`), "last_at", RuleTimestampInFuture, "2030-01-01"},
	{"expires_at beyond 100 years", rep(baseToken, `"2027-11-27T10:00:00Z"`, `"2126-11-28T00:00:00Z"`), "expires_at", RuleTimestampInFuture, "2126-11-28"},
	{"timestamp before 2000", rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"1999-12-31T23:59:59.999Z"`), "timestamp", RuleTimestampTooOld, "1999-12-31"},
	{"expires_at before 2000", rep(baseToken, `"2027-11-27T10:00:00Z"`, `"1970-01-01T00:00:00Z"`), "expires_at", RuleTimestampTooOld, "1970-01-01"},

	// Enums.
	{"auth method upper case", rep(baseDenied, `"auth_method":"bearer_token"`, `"auth_method":"Bearer_Token"`), "actor.auth_method", RuleInvalidEnum, "Bearer_Token"},
	{"auth method rust spelling", rep(baseDenied, `"auth_method":"bearer_token"`, `"auth_method":"m_tls"`), "actor.auth_method", RuleInvalidEnum, "m_tls"},
	{"severity upper case", rep(basePolicy, `"critical"`, `"CRITICAL"`), "severity", RuleInvalidEnum, "CRITICAL"},
	{"severity unknown", rep(basePolicy, `"critical"`, `"S3CR3T"`), "severity", RuleInvalidEnum, ""},
	{"access type", rep(baseAccess, `"download"`, `"upload"`), "access_type", RuleInvalidEnum, "upload"},
	{"export format", rep(baseExport, `"csv"`, `"xml"`), "export_format", RuleInvalidEnum, "xml"},
	{"result status", rep(baseTask, `"success"`, `"ok"`), "result.status", RuleInvalidEnum, `"ok"`},
	{"fips140 upper case", rep(baseStart, `"torn.bin"}`, `"torn.bin","fips140":"ON"}`), "fips140", RuleInvalidEnum, "ON"},
	{"fips140 as a boolean word", rep(baseStart, `"torn.bin"}`, `"torn.bin","fips140":"enabled"}`), "fips140", RuleInvalidEnum, "enabled"},
	{"fips140 empty", rep(baseStart, `"torn.bin"}`, `"torn.bin","fips140":""}`), "fips140", RuleEmpty, "-"},
	{"hsm_fips unknown", rep(baseStart, `"torn.bin"}`, `"torn.bin","hsm_fips":"fips"}`), "hsm_fips", RuleInvalidEnum, `"fips"`},
	{"result status upper", rep(baseTask, `"success"`, `"SUCCESS"`), "result.status", RuleInvalidEnum, "SUCCESS"},
	{"result tagged like serde", rep(baseTask, `{"status":"success"}`, `"success"`), "result", RuleWrongType, "-"},
	{"sealer mode", rep(baseStart, `"production"`, `"staging"`), "mode", RuleInvalidEnum, "staging"},
	{"algorithm", rep(baseStart, `"ed25519"`, `"rsa-2048"`), "algorithm", RuleInvalidEnum, "rsa-2048"},
	{"key kind", rep(baseKey, `"pkcs11"`, `"tpm"`), "key_kind", RuleInvalidEnum, `"tpm"`},
	{"anchor status", rep(baseAnchor, `"crash_recovered"`, `"rolled_back"`), "status", RuleInvalidEnum, "rolled_back"},
	{"log operation", rep(baseRead, `"export"`, `"delete"`), "operation", RuleInvalidEnum, "delete"},
}

func manySettings(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + string(rune('a'+i/26)) + string(rune('a'+i%26)) + `":"v"`)
	}
	b.WriteString("}")
	return b.String()
}

func TestRejections(t *testing.T) {
	for _, tc := range rejectCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts
			in := tc.in
			if rest, ok := strings.CutPrefix(in, "client:"); ok {
				in, opts.AllowSealerEvents = rest, false
			}
			secret := tc.secret
			if secret == "" {
				secret = marker
				if !strings.Contains(in, marker) {
					t.Fatalf("case does not contain the %s marker", marker)
				}
			}
			e, err := Decode([]byte(in), opts)
			if e != nil {
				t.Errorf("Decode returned an event with an error")
			}
			assertRule(t, err, tc.field, tc.rule)
			if secret != "-" && strings.Contains(err.Error(), secret) {
				t.Fatalf("message %q echoes the offending value", err)
			}
			// The verifier's check refuses with the same explanation.
			_, err = CheckCanonical([]byte(in), opts)
			assertRule(t, err, tc.field, tc.rule)
			clk := newClock(testNow)
			if checkCanonicalFast([]byte(in), &clk, opts.AllowSealerEvents) != nil {
				t.Fatal("fast canonical check accepted an invalid event")
			}
		})
	}
}

// TestEveryRuleIsCovered makes sure the rejection table exercises every rule
// code that Decode can produce.
func TestEveryRuleIsCovered(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range rejectCases {
		seen[tc.rule] = true
	}
	for _, rule := range []string{
		RuleInvalidJSON, RuleInvalidUTF8, RuleTooLarge, RuleTooDeep, RuleTooMany, RuleTrailingData,
		RuleDuplicateKey, RuleUnknownType, RuleSealerTypeNotAllowed, RuleUnknownField, RuleRequired,
		RuleEmpty, RuleWrongType, RuleOutOfRange, RuleTooLong, RuleControlCharacter, RuleBidiControl,
		RuleCRNotAllowed, RuleLFNotAllowed, RulePathSeparator, RuleNotHex64, RuleNotHex, RuleNotBase64,
		RuleNotFingerprint, RuleLooksLikeCredential, RuleInvalidIP, RuleInvalidTimestamp,
		RuleTimestampInFuture, RuleTimestampTooOld, RuleInvalidEnum,
	} {
		if !seen[rule] {
			t.Errorf("no rejection case for rule %s", rule)
		}
	}
	// not_canonical and nil_event come from CheckCanonical and Encode and are
	// tested in TestValidExamplesRoundTrip and TestEncodeNilEvent.
}
