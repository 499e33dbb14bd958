package event

import (
	"encoding/json"
	"net/netip"
	"time"
)

// The 35 client event types, as they appear in the "type" field.
const (
	TypeAuthSuccess            = "auth.success"
	TypeAuthFailure            = "auth.failure"
	TypeTokenCreated           = "token.created"
	TypeTokenRevoked           = "token.revoked"
	TypeAuthzGranted           = "authz.granted"
	TypeAuthzDenied            = "authz.denied"
	TypePermissionChanged      = "authz.permission_changed"
	TypePoolCreated            = "pool.created"
	TypePoolDeleted            = "pool.deleted"
	TypePoolModified           = "pool.modified"
	TypeNodeRegistered         = "node.registered"
	TypeNodeDeregistered       = "node.deregistered"
	TypeTaskSubmitted          = "task.submitted"
	TypeTaskCompleted          = "task.completed"
	TypeTaskCanceled           = "task.canceled"
	TypeVRAMSealed             = "vram.sealed"
	TypeSealVerified           = "seal.verified"
	TypeSealVerificationFailed = "seal.verification_failed"
	TypeVRAMAllocated          = "vram.allocated"
	TypeVRAMAllocationFailed   = "vram.allocation_failed"
	TypeVRAMDeallocated        = "vram.deallocated"
	TypeRateLimitExceeded      = "security.rate_limit_exceeded"
	TypePathTraversalAttempt   = "security.path_traversal_attempt"
	TypeInvalidTokenUsed       = "security.invalid_token_used"
	TypePolicyViolation        = "security.policy_violation"
	TypeSuspiciousActivity     = "security.suspicious_activity"
	TypeIntegrityViolation     = "security.integrity_violation"
	TypeMalformedModelRejected = "security.malformed_model_rejected"
	TypeResourceLimitViolation = "security.resource_limit_violation"
	TypeInferenceExecuted      = "data.inference_executed"
	TypeModelAccessed          = "data.model_accessed"
	TypeDataDeleted            = "data.deleted"
	TypeGDPRDataAccessRequest  = "compliance.gdpr_data_access_request"
	TypeGDPRDataExport         = "compliance.gdpr_data_export"
	TypeGDPRRightToErasure     = "compliance.gdpr_right_to_erasure"
)

// Conventions for all event structs:
//   - Timestamp is the emitter's time; it is required and encoded in UTC.
//   - A string field documented as optional is absent when "" (the wire
//     form omits it or carries null; an explicit "" is refused). Required
//     strings may not be empty.
//   - A nil slice is encoded as an empty array.
//   - Fields named *ID, Subject and Requester are identifiers: at most 256
//     bytes, without "..", "/" or "\". Other strings are at most 1024 bytes.

// AuthSuccess is auth.success: an actor authenticated.
type AuthSuccess struct {
	Timestamp time.Time
	Actor     Actor
	Method    AuthMethod
	Path      string // the endpoint
	ServiceID string
}

// AuthFailure is auth.failure (critical): an authentication attempt failed.
type AuthFailure struct {
	Timestamp     time.Time
	AttemptedUser string // optional; a "token:" value must be a fingerprint
	Reason        string // for example invalid_token, expired_token, missing_header
	IP            netip.Addr
	Path          string
	ServiceID     string
}

// TokenCreated is token.created.
type TokenCreated struct {
	Timestamp        time.Time
	Actor            Actor
	TokenFingerprint string // "token:" + 6..64 lower-case hex
	Scope            []string
	ExpiresAt        time.Time // optional; the zero time means none; at most 100 years ahead
}

// TokenRevoked is token.revoked (critical).
type TokenRevoked struct {
	Timestamp        time.Time
	Actor            Actor
	TokenFingerprint string
	Reason           string
}

// AuthzGranted is authz.granted.
type AuthzGranted struct {
	Timestamp time.Time
	Actor     Actor
	Resource  Resource
	Action    string // for example read, write, delete
}

// AuthzDenied is authz.denied.
type AuthzDenied struct {
	Timestamp time.Time
	Actor     Actor
	Resource  Resource
	Action    string
	Reason    string
}

// PermissionChanged is authz.permission_changed.
type PermissionChanged struct {
	Timestamp      time.Time
	Actor          Actor
	Subject        string // the user or token affected; a "token:" value must be a fingerprint
	OldPermissions []string
	NewPermissions []string
}

// PoolCreated is pool.created.
type PoolCreated struct {
	Timestamp  time.Time
	Actor      Actor
	PoolID     string
	ModelRef   string
	NodeID     string
	Replicas   uint32
	GPUDevices []uint32
}

// PoolDeleted is pool.deleted.
type PoolDeleted struct {
	Timestamp          time.Time
	Actor              Actor
	PoolID             string
	ModelRef           string
	NodeID             string
	Reason             string
	ReplicasTerminated uint32
}

// PoolModified is pool.modified.
type PoolModified struct {
	Timestamp time.Time
	Actor     Actor
	PoolID    string
	// Changes is a JSON object, for example {"replicas":{"old":2,"new":4}}:
	// nesting depth at most 4 and at most 4 KiB once canonical. Any valid
	// JSON spelling is accepted; Encode writes it compact with sorted keys
	// and numbers kept as written. Decode stores the canonical form.
	Changes json.RawMessage
}

// NodeRegistered is node.registered.
type NodeRegistered struct {
	Timestamp    time.Time
	Actor        Actor
	NodeID       string
	GPUCount     uint32
	TotalVRAMGB  uint64
	Capabilities []string
}

// NodeDeregistered is node.deregistered.
type NodeDeregistered struct {
	Timestamp     time.Time
	Actor         Actor
	NodeID        string
	Reason        string
	PoolsAffected []string // pool identifiers
}

// TaskSubmitted is task.submitted. The prompt itself is never logged.
type TaskSubmitted struct {
	Timestamp    time.Time
	Actor        Actor
	TaskID       string
	ModelRef     string
	PromptLength uint64
	PromptHash   string // 64 lower-case hex
	MaxTokens    uint32
}

// TaskCompleted is task.completed.
type TaskCompleted struct {
	Timestamp       time.Time
	TaskID          string
	WorkerID        string
	TokensGenerated uint32
	DurationMS      uint64
	Result          Result
}

// TaskCanceled is task.canceled.
type TaskCanceled struct {
	Timestamp time.Time
	Actor     Actor
	TaskID    string
	Reason    string
}

// VRAMSealed is vram.sealed.
type VRAMSealed struct {
	Timestamp time.Time
	ShardID   string
	GPUDevice uint32
	VRAMBytes uint64
	Digest    string // 64 lower-case hex
	WorkerID  string
}

// SealVerified is seal.verified.
type SealVerified struct {
	Timestamp time.Time
	ShardID   string
	WorkerID  string
	Result    *Result // optional
}

// SealVerificationFailed is seal.verification_failed (critical).
type SealVerificationFailed struct {
	Timestamp      time.Time
	ShardID        string
	Reason         string
	ExpectedDigest string // 64 lower-case hex
	ActualDigest   string // 64 lower-case hex
	WorkerID       string
	Severity       Severity
}

// VRAMAllocated is vram.allocated.
type VRAMAllocated struct {
	Timestamp      time.Time
	RequestedBytes uint64
	AllocatedBytes uint64
	AvailableBytes uint64
	UsedBytes      uint64
	GPUDevice      uint32
	WorkerID       string
}

// VRAMAllocationFailed is vram.allocation_failed.
type VRAMAllocationFailed struct {
	Timestamp      time.Time
	RequestedBytes uint64
	AvailableBytes uint64
	Reason         string
	GPUDevice      uint32
	WorkerID       string
}

// VRAMDeallocated is vram.deallocated.
type VRAMDeallocated struct {
	Timestamp     time.Time
	ShardID       string
	FreedBytes    uint64
	RemainingUsed uint64 // bytes
	GPUDevice     uint32
	WorkerID      string
}

// RateLimitExceeded is security.rate_limit_exceeded.
type RateLimitExceeded struct {
	Timestamp     time.Time
	IP            netip.Addr
	Endpoint      string
	Limit         uint32
	Actual        uint32
	WindowSeconds uint32
}

// PathTraversalAttempt is security.path_traversal_attempt (critical).
type PathTraversalAttempt struct {
	Timestamp     time.Time
	Actor         Actor
	AttemptedPath string // free text: "..", "/" and "\" are allowed here
	Endpoint      string
}

// InvalidTokenUsed is security.invalid_token_used (critical). It carries a
// fingerprint of the token, never a prefix of it.
type InvalidTokenUsed struct {
	Timestamp        time.Time
	IP               netip.Addr
	TokenFingerprint string
	Endpoint         string
}

// PolicyViolation is security.policy_violation (critical).
type PolicyViolation struct {
	Timestamp   time.Time
	Policy      string // for example vram_only
	Violation   string // for example unified_memory_detected
	Details     string // free text, LF allowed
	Severity    Severity
	WorkerID    string
	ActionTaken string // for example worker_stopped
}

// SuspiciousActivity is security.suspicious_activity (critical).
type SuspiciousActivity struct {
	Timestamp    time.Time
	Actor        Actor
	ActivityType string
	Details      string // free text, LF allowed
	RiskScore    uint32 // 0..100
}

// IntegrityViolation is security.integrity_violation (critical).
type IntegrityViolation struct {
	Timestamp    time.Time
	ResourceType string
	ResourceID   string
	ExpectedHash string // 64 lower-case hex
	ActualHash   string // 64 lower-case hex
	Severity     Severity
	ActionTaken  string
	WorkerID     string // optional
}

// MalformedModelRejected is security.malformed_model_rejected (critical).
type MalformedModelRejected struct {
	Timestamp       time.Time
	ModelRef        string
	ValidationError string // why the model was rejected (wire name validation_error)
	Severity        Severity
	ActionTaken     string
	WorkerID        string // optional
}

// ResourceLimitViolation is security.resource_limit_violation (critical).
type ResourceLimitViolation struct {
	Timestamp    time.Time
	ResourceType string
	LimitType    string
	LimitValue   uint64
	ActualValue  uint64
	Severity     Severity
	ActionTaken  string
	WorkerID     string // optional
}

// InferenceExecuted is data.inference_executed. No prompt or output is
// logged.
type InferenceExecuted struct {
	Timestamp       time.Time
	CustomerID      string
	JobID           string
	ModelRef        string
	TokensProcessed uint32
	ProviderID      string // optional
	Result          Result
}

// ModelAccessed is data.model_accessed.
type ModelAccessed struct {
	Timestamp  time.Time
	CustomerID string
	ModelRef   string
	AccessType AccessType
	ProviderID string // optional
}

// DataDeleted is data.deleted.
type DataDeleted struct {
	Timestamp  time.Time
	CustomerID string
	DataTypes  []string
	Reason     string
}

// GDPRDataAccessRequest is compliance.gdpr_data_access_request.
type GDPRDataAccessRequest struct {
	Timestamp  time.Time
	CustomerID string
	Requester  string // an identifier
	Scope      []string
}

// GDPRDataExport is compliance.gdpr_data_export.
type GDPRDataExport struct {
	Timestamp    time.Time
	CustomerID   string
	DataTypes    []string
	ExportFormat ExportFormat
	FileHash     string // 64 lower-case hex
}

// GDPRRightToErasure is compliance.gdpr_right_to_erasure.
type GDPRRightToErasure struct {
	Timestamp        time.Time
	CustomerID       string
	CompletedAt      time.Time
	DataTypesDeleted []string
}

// Field order below is the canonical order (EVENTS.md order).

func (e *AuthSuccess) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("method", (*string)(&e.Method), &ruleAuthMethod, false)
	b.text("path", &e.Path, &ruleText, false)
	b.text("service_id", &e.ServiceID, &ruleIdent, false)
}

func (e *AuthFailure) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("attempted_user", &e.AttemptedUser, &ruleAttempted, true)
	b.text("reason", &e.Reason, &ruleText, false)
	b.ip("ip", &e.IP, false)
	b.text("path", &e.Path, &ruleText, false)
	b.text("service_id", &e.ServiceID, &ruleIdent, false)
}

func (e *TokenCreated) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("token_fingerprint", &e.TokenFingerprint, &ruleFingerprint, false)
	b.texts("scope", &e.Scope, &ruleText)
	b.time("expires_at", &e.ExpiresAt, timeExpiry, true)
}

func (e *TokenRevoked) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("token_fingerprint", &e.TokenFingerprint, &ruleFingerprint, false)
	b.text("reason", &e.Reason, &ruleText, false)
}

func (e *AuthzGranted) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.resource("resource", &e.Resource)
	b.text("action", &e.Action, &ruleText, false)
}

func (e *AuthzDenied) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.resource("resource", &e.Resource)
	b.text("action", &e.Action, &ruleText, false)
	b.text("reason", &e.Reason, &ruleText, false)
}

func (e *PermissionChanged) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("subject", &e.Subject, &ruleUserRef, false)
	b.texts("old_permissions", &e.OldPermissions, &ruleText)
	b.texts("new_permissions", &e.NewPermissions, &ruleText)
}

func (e *PoolCreated) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("pool_id", &e.PoolID, &ruleIdent, false)
	b.text("model_ref", &e.ModelRef, &ruleText, false)
	b.text("node_id", &e.NodeID, &ruleIdent, false)
	b.u32("replicas", &e.Replicas)
	b.u32s("gpu_devices", &e.GPUDevices)
}

func (e *PoolDeleted) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("pool_id", &e.PoolID, &ruleIdent, false)
	b.text("model_ref", &e.ModelRef, &ruleText, false)
	b.text("node_id", &e.NodeID, &ruleIdent, false)
	b.text("reason", &e.Reason, &ruleText, false)
	b.u32("replicas_terminated", &e.ReplicasTerminated)
}

func (e *PoolModified) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("pool_id", &e.PoolID, &ruleIdent, false)
	b.object("changes", &e.Changes)
}

func (e *NodeRegistered) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("node_id", &e.NodeID, &ruleIdent, false)
	b.u32("gpu_count", &e.GPUCount)
	b.u64("total_vram_gb", &e.TotalVRAMGB)
	b.texts("capabilities", &e.Capabilities, &ruleText)
}

func (e *NodeDeregistered) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("node_id", &e.NodeID, &ruleIdent, false)
	b.text("reason", &e.Reason, &ruleText, false)
	b.texts("pools_affected", &e.PoolsAffected, &ruleIdent)
}

func (e *TaskSubmitted) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("task_id", &e.TaskID, &ruleIdent, false)
	b.text("model_ref", &e.ModelRef, &ruleText, false)
	b.u64("prompt_length", &e.PromptLength)
	b.text("prompt_hash", &e.PromptHash, &ruleHex64, false)
	b.u32("max_tokens", &e.MaxTokens)
}

func (e *TaskCompleted) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("task_id", &e.TaskID, &ruleIdent, false)
	b.text("worker_id", &e.WorkerID, &ruleIdent, false)
	b.u32("tokens_generated", &e.TokensGenerated)
	b.u64("duration_ms", &e.DurationMS)
	b.result("result", &e.Result)
}

func (e *TaskCanceled) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("task_id", &e.TaskID, &ruleIdent, false)
	b.text("reason", &e.Reason, &ruleText, false)
}

func (e *VRAMSealed) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("shard_id", &e.ShardID, &ruleIdent, false)
	b.u32("gpu_device", &e.GPUDevice)
	b.u64("vram_bytes", &e.VRAMBytes)
	b.text("digest", &e.Digest, &ruleHex64, false)
	b.text("worker_id", &e.WorkerID, &ruleIdent, false)
}

func (e *SealVerified) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("shard_id", &e.ShardID, &ruleIdent, false)
	b.text("worker_id", &e.WorkerID, &ruleIdent, false)
	b.optResult("result", &e.Result)
}

func (e *SealVerificationFailed) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("shard_id", &e.ShardID, &ruleIdent, false)
	b.text("reason", &e.Reason, &ruleText, false)
	b.text("expected_digest", &e.ExpectedDigest, &ruleHex64, false)
	b.text("actual_digest", &e.ActualDigest, &ruleHex64, false)
	b.text("worker_id", &e.WorkerID, &ruleIdent, false)
	b.text("severity", (*string)(&e.Severity), &ruleSeverity, false)
}

func (e *VRAMAllocated) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.u64("requested_bytes", &e.RequestedBytes)
	b.u64("allocated_bytes", &e.AllocatedBytes)
	b.u64("available_bytes", &e.AvailableBytes)
	b.u64("used_bytes", &e.UsedBytes)
	b.u32("gpu_device", &e.GPUDevice)
	b.text("worker_id", &e.WorkerID, &ruleIdent, false)
}

func (e *VRAMAllocationFailed) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.u64("requested_bytes", &e.RequestedBytes)
	b.u64("available_bytes", &e.AvailableBytes)
	b.text("reason", &e.Reason, &ruleText, false)
	b.u32("gpu_device", &e.GPUDevice)
	b.text("worker_id", &e.WorkerID, &ruleIdent, false)
}

func (e *VRAMDeallocated) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("shard_id", &e.ShardID, &ruleIdent, false)
	b.u64("freed_bytes", &e.FreedBytes)
	b.u64("remaining_used", &e.RemainingUsed)
	b.u32("gpu_device", &e.GPUDevice)
	b.text("worker_id", &e.WorkerID, &ruleIdent, false)
}

func (e *RateLimitExceeded) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.ip("ip", &e.IP, false)
	b.text("endpoint", &e.Endpoint, &ruleText, false)
	b.u32("limit", &e.Limit)
	b.u32("actual", &e.Actual)
	b.u32("window_seconds", &e.WindowSeconds)
}

func (e *PathTraversalAttempt) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("attempted_path", &e.AttemptedPath, &ruleText, false)
	b.text("endpoint", &e.Endpoint, &ruleText, false)
}

func (e *InvalidTokenUsed) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.ip("ip", &e.IP, false)
	b.text("token_fingerprint", &e.TokenFingerprint, &ruleFingerprint, false)
	b.text("endpoint", &e.Endpoint, &ruleText, false)
}

func (e *PolicyViolation) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("policy", &e.Policy, &ruleText, false)
	b.text("violation", &e.Violation, &ruleText, false)
	b.text("details", &e.Details, &ruleDetails, false)
	b.text("severity", (*string)(&e.Severity), &ruleSeverity, false)
	b.text("worker_id", &e.WorkerID, &ruleIdent, false)
	b.text("action_taken", &e.ActionTaken, &ruleText, false)
}

func (e *SuspiciousActivity) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.actor("actor", &e.Actor)
	b.text("activity_type", &e.ActivityType, &ruleText, false)
	b.text("details", &e.Details, &ruleDetails, false)
	b.u32Max("risk_score", &e.RiskScore, 100)
}

func (e *IntegrityViolation) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("resource_type", &e.ResourceType, &ruleText, false)
	b.text("resource_id", &e.ResourceID, &ruleIdent, false)
	b.text("expected_hash", &e.ExpectedHash, &ruleHex64, false)
	b.text("actual_hash", &e.ActualHash, &ruleHex64, false)
	b.text("severity", (*string)(&e.Severity), &ruleSeverity, false)
	b.text("action_taken", &e.ActionTaken, &ruleText, false)
	b.text("worker_id", &e.WorkerID, &ruleIdent, true)
}

func (e *MalformedModelRejected) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("model_ref", &e.ModelRef, &ruleText, false)
	b.text("validation_error", &e.ValidationError, &ruleText, false)
	b.text("severity", (*string)(&e.Severity), &ruleSeverity, false)
	b.text("action_taken", &e.ActionTaken, &ruleText, false)
	b.text("worker_id", &e.WorkerID, &ruleIdent, true)
}

func (e *ResourceLimitViolation) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("resource_type", &e.ResourceType, &ruleText, false)
	b.text("limit_type", &e.LimitType, &ruleText, false)
	b.u64("limit_value", &e.LimitValue)
	b.u64("actual_value", &e.ActualValue)
	b.text("severity", (*string)(&e.Severity), &ruleSeverity, false)
	b.text("action_taken", &e.ActionTaken, &ruleText, false)
	b.text("worker_id", &e.WorkerID, &ruleIdent, true)
}

func (e *InferenceExecuted) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("customer_id", &e.CustomerID, &ruleIdent, false)
	b.text("job_id", &e.JobID, &ruleIdent, false)
	b.text("model_ref", &e.ModelRef, &ruleText, false)
	b.u32("tokens_processed", &e.TokensProcessed)
	b.text("provider_id", &e.ProviderID, &ruleIdent, true)
	b.result("result", &e.Result)
}

func (e *ModelAccessed) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("customer_id", &e.CustomerID, &ruleIdent, false)
	b.text("model_ref", &e.ModelRef, &ruleText, false)
	b.text("access_type", (*string)(&e.AccessType), &ruleAccessType, false)
	b.text("provider_id", &e.ProviderID, &ruleIdent, true)
}

func (e *DataDeleted) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("customer_id", &e.CustomerID, &ruleIdent, false)
	b.texts("data_types", &e.DataTypes, &ruleText)
	b.text("reason", &e.Reason, &ruleText, false)
}

func (e *GDPRDataAccessRequest) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("customer_id", &e.CustomerID, &ruleIdent, false)
	b.text("requester", &e.Requester, &ruleIdent, false)
	b.texts("scope", &e.Scope, &ruleText)
}

func (e *GDPRDataExport) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("customer_id", &e.CustomerID, &ruleIdent, false)
	b.texts("data_types", &e.DataTypes, &ruleText)
	b.text("export_format", (*string)(&e.ExportFormat), &ruleExportFormat, false)
	b.text("file_hash", &e.FileHash, &ruleHex64, false)
}

func (e *GDPRRightToErasure) bind(b *binder) {
	b.time("timestamp", &e.Timestamp, timeEvent, false)
	b.text("customer_id", &e.CustomerID, &ruleIdent, false)
	b.time("completed_at", &e.CompletedAt, timeEvent, false)
	b.texts("data_types_deleted", &e.DataTypesDeleted, &ruleText)
}
