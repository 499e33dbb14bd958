package client

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
)

// Constructors: one per client event type of EVENTS.md, in its order. Each
// takes the type's required fields, sets Timestamp to time.Now().UTC() and
// returns the event struct; optional fields (and the timestamp, when the
// action happened earlier) are set on the returned struct before Emit.
// They do not validate: Emit and EmitDurable do, and return a
// *event.ValidationError for a bad value. Slices and json.RawMessage values
// are kept, not copied: do not modify them until Emit has returned.

func now() time.Time { return time.Now().UTC() }

// TokenFingerprint returns the fingerprint EVENTS.md requires in place of a
// raw credential: "token:" followed by the lower-case hex SHA-256 of token.
// Use it for token_fingerprint fields, and for user ids or subjects that
// would otherwise be a token.
func TokenFingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:])
}

// Authentication.

// AuthSuccess returns an auth.success event: actor authenticated with method
// at path (the endpoint) of the service serviceID.
func AuthSuccess(actor event.Actor, method event.AuthMethod, path, serviceID string) *event.AuthSuccess {
	return &event.AuthSuccess{Timestamp: now(), Actor: actor, Method: method, Path: path, ServiceID: serviceID}
}

// AuthFailure returns an auth.failure event (critical): an authentication
// attempt from ip at path failed for reason (for example invalid_token,
// expired_token, missing_header). Optional: AttemptedUser (a "token:" value
// must be a fingerprint).
func AuthFailure(reason string, ip netip.Addr, path, serviceID string) *event.AuthFailure {
	return &event.AuthFailure{Timestamp: now(), Reason: reason, IP: ip, Path: path, ServiceID: serviceID}
}

// TokenCreated returns a token.created event: actor created the token with
// the given fingerprint (see TokenFingerprint) and scope. Optional:
// ExpiresAt.
func TokenCreated(actor event.Actor, tokenFingerprint string, scope []string) *event.TokenCreated {
	return &event.TokenCreated{Timestamp: now(), Actor: actor, TokenFingerprint: tokenFingerprint, Scope: scope}
}

// TokenRevoked returns a token.revoked event (critical): actor revoked the
// token with the given fingerprint for reason.
func TokenRevoked(actor event.Actor, tokenFingerprint, reason string) *event.TokenRevoked {
	return &event.TokenRevoked{Timestamp: now(), Actor: actor, TokenFingerprint: tokenFingerprint, Reason: reason}
}

// Authorization.

// AuthzGranted returns an authz.granted event: actor may perform action
// (for example read, write, delete) on resource.
func AuthzGranted(actor event.Actor, resource event.Resource, action string) *event.AuthzGranted {
	return &event.AuthzGranted{Timestamp: now(), Actor: actor, Resource: resource, Action: action}
}

// AuthzDenied returns an authz.denied event: actor may not perform action on
// resource, for reason.
func AuthzDenied(actor event.Actor, resource event.Resource, action, reason string) *event.AuthzDenied {
	return &event.AuthzDenied{Timestamp: now(), Actor: actor, Resource: resource, Action: action, Reason: reason}
}

// PermissionChanged returns an authz.permission_changed event: actor changed
// the permissions of subject (a user, or a token fingerprint) from
// oldPermissions to newPermissions.
func PermissionChanged(actor event.Actor, subject string, oldPermissions, newPermissions []string) *event.PermissionChanged {
	return &event.PermissionChanged{Timestamp: now(), Actor: actor, Subject: subject,
		OldPermissions: oldPermissions, NewPermissions: newPermissions}
}

// Resource operations.

// PoolCreated returns a pool.created event: actor created pool poolID of
// model modelRef on node nodeID with replicas replicas on gpuDevices.
func PoolCreated(actor event.Actor, poolID, modelRef, nodeID string, replicas uint32, gpuDevices []uint32) *event.PoolCreated {
	return &event.PoolCreated{Timestamp: now(), Actor: actor, PoolID: poolID, ModelRef: modelRef,
		NodeID: nodeID, Replicas: replicas, GPUDevices: gpuDevices}
}

// PoolDeleted returns a pool.deleted event: actor deleted pool poolID for
// reason, terminating replicasTerminated replicas.
func PoolDeleted(actor event.Actor, poolID, modelRef, nodeID, reason string, replicasTerminated uint32) *event.PoolDeleted {
	return &event.PoolDeleted{Timestamp: now(), Actor: actor, PoolID: poolID, ModelRef: modelRef,
		NodeID: nodeID, Reason: reason, ReplicasTerminated: replicasTerminated}
}

// PoolModified returns a pool.modified event: actor changed pool poolID.
// changes is a JSON object, for example {"replicas":{"old":2,"new":4}}
// (nesting depth at most 4, at most 4 KiB).
func PoolModified(actor event.Actor, poolID string, changes json.RawMessage) *event.PoolModified {
	return &event.PoolModified{Timestamp: now(), Actor: actor, PoolID: poolID, Changes: changes}
}

// NodeRegistered returns a node.registered event: actor registered node
// nodeID with gpuCount GPUs, totalVRAMGB GB of VRAM and capabilities.
func NodeRegistered(actor event.Actor, nodeID string, gpuCount uint32, totalVRAMGB uint64, capabilities []string) *event.NodeRegistered {
	return &event.NodeRegistered{Timestamp: now(), Actor: actor, NodeID: nodeID, GPUCount: gpuCount,
		TotalVRAMGB: totalVRAMGB, Capabilities: capabilities}
}

// NodeDeregistered returns a node.deregistered event: actor deregistered
// node nodeID for reason, affecting the pools poolsAffected.
func NodeDeregistered(actor event.Actor, nodeID, reason string, poolsAffected []string) *event.NodeDeregistered {
	return &event.NodeDeregistered{Timestamp: now(), Actor: actor, NodeID: nodeID, Reason: reason,
		PoolsAffected: poolsAffected}
}

// TaskSubmitted returns a task.submitted event: actor submitted task taskID
// for model modelRef. The prompt is never logged: only its length in bytes
// and promptHash (64 lower-case hex, for example of SHA-256).
func TaskSubmitted(actor event.Actor, taskID, modelRef string, promptLength uint64, promptHash string, maxTokens uint32) *event.TaskSubmitted {
	return &event.TaskSubmitted{Timestamp: now(), Actor: actor, TaskID: taskID, ModelRef: modelRef,
		PromptLength: promptLength, PromptHash: promptHash, MaxTokens: maxTokens}
}

// TaskCompleted returns a task.completed event: worker workerID finished
// task taskID with result after durationMS milliseconds.
func TaskCompleted(taskID, workerID string, tokensGenerated uint32, durationMS uint64, result event.Result) *event.TaskCompleted {
	return &event.TaskCompleted{Timestamp: now(), TaskID: taskID, WorkerID: workerID,
		TokensGenerated: tokensGenerated, DurationMS: durationMS, Result: result}
}

// TaskCanceled returns a task.canceled event: actor canceled task taskID for
// reason.
func TaskCanceled(actor event.Actor, taskID, reason string) *event.TaskCanceled {
	return &event.TaskCanceled{Timestamp: now(), Actor: actor, TaskID: taskID, Reason: reason}
}

// VRAM operations (GPU workers).

// VRAMSealed returns a vram.sealed event: worker workerID sealed shard
// shardID of vramBytes bytes on gpuDevice; digest is 64 lower-case hex.
func VRAMSealed(shardID string, gpuDevice uint32, vramBytes uint64, digest, workerID string) *event.VRAMSealed {
	return &event.VRAMSealed{Timestamp: now(), ShardID: shardID, GPUDevice: gpuDevice, VRAMBytes: vramBytes,
		Digest: digest, WorkerID: workerID}
}

// SealVerified returns a seal.verified event: worker workerID verified the
// seal of shard shardID. Optional: Result.
func SealVerified(shardID, workerID string) *event.SealVerified {
	return &event.SealVerified{Timestamp: now(), ShardID: shardID, WorkerID: workerID}
}

// SealVerificationFailed returns a seal.verification_failed event
// (critical): the seal of shard shardID did not verify (digests are 64
// lower-case hex). Emit sends a flush right after it.
func SealVerificationFailed(shardID, reason, expectedDigest, actualDigest, workerID string, severity event.Severity) *event.SealVerificationFailed {
	return &event.SealVerificationFailed{Timestamp: now(), ShardID: shardID, Reason: reason,
		ExpectedDigest: expectedDigest, ActualDigest: actualDigest, WorkerID: workerID, Severity: severity}
}

// VRAMAllocated returns a vram.allocated event; all sizes are in bytes.
func VRAMAllocated(requestedBytes, allocatedBytes, availableBytes, usedBytes uint64, gpuDevice uint32, workerID string) *event.VRAMAllocated {
	return &event.VRAMAllocated{Timestamp: now(), RequestedBytes: requestedBytes, AllocatedBytes: allocatedBytes,
		AvailableBytes: availableBytes, UsedBytes: usedBytes, GPUDevice: gpuDevice, WorkerID: workerID}
}

// VRAMAllocationFailed returns a vram.allocation_failed event; sizes are in
// bytes.
func VRAMAllocationFailed(requestedBytes, availableBytes uint64, reason string, gpuDevice uint32, workerID string) *event.VRAMAllocationFailed {
	return &event.VRAMAllocationFailed{Timestamp: now(), RequestedBytes: requestedBytes,
		AvailableBytes: availableBytes, Reason: reason, GPUDevice: gpuDevice, WorkerID: workerID}
}

// VRAMDeallocated returns a vram.deallocated event: shard shardID freed
// freedBytes; remainingUsed bytes stay in use on gpuDevice.
func VRAMDeallocated(shardID string, freedBytes, remainingUsed uint64, gpuDevice uint32, workerID string) *event.VRAMDeallocated {
	return &event.VRAMDeallocated{Timestamp: now(), ShardID: shardID, FreedBytes: freedBytes,
		RemainingUsed: remainingUsed, GPUDevice: gpuDevice, WorkerID: workerID}
}

// Security incidents.

// RateLimitExceeded returns a security.rate_limit_exceeded event: ip made
// actual requests to endpoint in windowSeconds, above limit.
func RateLimitExceeded(ip netip.Addr, endpoint string, limit, actual, windowSeconds uint32) *event.RateLimitExceeded {
	return &event.RateLimitExceeded{Timestamp: now(), IP: ip, Endpoint: endpoint, Limit: limit,
		Actual: actual, WindowSeconds: windowSeconds}
}

// PathTraversalAttempt returns a security.path_traversal_attempt event
// (critical): actor asked endpoint for attemptedPath.
func PathTraversalAttempt(actor event.Actor, attemptedPath, endpoint string) *event.PathTraversalAttempt {
	return &event.PathTraversalAttempt{Timestamp: now(), Actor: actor, AttemptedPath: attemptedPath, Endpoint: endpoint}
}

// InvalidTokenUsed returns a security.invalid_token_used event (critical):
// ip presented an invalid token at endpoint. Pass the token's fingerprint
// (TokenFingerprint), never the token or a prefix of it.
func InvalidTokenUsed(ip netip.Addr, tokenFingerprint, endpoint string) *event.InvalidTokenUsed {
	return &event.InvalidTokenUsed{Timestamp: now(), IP: ip, TokenFingerprint: tokenFingerprint, Endpoint: endpoint}
}

// PolicyViolation returns a security.policy_violation event (critical), for
// example policy "vram_only", violation "unified_memory_detected",
// actionTaken "worker_stopped". details is free text (LF allowed). Emit
// sends a flush right after it.
func PolicyViolation(policy, violation, details string, severity event.Severity, workerID, actionTaken string) *event.PolicyViolation {
	return &event.PolicyViolation{Timestamp: now(), Policy: policy, Violation: violation, Details: details,
		Severity: severity, WorkerID: workerID, ActionTaken: actionTaken}
}

// SuspiciousActivity returns a security.suspicious_activity event
// (critical); riskScore is 0..100 and details free text.
func SuspiciousActivity(actor event.Actor, activityType, details string, riskScore uint32) *event.SuspiciousActivity {
	return &event.SuspiciousActivity{Timestamp: now(), Actor: actor, ActivityType: activityType,
		Details: details, RiskScore: riskScore}
}

// IntegrityViolation returns a security.integrity_violation event
// (critical); hashes are 64 lower-case hex. Optional: WorkerID.
func IntegrityViolation(resourceType, resourceID, expectedHash, actualHash string, severity event.Severity, actionTaken string) *event.IntegrityViolation {
	return &event.IntegrityViolation{Timestamp: now(), ResourceType: resourceType, ResourceID: resourceID,
		ExpectedHash: expectedHash, ActualHash: actualHash, Severity: severity, ActionTaken: actionTaken}
}

// MalformedModelRejected returns a security.malformed_model_rejected event
// (critical): model modelRef was rejected because of validationError.
// Optional: WorkerID.
func MalformedModelRejected(modelRef, validationError string, severity event.Severity, actionTaken string) *event.MalformedModelRejected {
	return &event.MalformedModelRejected{Timestamp: now(), ModelRef: modelRef, ValidationError: validationError,
		Severity: severity, ActionTaken: actionTaken}
}

// ResourceLimitViolation returns a security.resource_limit_violation event
// (critical): actualValue exceeded limitValue. Optional: WorkerID.
func ResourceLimitViolation(resourceType, limitType string, limitValue, actualValue uint64, severity event.Severity, actionTaken string) *event.ResourceLimitViolation {
	return &event.ResourceLimitViolation{Timestamp: now(), ResourceType: resourceType, LimitType: limitType,
		LimitValue: limitValue, ActualValue: actualValue, Severity: severity, ActionTaken: actionTaken}
}

// Data access (GDPR).

// InferenceExecuted returns a data.inference_executed event: job jobID ran
// model modelRef for customer customerID. No prompt or output is logged.
// Optional: ProviderID.
func InferenceExecuted(customerID, jobID, modelRef string, tokensProcessed uint32, result event.Result) *event.InferenceExecuted {
	return &event.InferenceExecuted{Timestamp: now(), CustomerID: customerID, JobID: jobID, ModelRef: modelRef,
		TokensProcessed: tokensProcessed, Result: result}
}

// ModelAccessed returns a data.model_accessed event. Optional: ProviderID.
func ModelAccessed(customerID, modelRef string, accessType event.AccessType) *event.ModelAccessed {
	return &event.ModelAccessed{Timestamp: now(), CustomerID: customerID, ModelRef: modelRef, AccessType: accessType}
}

// DataDeleted returns a data.deleted event: the dataTypes of customer
// customerID were deleted for reason.
func DataDeleted(customerID string, dataTypes []string, reason string) *event.DataDeleted {
	return &event.DataDeleted{Timestamp: now(), CustomerID: customerID, DataTypes: dataTypes, Reason: reason}
}

// Compliance.

// GDPRDataAccessRequest returns a compliance.gdpr_data_access_request
// event: requester (an identifier) asked for the data of customerID in
// scope.
func GDPRDataAccessRequest(customerID, requester string, scope []string) *event.GDPRDataAccessRequest {
	return &event.GDPRDataAccessRequest{Timestamp: now(), CustomerID: customerID, Requester: requester, Scope: scope}
}

// GDPRDataExport returns a compliance.gdpr_data_export event: dataTypes of
// customerID were exported in format; fileHash is 64 lower-case hex.
func GDPRDataExport(customerID string, dataTypes []string, format event.ExportFormat, fileHash string) *event.GDPRDataExport {
	return &event.GDPRDataExport{Timestamp: now(), CustomerID: customerID, DataTypes: dataTypes,
		ExportFormat: format, FileHash: fileHash}
}

// GDPRRightToErasure returns a compliance.gdpr_right_to_erasure event: the
// erasure of dataTypesDeleted for customerID completed at completedAt.
func GDPRRightToErasure(customerID string, completedAt time.Time, dataTypesDeleted []string) *event.GDPRRightToErasure {
	return &event.GDPRRightToErasure{Timestamp: now(), CustomerID: customerID, CompletedAt: completedAt,
		DataTypesDeleted: dataTypesDeleted}
}
