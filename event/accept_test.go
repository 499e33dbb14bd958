package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Inputs that must be accepted, with their canonical encoding.
var acceptCases = []struct {
	name string
	in   string
	want string
}{
	{"null optionals are omitted",
		rep(baseDenied, `"ip":"192.168.1.100"`, `"ip":null`),
		rep(baseDenied, `"ip":"192.168.1.100",`, ``)},
	{"null session",
		rep(baseDenied, `"session_id":"sess-1"`, `"session_id":null`),
		rep(baseDenied, `,"session_id":"sess-1"`, ``)},
	{"+00:00 offset and trailing zeros",
		rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:05.120000+00:00"`),
		rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:05.12Z"`)},
	{"zero fraction",
		rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:05.000Z"`),
		baseDenied},
	{"escapes are decoded",
		rep(baseDenied, `"write"`, `"\u0077rite\/x \u00e9 \ud83d\ude00"`),
		rep(baseDenied, `"write"`, `"write/x é 😀"`)},
	{"members in any order with whitespace",
		` { "reason" : "insufficient_permissions" , "action":"write", "resource":{"resource_id":"pool-7","resource_type":"pool"},` + "\n\t" +
			`"actor":{"session_id":"sess-1","auth_method":"bearer_token","ip":"192.168.1.100","user_id":"token:a3f2c1"},"timestamp":"2026-11-27T10:00:05Z","type":"authz.denied"}` + "\r\n",
		baseDenied},
	{"changes are sorted and compacted, numbers kept",
		rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{ "z" : [1.0, 1E5, -0, true, false, null, {}], "a":{"b":{"c":[]}}, "é":"\u00e9", "E":"x\ty", "":"" }`),
		rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"":"","E":"x\ty","a":{"b":{"c":[]}},"z":[1.0,1E5,-0,true,false,null,{}],"é":"é"}`)},
	{"changes at depth 4",
		rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":{"b":{"c":{}}}}`),
		rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":{"b":{"c":{}}}}`)},
	{"changes keys sorted by decoded bytes",
		rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a ":1,"a\t":2,"a\\":3,"a\"":4}`),
		rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a\t":2,"a ":1,"a\"":4,"a\\":3}`)},
	{"settings sorted",
		rep(baseStart, `{"a":"b"}`, `{"z":"1","a":"","m":"/var/lib"}`),
		rep(baseStart, `{"a":"b"}`, `{"a":"","m":"/var/lib","z":"1"}`)},
	{"64 settings",
		rep(baseStart, `{"a":"b"}`, manySettings(64)),
		rep(baseStart, `{"a":"b"}`, manySettings(64))},
	{"text of 1024 bytes",
		rep(baseDenied, `"write"`, `"`+strings.Repeat("é", 512)+`"`),
		rep(baseDenied, `"write"`, `"`+strings.Repeat("é", 512)+`"`)},
	{"identifier of 256 bytes",
		rep(baseDenied, `"pool-7"`, `"`+strings.Repeat("p", 256)+`"`),
		rep(baseDenied, `"pool-7"`, `"`+strings.Repeat("p", 256)+`"`)},
	{"tab and html characters",
		rep(baseDenied, `"write"`, `"a\tb <script>&amp;</script> 'q' \"d\" \\"`),
		rep(baseDenied, `"write"`, `"a\tb <script>&amp;</script> 'q' \"d\" \\"`)},
	{"zero-width joiner and line separator are not bidi controls",
		rep(baseDenied, `"write"`, "\"a\u200db\u2028c\""),
		rep(baseDenied, `"write"`, "\"a\u200db\u2028c\"")},
	{"credential near misses",
		rep(baseDenied, `"insufficient_permissions"`, `"bearer token expired; sk-east-1; eyJ; ghp_short; AKIA123; Basic auth; -----END"`),
		rep(baseDenied, `"insufficient_permissions"`, `"bearer token expired; sk-east-1; eyJ; ghp_short; AKIA123; Basic auth; -----END"`)},
	{"token: in free text",
		rep(baseDenied, `"insufficient_permissions"`, `"token:expired"`),
		rep(baseDenied, `"insufficient_permissions"`, `"token:expired"`)},
	{"single dots in identifiers",
		rep(baseDenied, `"pool-7"`, `"pool.7.a"`),
		rep(baseDenied, `"pool-7"`, `"pool.7.a"`)},
	{"ipv6 is canonicalised",
		rep(baseRate, `"203.0.113.9"`, `"2001:DB8:0:0:0:0:0:1"`),
		rep(baseRate, `"203.0.113.9"`, `"2001:db8::1"`)},
	{"ipv4-mapped ipv6 kept",
		rep(baseRate, `"203.0.113.9"`, `"::ffff:203.0.113.9"`),
		rep(baseRate, `"203.0.113.9"`, `"::ffff:203.0.113.9"`)},
	{"result with null reason",
		rep(baseTask, `{"status":"success"}`, `{"reason":null,"status":"success","details":null}`),
		baseTask},
	{"optional result null",
		`{"type":"seal.verified","timestamp":"2026-11-27T10:00:16Z","shard_id":"s","worker_id":"w","result":null}`,
		`{"type":"seal.verified","timestamp":"2026-11-27T10:00:16Z","shard_id":"s","worker_id":"w"}`},
	{"optional numbers null",
		rep(baseStart, `"torn_tail_bytes":17`, `"torn_tail_bytes":null`),
		rep(baseStart, `"torn_tail_bytes":17,`, ``)},
	{"timestamp exactly 24h ahead",
		rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-28T12:00:00Z"`),
		rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2026-11-28T12:00:00Z"`)},
	{"expires_at 99 years ahead",
		rep(baseToken, `"2027-11-27T10:00:00Z"`, `"2125-11-27T10:00:00Z"`),
		rep(baseToken, `"2027-11-27T10:00:00Z"`, `"2125-11-27T10:00:00Z"`)},
	{"year 2000",
		rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2000-01-01T00:00:00Z"`),
		rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2000-01-01T00:00:00Z"`)},
	{"leap day",
		rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2024-02-29T23:59:59.999999999Z"`),
		rep(baseDenied, `"2026-11-27T10:00:05Z"`, `"2024-02-29T23:59:59.999999999Z"`)},
	{"attempted path may hold separators",
		`{"type":"security.path_traversal_attempt","timestamp":"2026-11-27T10:00:22Z","actor":{"user_id":"u","auth_method":"api_key"},"attempted_path":"..\\..\\windows/..//x","endpoint":"/f"}`,
		`{"type":"security.path_traversal_attempt","timestamp":"2026-11-27T10:00:22Z","actor":{"user_id":"u","auth_method":"api_key"},"attempted_path":"..\\..\\windows/..//x","endpoint":"/f"}`},
	{"fingerprint of 6 and of 64 hex digits",
		rep(rep(baseDenied, `"token:a3f2c1"`, `"token:`+hexA+`"`), `"write"`, `"token:abcdef"`),
		rep(rep(baseDenied, `"token:a3f2c1"`, `"token:`+hexA+`"`), `"write"`, `"token:abcdef"`)},
	{"u64 max and u32 max",
		rep(rep(baseSub, `"prompt_length":1234`, `"prompt_length":18446744073709551615`), `"max_tokens":512`, `"max_tokens":4294967295`),
		rep(rep(baseSub, `"prompt_length":1234`, `"prompt_length":18446744073709551615`), `"max_tokens":512`, `"max_tokens":4294967295`)},
}

func TestAcceptedVariants(t *testing.T) {
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode([]byte(tc.in), testOpts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			out, err := AppendEncode(nil, e, testNow)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if string(out) != tc.want {
				t.Fatalf("canonical form\n got %s\nwant %s", out, tc.want)
			}
			if typ, err := CheckCanonical(out, testOpts); err != nil || typ != e.EventType() {
				t.Fatalf("CheckCanonical(canonical) = %q, %v", typ, err)
			}
			clk := newClock(testNow)
			if checkCanonicalFast(out, &clk, true) == nil {
				t.Fatal("fast canonical check refused the canonical form")
			}
			if (tc.in == tc.want) != (checkCanonicalFast([]byte(tc.in), &clk, true) != nil) {
				t.Fatal("fast canonical check disagrees on the input")
			}
			_, err = CheckCanonical([]byte(tc.in), testOpts)
			if tc.in == tc.want {
				if err != nil {
					t.Fatalf("CheckCanonical(input) = %v", err)
				}
			} else {
				assertRule(t, err, "", RuleNotCanonical)
			}
		})
	}
}

// An input just under the size limit whose canonical form would exceed it
// (an IPv4-mapped address spelled in hex grows when canonicalised) is
// refused, and an input of exactly the limit is accepted.
func TestSizeLimitIsOnTheCanonicalForm(t *testing.T) {
	build := func(ip string, size int) []byte {
		head := `{"type":"token.created","timestamp":"2026-11-27T10:00:02Z","actor":{"user_id":"admin","ip":"` + ip + `","auth_method":"mtls"},"token_fingerprint":"token:abcdef","scope":[`
		tail := `]}`
		var b strings.Builder
		b.WriteString(head)
		room := size - len(head) - len(tail)
		for room > 0 {
			n := min(1000, room-3) // `"x",`
			if b.Len() > len(head) {
				b.WriteString(",")
				room--
				n = min(1000, room-2)
			}
			b.WriteString(`"` + strings.Repeat("s", n) + `"`)
			room -= n + 2
		}
		b.WriteString(tail)
		if b.Len() != size {
			t.Fatalf("built %d bytes, want %d", b.Len(), size)
		}
		return []byte(b.String())
	}
	grows := build("::ffff:a:a", MaxEncodedSize-3)
	_, err := Decode(grows, testOpts)
	assertRule(t, err, "", RuleTooLarge)

	exact := build("10.0.0.10", MaxEncodedSize)
	e, err := Decode(exact, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := AppendEncode(nil, e, testNow)
	if err != nil || !bytes.Equal(out, exact) {
		t.Fatalf("Encode: %v", err)
	}
	if _, err := CheckCanonical(exact, testOpts); err != nil {
		t.Fatal(err)
	}
	clk := newClock(testNow)
	if checkCanonicalFast(exact, &clk, true) == nil {
		t.Fatal("fast canonical check refused an event of exactly the limit")
	}
	over := build("10.0.0.10", MaxEncodedSize+1)
	_, err = Decode(over, testOpts)
	assertRule(t, err, "", RuleTooLarge)
	_, err = CheckCanonical(over, testOpts)
	assertRule(t, err, "", RuleTooLarge)
}

// Events built in Go, as the client package will build them.
func TestGoConstructedEvents(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	ev := &PoolModified{
		Timestamp: time.Date(2026, 11, 27, 11, 0, 0, 500_000_000, paris),
		Actor:     Actor{UserID: "admin", IP: netip.MustParseAddr("10.0.0.1"), AuthMethod: AuthMTLS},
		PoolID:    "pool-7",
		Changes:   json.RawMessage(`{ "replicas": { "old": 2, "new": 4 } }`),
	}
	if err := Validate(ev, testNow); err != nil {
		t.Fatal(err)
	}
	out, err := AppendEncode(nil, ev, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"pool.modified","timestamp":"2026-11-27T10:00:00.5Z","actor":{"user_id":"admin","ip":"10.0.0.1","auth_method":"mtls"},"pool_id":"pool-7","changes":{"replicas":{"new":4,"old":2}}}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	if !ev.EventTime().Equal(ev.Timestamp) || ev.EventTime().Location() != time.UTC {
		t.Fatal("EventTime must be the timestamp in UTC")
	}

	counter := uint64(0)
	anchor := &AnchorState{Timestamp: testNow, Status: AnchorProvisioned, Counter: &counter, Expected: Optional[uint64](7)}
	started := &SealerStarted{Timestamp: testNow, Version: "1", Mode: ModeDev, KeyID: "k", KeyKind: KeySoftware, Algorithm: AlgEd25519}
	task := &TaskCompleted{Timestamp: testNow, TaskID: "t", WorkerID: "w", Result: PartialSuccess("2 of 3")}
	seal := &SealVerified{Timestamp: testNow, ShardID: "s", WorkerID: "w", Result: &Result{Status: StatusSuccess}}
	infer := &InferenceExecuted{Timestamp: testNow, CustomerID: "c", JobID: "j", ModelRef: "m", Result: Failure("oom")}
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{anchor, `{"type":"audit.anchor_state","timestamp":"2026-11-27T12:00:00Z","status":"provisioned","counter":0,"expected":7}`},
		{started, `{"type":"audit.sealer_started","timestamp":"2026-11-27T12:00:00Z","version":"1","mode":"dev","key_id":"k","key_kind":"software","algorithm":"ed25519","settings":{}}`},
		{task, `{"type":"task.completed","timestamp":"2026-11-27T12:00:00Z","task_id":"t","worker_id":"w","tokens_generated":0,"duration_ms":0,"result":{"status":"partial_success","details":"2 of 3"}}`},
		{seal, `{"type":"seal.verified","timestamp":"2026-11-27T12:00:00Z","shard_id":"s","worker_id":"w","result":{"status":"success"}}`},
		{infer, `{"type":"data.inference_executed","timestamp":"2026-11-27T12:00:00Z","customer_id":"c","job_id":"j","model_ref":"m","tokens_processed":0,"result":{"status":"failure","reason":"oom"}}`},
		{&NodeDeregistered{Timestamp: testNow, Actor: Actor{UserID: "system", AuthMethod: AuthInternal}, NodeID: "n", Reason: "r"},
			`{"type":"node.deregistered","timestamp":"2026-11-27T12:00:00Z","actor":{"user_id":"system","auth_method":"internal"},"node_id":"n","reason":"r","pools_affected":[]}`},
	} {
		out, err := AppendEncode(nil, tc.e, testNow)
		if err != nil || string(out) != tc.want {
			t.Errorf("%s: got %s, %v\nwant %s", tc.e.EventType(), out, err, tc.want)
		}
	}

	// Rules apply to Go values too.
	ok := func() *AuthzDenied {
		return &AuthzDenied{
			Timestamp: testNow,
			Actor:     Actor{UserID: "u", AuthMethod: AuthAPIKey},
			Resource:  Resource{ResourceType: "pool", ResourceID: "p"},
			Action:    "write", Reason: "denied",
		}
	}
	if err := Validate(ok(), testNow); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		e     Event
		field string
		rule  string
	}{
		{"zero timestamp", func() Event { e := ok(); e.Timestamp = time.Time{}; return e }(), "timestamp", RuleRequired},
		{"missing user", func() Event { e := ok(); e.Actor.UserID = ""; return e }(), "actor.user_id", RuleRequired},
		{"missing auth method", func() Event { e := ok(); e.Actor.AuthMethod = ""; return e }(), "actor.auth_method", RuleRequired},
		{"bad auth method", func() Event { e := ok(); e.Actor.AuthMethod = "password"; return e }(), "actor.auth_method", RuleInvalidEnum},
		{"ip with zone", func() Event { e := ok(); e.Actor.IP = netip.MustParseAddr("fe80::1%eth0"); return e }(), "actor.ip", RuleInvalidIP},
		{"invalid utf-8", func() Event { e := ok(); e.Reason = "a\xffb"; return e }(), "reason", RuleInvalidUTF8},
		{"future", func() Event { e := ok(); e.Timestamp = testNow.Add(25 * time.Hour); return e }(), "timestamp", RuleTimestampInFuture},
		{"resource id slash", func() Event { e := ok(); e.Resource.ResourceID = "a/b"; return e }(), "resource.resource_id", RulePathSeparator},
		{"success with reason", &TaskCompleted{Timestamp: testNow, TaskID: "t", WorkerID: "w", Result: Result{Status: StatusSuccess, Reason: "x"}}, "result.reason", RuleUnknownField},
		{"failure without reason", &TaskCompleted{Timestamp: testNow, TaskID: "t", WorkerID: "w", Result: Failure("")}, "result.reason", RuleRequired},
		{"zero result", &TaskCompleted{Timestamp: testNow, TaskID: "t", WorkerID: "w"}, "result.status", RuleRequired},
		{"risk score", &SuspiciousActivity{Timestamp: testNow, Actor: Actor{UserID: "u", AuthMethod: AuthAPIKey}, ActivityType: "a", Details: "d", RiskScore: 101}, "risk_score", RuleOutOfRange},
		{"changes missing", &PoolModified{Timestamp: testNow, Actor: Actor{UserID: "u", AuthMethod: AuthAPIKey}, PoolID: "p"}, "changes", RuleRequired},
		{"changes null", &PoolModified{Timestamp: testNow, Actor: Actor{UserID: "u", AuthMethod: AuthAPIKey}, PoolID: "p", Changes: json.RawMessage("null")}, "changes", RuleRequired},
		{"changes malformed", &PoolModified{Timestamp: testNow, Actor: Actor{UserID: "u", AuthMethod: AuthAPIKey}, PoolID: "p", Changes: json.RawMessage(`{"a":}`)}, "changes", RuleInvalidJSON},
		{"changes trailing", &PoolModified{Timestamp: testNow, Actor: Actor{UserID: "u", AuthMethod: AuthAPIKey}, PoolID: "p", Changes: json.RawMessage(`{} {}`)}, "changes", RuleTrailingData},
		{"changes array", &PoolModified{Timestamp: testNow, Actor: Actor{UserID: "u", AuthMethod: AuthAPIKey}, PoolID: "p", Changes: json.RawMessage(`[1]`)}, "changes", RuleWrongType},
		{"filters duplicate", &LogRead{Timestamp: testNow, Operation: OpQuery, Filters: json.RawMessage(`{"a":1,"a":2}`)}, "filters", RuleDuplicateKey},
		{"too many settings", &SealerStarted{Timestamp: testNow, Version: "1", Mode: ModeDev, KeyID: "k", KeyKind: KeySoftware, Algorithm: AlgEd25519, Settings: bigMap(65)}, "settings", RuleTooMany},
		{"empty setting key", &SealerStarted{Timestamp: testNow, Version: "1", Mode: ModeDev, KeyID: "k", KeyKind: KeySoftware, Algorithm: AlgEd25519, Settings: map[string]string{"": "x"}}, "settings", RuleEmpty},
		{"empty scope entry", &TokenCreated{Timestamp: testNow, Actor: Actor{UserID: "u", AuthMethod: AuthAPIKey}, TokenFingerprint: "token:abcdef", Scope: []string{""}}, "scope[0]", RuleEmpty},
		{"raw token", &TokenRevoked{Timestamp: testNow, Actor: Actor{UserID: "u", AuthMethod: AuthAPIKey}, TokenFingerprint: "eyJhbGciOiJIUzI1NiJ9.e30.x", Reason: "r"}, "token_fingerprint", RuleNotFingerprint},
		{"expiry too far", &TokenCreated{Timestamp: testNow, Actor: Actor{UserID: "u", AuthMethod: AuthAPIKey}, TokenFingerprint: "token:abcdef", ExpiresAt: testNow.AddDate(101, 0, 0)}, "expires_at", RuleTimestampInFuture},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertRule(t, Validate(tc.e, testNow), tc.field, tc.rule)
			_, err := AppendEncode(nil, tc.e, testNow)
			assertRule(t, err, tc.field, tc.rule)
		})
	}
}

func bigMap(n int) map[string]string {
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[strings.Repeat("k", i+1)] = "v"
	}
	return m
}

// TestTimestampFormatMatchesRFC3339Nano checks the hand-written timestamp
// parser and formatter against the time package.
func TestTimestampFormatMatchesRFC3339Nano(t *testing.T) {
	tm := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2130, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 7*time.Hour + 13*time.Minute + 17*time.Second + 123456789
	for i := 0; tm.Before(end); i++ {
		tm = tm.Add(step)
		ns := []int{0, 100_000_000, 120_000_000, 123_000_000, 123_456_000, 1, 999_999_999}[i%7]
		t1 := time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(), ns, time.UTC)
		want := t1.Format(time.RFC3339Nano)
		sec, nsec := timeParts(t1)
		got := string(appendTimestamp(nil, sec, nsec))
		if got != want {
			t.Fatalf("appendTimestamp = %s, want %s", got, want)
		}
		psec, pnsec, canonical, ok := parseTimestamp(want)
		if !ok || !canonical || psec != sec || pnsec != nsec {
			t.Fatalf("parseTimestamp(%s) = %d %d %v %v", want, psec, pnsec, canonical, ok)
		}
		alt := strings.TrimSuffix(want, "Z") + "+00:00"
		if _, _, canonical, ok := parseTimestamp(alt); !ok || canonical {
			t.Fatalf("parseTimestamp(%s): ok %v canonical %v", alt, ok, canonical)
		}
	}
}

// TestTPMIdentityCarriesACertificate: an endorsement key certificate (1 to
// 2 KiB of DER, more than the 1024 bytes of other text fields) fits in
// audit.tpm_identity's ek_certificate, up to 12 KiB of base64; the event
// is canonical as the sealer writes it.
func TestTPMIdentityCarriesACertificate(t *testing.T) {
	build := func(certLen int) []byte {
		cert := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x30}, certLen))
		return []byte(`{"type":"audit.tpm_identity","timestamp":"2026-11-27T10:00:41Z","ak_name":"000bf0ff5021a0bd9b5c4e3c7e2ad58d6c3d34c5e1c8e2f1d1e2b3a4c5d6e7f8a9b0",` +
			`"ak_public":"ACMACwAFBHIAAAAQABgACwADABAAIE5ZFhp8e9g=","nv_index":22020352,"nv_name":"000b2f0ea4a0c45e3d6bf8d0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6",` +
			`"ek_certificate":"` + cert + `"}`)
	}
	for _, n := range []int{1016, 2048, 9216} { // 9216 bytes: 12288 base64 characters
		raw := build(n)
		e, err := Decode(raw, testOpts)
		if err != nil {
			t.Fatalf("%d-byte certificate: %v", n, err)
		}
		out, err := AppendEncode(nil, e, testNow)
		if err != nil || !bytes.Equal(out, raw) {
			t.Fatalf("%d-byte certificate: Encode: %v", n, err)
		}
		if _, err := CheckCanonical(raw, testOpts); err != nil {
			t.Fatalf("%d-byte certificate: %v", n, err)
		}
	}
	_, err := Decode(build(9217), testOpts)
	assertRule(t, err, "ek_certificate", RuleNotBase64)
}
