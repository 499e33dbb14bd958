package client

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
)

// constructorCases calls every constructor with valid arguments; name is
// the constructor's name, typ the event type it must build.
func constructorCases() []struct {
	name, typ string
	e         event.Event
} {
	actor := event.Actor{UserID: "token:a3f2c1", IP: netip.MustParseAddr("192.168.1.100"), AuthMethod: event.AuthBearerToken}
	res := event.Resource{ResourceType: "pool", ResourceID: "pool-7"}
	ip := netip.MustParseAddr("203.0.113.9")
	fp := TokenFingerprint("raw-secret")
	return []struct {
		name, typ string
		e         event.Event
	}{
		{"AuthSuccess", event.TypeAuthSuccess, AuthSuccess(actor, event.AuthBearerToken, "/v2/tasks", "queen-rbee")},
		{"AuthFailure", event.TypeAuthFailure, AuthFailure("invalid_token", ip, "/v2/pools", "queen-rbee")},
		{"TokenCreated", event.TypeTokenCreated, TokenCreated(actor, fp, []string{"read:pools"})},
		{"TokenRevoked", event.TypeTokenRevoked, TokenRevoked(actor, fp, "compromised")},
		{"AuthzGranted", event.TypeAuthzGranted, AuthzGranted(actor, res, "read")},
		{"AuthzDenied", event.TypeAuthzDenied, AuthzDenied(actor, res, "write", "insufficient_permissions")},
		{"PermissionChanged", event.TypePermissionChanged, PermissionChanged(actor, "user-9", []string{"read"}, []string{"read", "write"})},
		{"PoolCreated", event.TypePoolCreated, PoolCreated(actor, "pool-7", "llama-3-8b", "node-1", 2, []uint32{0, 1})},
		{"PoolDeleted", event.TypePoolDeleted, PoolDeleted(actor, "pool-7", "llama-3-8b", "node-1", "user_requested", 2)},
		{"PoolModified", event.TypePoolModified, PoolModified(actor, "pool-7", json.RawMessage(`{"replicas":{"old":2,"new":4}}`))},
		{"NodeRegistered", event.TypeNodeRegistered, NodeRegistered(actor, "node-1", 8, 640, []string{"cuda"})},
		{"NodeDeregistered", event.TypeNodeDeregistered, NodeDeregistered(actor, "node-1", "maintenance", []string{"pool-1"})},
		{"TaskSubmitted", event.TypeTaskSubmitted, TaskSubmitted(actor, "task-99", "llama-3-8b", 1234, hexA, 512)},
		{"TaskCompleted", event.TypeTaskCompleted, TaskCompleted("task-99", "worker-gpu-0", 480, 1800, event.PartialSuccess("3 of 4 shards"))},
		{"TaskCanceled", event.TypeTaskCanceled, TaskCanceled(actor, "task-99", "timeout")},
		{"VRAMSealed", event.TypeVRAMSealed, VRAMSealed("shard-1", 0, 8<<30, hexA, "worker-gpu-0")},
		{"SealVerified", event.TypeSealVerified, SealVerified("shard-1", "worker-gpu-0")},
		{"SealVerificationFailed", event.TypeSealVerificationFailed, SealVerificationFailed("shard-1", "digest_mismatch", hexA, hexB, "worker-gpu-0", event.SeverityCritical)},
		{"VRAMAllocated", event.TypeVRAMAllocated, VRAMAllocated(1024, 2048, 3072, 4096, 1, "worker-gpu-1")},
		{"VRAMAllocationFailed", event.TypeVRAMAllocationFailed, VRAMAllocationFailed(1<<40, 1, "insufficient_vram", 1, "worker-gpu-1")},
		{"VRAMDeallocated", event.TypeVRAMDeallocated, VRAMDeallocated("shard-1", 8<<30, 0, 0, "worker-gpu-0")},
		{"RateLimitExceeded", event.TypeRateLimitExceeded, RateLimitExceeded(ip, "/v2/tasks", 100, 250, 60)},
		{"PathTraversalAttempt", event.TypePathTraversalAttempt, PathTraversalAttempt(actor, "../../etc/passwd", "/v2/files")},
		{"InvalidTokenUsed", event.TypeInvalidTokenUsed, InvalidTokenUsed(ip, fp, "/v2/tasks")},
		{"PolicyViolation", event.TypePolicyViolation, PolicyViolation("vram_only", "unified_memory_detected", "line1\nline2", event.SeverityCritical, "worker-gpu-0", "worker_stopped")},
		{"SuspiciousActivity", event.TypeSuspiciousActivity, SuspiciousActivity(actor, "repeated_failures", "17 failures in 60 s", 100)},
		{"IntegrityViolation", event.TypeIntegrityViolation, IntegrityViolation("model", "llama-3-8b", hexA, hexB, event.SeverityHigh, "load_refused")},
		{"MalformedModelRejected", event.TypeMalformedModelRejected, MalformedModelRejected("hf:evil/model", "header length exceeds file size", event.SeverityMedium, "rejected")},
		{"ResourceLimitViolation", event.TypeResourceLimitViolation, ResourceLimitViolation("vram", "bytes", 8<<30, 9<<30, event.SeverityLow, "request_rejected")},
		{"InferenceExecuted", event.TypeInferenceExecuted, InferenceExecuted("customer-123", "job-5", "llama-3-8b", 900, event.Failure("timeout"))},
		{"ModelAccessed", event.TypeModelAccessed, ModelAccessed("customer-123", "llama-3-8b", event.AccessDownload)},
		{"DataDeleted", event.TypeDataDeleted, DataDeleted("customer-123", []string{"inference_logs"}, "gdpr_erasure")},
		{"GDPRDataAccessRequest", event.TypeGDPRDataAccessRequest, GDPRDataAccessRequest("customer-123", "dpo-1", []string{"audit_logs"})},
		{"GDPRDataExport", event.TypeGDPRDataExport, GDPRDataExport("customer-123", []string{"inference_logs"}, event.ExportCSV, hexB)},
		{"GDPRRightToErasure", event.TypeGDPRRightToErasure, GDPRRightToErasure("customer-123", time.Now().Add(-time.Minute), []string{"model_cache"})},
	}
}

func TestConstructors(t *testing.T) {
	before := time.Now().Add(-time.Second)
	cases := constructorCases()
	after := time.Now().Add(time.Second)
	var types, names []string
	for _, tc := range cases {
		types = append(types, tc.typ)
		names = append(names, tc.name)
		if got := tc.e.EventType(); got != tc.typ {
			t.Errorf("%s builds %s, want %s", tc.name, got, tc.typ)
		}
		if err := event.Validate(tc.e, time.Time{}); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if ts := tc.e.EventTime(); ts.Before(before) || ts.After(after) {
			t.Errorf("%s: timestamp %v is not now", tc.name, ts)
		}
		if _, err := encode(tc.e); err != nil {
			t.Errorf("%s: the client refuses it: %v", tc.name, err)
		}
	}
	// The table covers event.Types() exactly, in EVENTS.md order.
	if !slices.Equal(types, event.Types()) {
		t.Errorf("constructor types\n%v\nwant event.Types()\n%v", types, event.Types())
	}
	// The table covers every exported function of constructors.go.
	declared := exportedFuncs(t, "constructors.go")
	declared = slices.DeleteFunc(declared, func(n string) bool { return n == "TokenFingerprint" })
	slices.Sort(declared)
	slices.Sort(names)
	if !slices.Equal(declared, names) {
		t.Errorf("constructors.go declares\n%v\nthe table tests\n%v", declared, names)
	}
}

func exportedFuncs(t *testing.T, file string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.IsExported() {
			names = append(names, fd.Name.Name)
		}
	}
	return names
}

func TestTokenFingerprint(t *testing.T) {
	// SHA-256("a") is hexA.
	if got := TokenFingerprint("a"); got != "token:"+hexA {
		t.Errorf("TokenFingerprint = %s", got)
	}
	e := InvalidTokenUsed(netip.MustParseAddr("10.0.0.1"), TokenFingerprint("sk-live-0123456789abcdef"), "/v2")
	if err := event.Validate(e, time.Time{}); err != nil {
		t.Error(err)
	}
}
