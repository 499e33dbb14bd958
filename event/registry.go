package event

import (
	"time"
)

// Event is one validated audit event of a known type. It is implemented only
// by the pointer types of this package (*AuthSuccess, *SealerStarted, …).
type Event interface {
	// EventType returns the dotted type name, for example "auth.success".
	EventType() string
	// EventTime returns the emitter's timestamp, in UTC.
	EventTime() time.Time
	// bind hands out pointers to the event's fields in canonical order.
	bind(*binder)
}

// typeInfo describes one event type.
type typeInfo struct {
	name     string
	category string
	critical bool
	sealer   bool
	newEvent func() Event
	schema   schema
	prefix   string // `{"type":"<name>"`, the start of every canonical encoding
}

// registry lists the client types in EVENTS.md order, then the sealer's.
var registry = []*typeInfo{
	{name: TypeAuthSuccess, category: "authentication", critical: false, newEvent: func() Event { return new(AuthSuccess) }},
	{name: TypeAuthFailure, category: "authentication", critical: true, newEvent: func() Event { return new(AuthFailure) }},
	{name: TypeTokenCreated, category: "authentication", critical: false, newEvent: func() Event { return new(TokenCreated) }},
	{name: TypeTokenRevoked, category: "authentication", critical: true, newEvent: func() Event { return new(TokenRevoked) }},
	{name: TypeAuthzGranted, category: "authorization", critical: false, newEvent: func() Event { return new(AuthzGranted) }},
	{name: TypeAuthzDenied, category: "authorization", critical: false, newEvent: func() Event { return new(AuthzDenied) }},
	{name: TypePermissionChanged, category: "authorization", critical: false, newEvent: func() Event { return new(PermissionChanged) }},
	{name: TypePoolCreated, category: "resource", critical: false, newEvent: func() Event { return new(PoolCreated) }},
	{name: TypePoolDeleted, category: "resource", critical: false, newEvent: func() Event { return new(PoolDeleted) }},
	{name: TypePoolModified, category: "resource", critical: false, newEvent: func() Event { return new(PoolModified) }},
	{name: TypeNodeRegistered, category: "resource", critical: false, newEvent: func() Event { return new(NodeRegistered) }},
	{name: TypeNodeDeregistered, category: "resource", critical: false, newEvent: func() Event { return new(NodeDeregistered) }},
	{name: TypeTaskSubmitted, category: "resource", critical: false, newEvent: func() Event { return new(TaskSubmitted) }},
	{name: TypeTaskCompleted, category: "resource", critical: false, newEvent: func() Event { return new(TaskCompleted) }},
	{name: TypeTaskCanceled, category: "resource", critical: false, newEvent: func() Event { return new(TaskCanceled) }},
	{name: TypeVRAMSealed, category: "vram", critical: false, newEvent: func() Event { return new(VRAMSealed) }},
	{name: TypeSealVerified, category: "vram", critical: false, newEvent: func() Event { return new(SealVerified) }},
	{name: TypeSealVerificationFailed, category: "vram", critical: true, newEvent: func() Event { return new(SealVerificationFailed) }},
	{name: TypeVRAMAllocated, category: "vram", critical: false, newEvent: func() Event { return new(VRAMAllocated) }},
	{name: TypeVRAMAllocationFailed, category: "vram", critical: false, newEvent: func() Event { return new(VRAMAllocationFailed) }},
	{name: TypeVRAMDeallocated, category: "vram", critical: false, newEvent: func() Event { return new(VRAMDeallocated) }},
	{name: TypeRateLimitExceeded, category: "security", critical: false, newEvent: func() Event { return new(RateLimitExceeded) }},
	{name: TypePathTraversalAttempt, category: "security", critical: true, newEvent: func() Event { return new(PathTraversalAttempt) }},
	{name: TypeInvalidTokenUsed, category: "security", critical: true, newEvent: func() Event { return new(InvalidTokenUsed) }},
	{name: TypePolicyViolation, category: "security", critical: true, newEvent: func() Event { return new(PolicyViolation) }},
	{name: TypeSuspiciousActivity, category: "security", critical: true, newEvent: func() Event { return new(SuspiciousActivity) }},
	{name: TypeIntegrityViolation, category: "security", critical: true, newEvent: func() Event { return new(IntegrityViolation) }},
	{name: TypeMalformedModelRejected, category: "security", critical: true, newEvent: func() Event { return new(MalformedModelRejected) }},
	{name: TypeResourceLimitViolation, category: "security", critical: true, newEvent: func() Event { return new(ResourceLimitViolation) }},
	{name: TypeInferenceExecuted, category: "data_access", critical: false, newEvent: func() Event { return new(InferenceExecuted) }},
	{name: TypeModelAccessed, category: "data_access", critical: false, newEvent: func() Event { return new(ModelAccessed) }},
	{name: TypeDataDeleted, category: "data_access", critical: false, newEvent: func() Event { return new(DataDeleted) }},
	{name: TypeGDPRDataAccessRequest, category: "compliance", critical: false, newEvent: func() Event { return new(GDPRDataAccessRequest) }},
	{name: TypeGDPRDataExport, category: "compliance", critical: false, newEvent: func() Event { return new(GDPRDataExport) }},
	{name: TypeGDPRRightToErasure, category: "compliance", critical: false, newEvent: func() Event { return new(GDPRRightToErasure) }},
	{name: TypeSealerStarted, category: "sealer", critical: false, sealer: true, newEvent: func() Event { return new(SealerStarted) }},
	{name: TypeSealerStopped, category: "sealer", critical: false, sealer: true, newEvent: func() Event { return new(SealerStopped) }},
	{name: TypeEventsShed, category: "sealer", critical: true, sealer: true, newEvent: func() Event { return new(EventsShed) }},
	{name: TypeClientDropped, category: "sealer", critical: false, sealer: true, newEvent: func() Event { return new(ClientDropped) }},
	{name: TypeStorageRecovered, category: "sealer", critical: false, sealer: true, newEvent: func() Event { return new(StorageRecovered) }},
	{name: TypeKeyIntroduced, category: "sealer", critical: false, sealer: true, newEvent: func() Event { return new(KeyIntroduced) }},
	{name: TypeAnchorState, category: "sealer", critical: true, sealer: true, newEvent: func() Event { return new(AnchorState) }},
	{name: TypeRetentionPruned, category: "sealer", critical: false, sealer: true, newEvent: func() Event { return new(RetentionPruned) }},
	{name: TypeLogRead, category: "sealer", critical: false, sealer: true, newEvent: func() Event { return new(LogRead) }},
	{name: TypeTailDiscarded, category: "sealer", critical: true, sealer: true, newEvent: func() Event { return new(TailDiscarded) }},
	{name: TypeTPMIdentity, category: "sealer", critical: true, sealer: true, newEvent: func() Event { return new(TPMIdentity) }},
	{name: TypeCheckpointWitnessed, category: "sealer", critical: false, sealer: true, newEvent: func() Event { return new(CheckpointWitnessed) }},
	{name: TypeWitnessAlarm, category: "sealer", critical: true, sealer: true, newEvent: func() Event { return new(WitnessAlarm) }},
	{name: TypeConfigReloaded, category: "sealer", critical: true, sealer: true, newEvent: func() Event { return new(ConfigReloaded) }},
}

var (
	typesByName map[string]*typeInfo
	clientTypes []string
	sealerTypes []string
)

func initRegistry() {
	typesByName = make(map[string]*typeInfo, len(registry))
	for _, ti := range registry {
		e := ti.newEvent()
		if e.EventType() != ti.name {
			panic("event: registry mismatch for " + ti.name)
		}
		ti.schema = recordSchema(e.bind)
		if len(ti.schema.fields) == 0 || ti.schema.fields[0].name != "timestamp" {
			panic("event: timestamp must be the first field of " + ti.name)
		}
		ti.prefix = `{"type":"` + ti.name + `"`
		typesByName[ti.name] = ti
		if ti.sealer {
			sealerTypes = append(sealerTypes, ti.name)
		} else {
			clientTypes = append(clientTypes, ti.name)
		}
	}
}

// Types returns the 35 client event types, in EVENTS.md order.
func Types() []string { return append([]string(nil), clientTypes...) }

// SealerTypes returns the sealer's own audit.* event types.
func SealerTypes() []string { return append([]string(nil), sealerTypes...) }

// IsCritical reports whether events of the given type are made durable and
// sealed at once (the C column of EVENTS.md, which this generates). It is
// false for unknown types.
func IsCritical(eventType string) bool {
	ti := typesByName[eventType]
	return ti != nil && ti.critical
}

// Category returns the category of an event type: "authentication",
// "authorization", "resource", "vram", "security", "data_access",
// "compliance" or "sealer"; "" for an unknown type.
func Category(eventType string) string {
	if ti := typesByName[eventType]; ti != nil {
		return ti.category
	}
	return ""
}

// EventType returns TypeAuthSuccess.
func (*AuthSuccess) EventType() string { return TypeAuthSuccess }

// EventTime returns the Timestamp in UTC.
func (e *AuthSuccess) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeAuthFailure.
func (*AuthFailure) EventType() string { return TypeAuthFailure }

// EventTime returns the Timestamp in UTC.
func (e *AuthFailure) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeTokenCreated.
func (*TokenCreated) EventType() string { return TypeTokenCreated }

// EventTime returns the Timestamp in UTC.
func (e *TokenCreated) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeTokenRevoked.
func (*TokenRevoked) EventType() string { return TypeTokenRevoked }

// EventTime returns the Timestamp in UTC.
func (e *TokenRevoked) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeAuthzGranted.
func (*AuthzGranted) EventType() string { return TypeAuthzGranted }

// EventTime returns the Timestamp in UTC.
func (e *AuthzGranted) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeAuthzDenied.
func (*AuthzDenied) EventType() string { return TypeAuthzDenied }

// EventTime returns the Timestamp in UTC.
func (e *AuthzDenied) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypePermissionChanged.
func (*PermissionChanged) EventType() string { return TypePermissionChanged }

// EventTime returns the Timestamp in UTC.
func (e *PermissionChanged) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypePoolCreated.
func (*PoolCreated) EventType() string { return TypePoolCreated }

// EventTime returns the Timestamp in UTC.
func (e *PoolCreated) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypePoolDeleted.
func (*PoolDeleted) EventType() string { return TypePoolDeleted }

// EventTime returns the Timestamp in UTC.
func (e *PoolDeleted) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypePoolModified.
func (*PoolModified) EventType() string { return TypePoolModified }

// EventTime returns the Timestamp in UTC.
func (e *PoolModified) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeNodeRegistered.
func (*NodeRegistered) EventType() string { return TypeNodeRegistered }

// EventTime returns the Timestamp in UTC.
func (e *NodeRegistered) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeNodeDeregistered.
func (*NodeDeregistered) EventType() string { return TypeNodeDeregistered }

// EventTime returns the Timestamp in UTC.
func (e *NodeDeregistered) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeTaskSubmitted.
func (*TaskSubmitted) EventType() string { return TypeTaskSubmitted }

// EventTime returns the Timestamp in UTC.
func (e *TaskSubmitted) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeTaskCompleted.
func (*TaskCompleted) EventType() string { return TypeTaskCompleted }

// EventTime returns the Timestamp in UTC.
func (e *TaskCompleted) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeTaskCanceled.
func (*TaskCanceled) EventType() string { return TypeTaskCanceled }

// EventTime returns the Timestamp in UTC.
func (e *TaskCanceled) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeVRAMSealed.
func (*VRAMSealed) EventType() string { return TypeVRAMSealed }

// EventTime returns the Timestamp in UTC.
func (e *VRAMSealed) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeSealVerified.
func (*SealVerified) EventType() string { return TypeSealVerified }

// EventTime returns the Timestamp in UTC.
func (e *SealVerified) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeSealVerificationFailed.
func (*SealVerificationFailed) EventType() string { return TypeSealVerificationFailed }

// EventTime returns the Timestamp in UTC.
func (e *SealVerificationFailed) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeVRAMAllocated.
func (*VRAMAllocated) EventType() string { return TypeVRAMAllocated }

// EventTime returns the Timestamp in UTC.
func (e *VRAMAllocated) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeVRAMAllocationFailed.
func (*VRAMAllocationFailed) EventType() string { return TypeVRAMAllocationFailed }

// EventTime returns the Timestamp in UTC.
func (e *VRAMAllocationFailed) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeVRAMDeallocated.
func (*VRAMDeallocated) EventType() string { return TypeVRAMDeallocated }

// EventTime returns the Timestamp in UTC.
func (e *VRAMDeallocated) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeRateLimitExceeded.
func (*RateLimitExceeded) EventType() string { return TypeRateLimitExceeded }

// EventTime returns the Timestamp in UTC.
func (e *RateLimitExceeded) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypePathTraversalAttempt.
func (*PathTraversalAttempt) EventType() string { return TypePathTraversalAttempt }

// EventTime returns the Timestamp in UTC.
func (e *PathTraversalAttempt) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeInvalidTokenUsed.
func (*InvalidTokenUsed) EventType() string { return TypeInvalidTokenUsed }

// EventTime returns the Timestamp in UTC.
func (e *InvalidTokenUsed) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypePolicyViolation.
func (*PolicyViolation) EventType() string { return TypePolicyViolation }

// EventTime returns the Timestamp in UTC.
func (e *PolicyViolation) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeSuspiciousActivity.
func (*SuspiciousActivity) EventType() string { return TypeSuspiciousActivity }

// EventTime returns the Timestamp in UTC.
func (e *SuspiciousActivity) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeIntegrityViolation.
func (*IntegrityViolation) EventType() string { return TypeIntegrityViolation }

// EventTime returns the Timestamp in UTC.
func (e *IntegrityViolation) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeMalformedModelRejected.
func (*MalformedModelRejected) EventType() string { return TypeMalformedModelRejected }

// EventTime returns the Timestamp in UTC.
func (e *MalformedModelRejected) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeResourceLimitViolation.
func (*ResourceLimitViolation) EventType() string { return TypeResourceLimitViolation }

// EventTime returns the Timestamp in UTC.
func (e *ResourceLimitViolation) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeInferenceExecuted.
func (*InferenceExecuted) EventType() string { return TypeInferenceExecuted }

// EventTime returns the Timestamp in UTC.
func (e *InferenceExecuted) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeModelAccessed.
func (*ModelAccessed) EventType() string { return TypeModelAccessed }

// EventTime returns the Timestamp in UTC.
func (e *ModelAccessed) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeDataDeleted.
func (*DataDeleted) EventType() string { return TypeDataDeleted }

// EventTime returns the Timestamp in UTC.
func (e *DataDeleted) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeGDPRDataAccessRequest.
func (*GDPRDataAccessRequest) EventType() string { return TypeGDPRDataAccessRequest }

// EventTime returns the Timestamp in UTC.
func (e *GDPRDataAccessRequest) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeGDPRDataExport.
func (*GDPRDataExport) EventType() string { return TypeGDPRDataExport }

// EventTime returns the Timestamp in UTC.
func (e *GDPRDataExport) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeGDPRRightToErasure.
func (*GDPRRightToErasure) EventType() string { return TypeGDPRRightToErasure }

// EventTime returns the Timestamp in UTC.
func (e *GDPRRightToErasure) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeSealerStarted.
func (*SealerStarted) EventType() string { return TypeSealerStarted }

// EventTime returns the Timestamp in UTC.
func (e *SealerStarted) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeSealerStopped.
func (*SealerStopped) EventType() string { return TypeSealerStopped }

// EventTime returns the Timestamp in UTC.
func (e *SealerStopped) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeEventsShed.
func (*EventsShed) EventType() string { return TypeEventsShed }

// EventTime returns the Timestamp in UTC.
func (e *EventsShed) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeCheckpointWitnessed.
func (*CheckpointWitnessed) EventType() string { return TypeCheckpointWitnessed }

// EventTime returns the Timestamp in UTC.
func (e *CheckpointWitnessed) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeConfigReloaded.
func (*ConfigReloaded) EventType() string { return TypeConfigReloaded }

// EventTime returns the Timestamp in UTC.
func (e *ConfigReloaded) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeWitnessAlarm.
func (*WitnessAlarm) EventType() string { return TypeWitnessAlarm }

// EventTime returns the Timestamp in UTC.
func (e *WitnessAlarm) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeStorageRecovered.
func (*StorageRecovered) EventType() string { return TypeStorageRecovered }

// EventTime returns the Timestamp in UTC.
func (e *StorageRecovered) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeClientDropped.
func (*ClientDropped) EventType() string { return TypeClientDropped }

// EventTime returns the Timestamp in UTC.
func (e *ClientDropped) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeKeyIntroduced.
func (*KeyIntroduced) EventType() string { return TypeKeyIntroduced }

// EventTime returns the Timestamp in UTC.
func (e *KeyIntroduced) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeAnchorState.
func (*AnchorState) EventType() string { return TypeAnchorState }

// EventTime returns the Timestamp in UTC.
func (e *AnchorState) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeRetentionPruned.
func (*RetentionPruned) EventType() string { return TypeRetentionPruned }

// EventTime returns the Timestamp in UTC.
func (e *RetentionPruned) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeTailDiscarded.
func (*TailDiscarded) EventType() string { return TypeTailDiscarded }

// EventTime returns the Timestamp in UTC.
func (e *TailDiscarded) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeTPMIdentity.
func (*TPMIdentity) EventType() string { return TypeTPMIdentity }

// EventTime returns the Timestamp in UTC.
func (e *TPMIdentity) EventTime() time.Time { return e.Timestamp.UTC() }

// EventType returns TypeLogRead.
func (*LogRead) EventType() string { return TypeLogRead }

// EventTime returns the Timestamp in UTC.
func (e *LogRead) EventTime() time.Time { return e.Timestamp.UTC() }
