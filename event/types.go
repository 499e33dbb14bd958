package event

import "net/netip"

// AuthMethod is how an actor authenticated.
type AuthMethod string

// The accepted authentication methods.
const (
	AuthBearerToken AuthMethod = "bearer_token"
	AuthAPIKey      AuthMethod = "api_key"
	AuthMTLS        AuthMethod = "mtls"
	AuthInternal    AuthMethod = "internal" // service to service
)

// Severity grades security events. Only the lower-case values are accepted.
type Severity string

// The accepted severities.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// AccessType is the access_type of data.model_accessed.
type AccessType string

// The accepted access types.
const (
	AccessInference AccessType = "inference"
	AccessDownload  AccessType = "download"
	AccessInspect   AccessType = "inspect"
)

// ExportFormat is the export_format of compliance.gdpr_data_export.
type ExportFormat string

// The accepted export formats.
const (
	ExportJSON ExportFormat = "json"
	ExportCSV  ExportFormat = "csv"
)

// ResultStatus is the status of a Result.
type ResultStatus string

// The accepted result statuses.
const (
	StatusSuccess        ResultStatus = "success"
	StatusFailure        ResultStatus = "failure"
	StatusPartialSuccess ResultStatus = "partial_success"
)

// Actor is who performed an action. Wire form:
// {"user_id":…,"ip":…,"auth_method":…,"session_id":…}.
type Actor struct {
	// UserID is an opaque id or a token fingerprint ("token:" + 6..64
	// lower-case hex). Required; an identifier (at most 256 bytes, no "..",
	// "/" or "\").
	UserID string
	// IP is optional; the zero netip.Addr means none. Zones are refused.
	IP netip.Addr
	// AuthMethod is required.
	AuthMethod AuthMethod
	// SessionID is optional; "" means none. An identifier.
	SessionID string
}

// Resource is the object an action applies to. Wire form:
// {"resource_type":…,"resource_id":…,"parent_id":…}.
type Resource struct {
	ResourceType string // required, for example "pool", "node", "job", "shard"
	ResourceID   string // required identifier
	ParentID     string // optional identifier; "" means none
}

// Result is the outcome of an operation. Build one with Success, Failure or
// PartialSuccess. Wire form: {"status":"success"},
// {"status":"failure","reason":…} or {"status":"partial_success","details":…};
// no other combination of keys is accepted.
type Result struct {
	Status  ResultStatus
	Reason  string // set only (and required) when Status is failure
	Details string // set only (and required) when Status is partial_success; free text, LF allowed
}

// Success returns a successful Result.
func Success() Result { return Result{Status: StatusSuccess} }

// Failure returns a failed Result with the given reason.
func Failure(reason string) Result { return Result{Status: StatusFailure, Reason: reason} }

// PartialSuccess returns a partially successful Result with free-text details.
func PartialSuccess(details string) Result {
	return Result{Status: StatusPartialSuccess, Details: details}
}

// Optional returns a pointer to v, for optional numeric fields such as
// AnchorState.Counter.
func Optional[T any](v T) *T { return &v }
