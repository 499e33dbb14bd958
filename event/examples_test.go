package event

import (
	"time"
)

// testNow is the reference clock of the tests.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

var testOpts = DecodeOptions{Now: testNow, AllowSealerEvents: true}

const (
	hexA = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
	hexB = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
)

// validExamples holds one or more canonical examples per event type, in
// EVENTS.md order, then the sealer's types.
var validExamples = []struct {
	name string
	json string
}{
	{"auth.success", `{"type":"auth.success","timestamp":"2026-11-27T10:00:00Z","actor":{"user_id":"token:a3f2c1","ip":"192.168.1.100","auth_method":"bearer_token"},"method":"bearer_token","path":"/v2/tasks","service_id":"queen-rbee"}`},
	{"auth.failure", `{"type":"auth.failure","timestamp":"2026-11-27T10:00:01.5Z","attempted_user":"token:deadbeef","reason":"invalid_token","ip":"2001:db8::1","path":"/v2/pools","service_id":"queen-rbee"}`},
	{"auth.failure/no-user", `{"type":"auth.failure","timestamp":"2026-11-27T10:00:01.123456789Z","reason":"missing_header","ip":"10.0.0.7","path":"/v2/pools","service_id":"queen-rbee"}`},
	{"token.created", `{"type":"token.created","timestamp":"2026-11-27T10:00:02Z","actor":{"user_id":"admin@example.com","auth_method":"mtls","session_id":"sess-42"},"token_fingerprint":"token:0123456789abcdef","scope":["read:pools","write:tasks"],"expires_at":"2027-11-27T10:00:00Z"}`},
	{"token.revoked", `{"type":"token.revoked","timestamp":"2026-11-27T10:00:03Z","actor":{"user_id":"system","auth_method":"internal"},"token_fingerprint":"token:a3f2c1","reason":"compromised"}`},
	{"authz.granted", `{"type":"authz.granted","timestamp":"2026-11-27T10:00:04Z","actor":{"user_id":"customer-123","ip":"::ffff:10.1.2.3","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7","parent_id":"node-1"},"action":"read"}`},
	{"authz.denied", `{"type":"authz.denied","timestamp":"2026-11-27T10:00:05Z","actor":{"user_id":"token:a3f2c1","ip":"192.168.1.100","auth_method":"bearer_token","session_id":"sess-1"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"write","reason":"insufficient_permissions"}`},
	{"authz.permission_changed", `{"type":"authz.permission_changed","timestamp":"2026-11-27T10:00:06Z","actor":{"user_id":"admin","auth_method":"mtls"},"subject":"token:bead00","old_permissions":["read"],"new_permissions":["read","write"]}`},
	{"pool.created", `{"type":"pool.created","timestamp":"2026-11-27T10:00:07Z","actor":{"user_id":"system","auth_method":"internal"},"pool_id":"pool-7","model_ref":"hf:meta-llama/Llama-3-8B","node_id":"node-1","replicas":2,"gpu_devices":[0,1]}`},
	{"pool.deleted", `{"type":"pool.deleted","timestamp":"2026-11-27T10:00:08Z","actor":{"user_id":"admin","auth_method":"mtls"},"pool_id":"pool-7","model_ref":"hf:meta-llama/Llama-3-8B","node_id":"node-1","reason":"user_requested","replicas_terminated":2}`},
	{"pool.modified", `{"type":"pool.modified","timestamp":"2026-11-27T10:00:09Z","actor":{"user_id":"admin","auth_method":"mtls"},"pool_id":"pool-7","changes":{"labels":["a","b"],"replicas":{"new":4,"old":2},"weight":0.5e1}}`},
	{"node.registered", `{"type":"node.registered","timestamp":"2026-11-27T10:00:10Z","actor":{"user_id":"system","auth_method":"internal"},"node_id":"node-1","gpu_count":8,"total_vram_gb":640,"capabilities":["cuda","tensor_cores"]}`},
	{"node.deregistered", `{"type":"node.deregistered","timestamp":"2026-11-27T10:00:11Z","actor":{"user_id":"system","auth_method":"internal"},"node_id":"node-1","reason":"maintenance","pools_affected":["pool-1","pool-2"]}`},
	{"node.deregistered/empty-array", `{"type":"node.deregistered","timestamp":"2026-11-27T10:00:11Z","actor":{"user_id":"system","auth_method":"internal"},"node_id":"node-1","reason":"maintenance","pools_affected":[]}`},
	{"task.submitted", `{"type":"task.submitted","timestamp":"2026-11-27T10:00:12Z","actor":{"user_id":"customer-123","auth_method":"api_key"},"task_id":"task-99","model_ref":"llama-3-8b","prompt_length":1234,"prompt_hash":"` + hexA + `","max_tokens":512}`},
	{"task.completed", `{"type":"task.completed","timestamp":"2026-11-27T10:00:13Z","task_id":"task-99","worker_id":"worker-gpu-0","tokens_generated":480,"duration_ms":18446744073709551615,"result":{"status":"success"}}`},
	{"task.completed/partial", `{"type":"task.completed","timestamp":"2026-11-27T10:00:13Z","task_id":"task-99","worker_id":"worker-gpu-0","tokens_generated":4294967295,"duration_ms":0,"result":{"status":"partial_success","details":"3 of 4 shards\nretried once"}}`},
	{"task.canceled", `{"type":"task.canceled","timestamp":"2026-11-27T10:00:14Z","actor":{"user_id":"customer-123","auth_method":"api_key"},"task_id":"task-99","reason":"timeout"}`},
	{"vram.sealed", `{"type":"vram.sealed","timestamp":"2026-11-27T10:00:15Z","shard_id":"shard-abc123","gpu_device":0,"vram_bytes":8000000000,"digest":"` + hexA + `","worker_id":"worker-gpu-0"}`},
	{"seal.verified", `{"type":"seal.verified","timestamp":"2026-11-27T10:00:16Z","shard_id":"shard-abc123","worker_id":"worker-gpu-0","result":{"status":"success"}}`},
	{"seal.verified/no-result", `{"type":"seal.verified","timestamp":"2026-11-27T10:00:16Z","shard_id":"shard-abc123","worker_id":"worker-gpu-0"}`},
	{"seal.verification_failed", `{"type":"seal.verification_failed","timestamp":"2026-11-27T10:00:17Z","shard_id":"shard-abc123","reason":"digest_mismatch","expected_digest":"` + hexA + `","actual_digest":"` + hexB + `","worker_id":"worker-gpu-0","severity":"critical"}`},
	{"vram.allocated", `{"type":"vram.allocated","timestamp":"2026-11-27T10:00:18Z","requested_bytes":1024,"allocated_bytes":2048,"available_bytes":3072,"used_bytes":4096,"gpu_device":1,"worker_id":"worker-gpu-1"}`},
	{"vram.allocation_failed", `{"type":"vram.allocation_failed","timestamp":"2026-11-27T10:00:19Z","requested_bytes":99999999999,"available_bytes":1,"reason":"insufficient_vram","gpu_device":1,"worker_id":"worker-gpu-1"}`},
	{"vram.deallocated", `{"type":"vram.deallocated","timestamp":"2026-11-27T10:00:20Z","shard_id":"shard-abc123","freed_bytes":8000000000,"remaining_used":0,"gpu_device":0,"worker_id":"worker-gpu-0"}`},
	{"security.rate_limit_exceeded", `{"type":"security.rate_limit_exceeded","timestamp":"2026-11-27T10:00:21Z","ip":"203.0.113.9","endpoint":"/v2/tasks","limit":100,"actual":250,"window_seconds":60}`},
	{"security.path_traversal_attempt", `{"type":"security.path_traversal_attempt","timestamp":"2026-11-27T10:00:22Z","actor":{"user_id":"customer-123","ip":"203.0.113.9","auth_method":"api_key"},"attempted_path":"../../etc/passwd\\x","endpoint":"/v2/files"}`},
	{"security.invalid_token_used", `{"type":"security.invalid_token_used","timestamp":"2026-11-27T10:00:23Z","ip":"203.0.113.9","token_fingerprint":"token:` + hexA + `","endpoint":"/v2/tasks"}`},
	{"security.policy_violation", `{"type":"security.policy_violation","timestamp":"2026-11-27T10:00:24Z","policy":"vram_only","violation":"unified_memory_detected","details":"line1\nline2\twith \"quotes\" <b>&</b> ünïcode ✓","severity":"critical","worker_id":"worker-gpu-0","action_taken":"worker_stopped"}`},
	{"security.suspicious_activity", `{"type":"security.suspicious_activity","timestamp":"2026-11-27T10:00:25Z","actor":{"user_id":"customer-123","auth_method":"api_key"},"activity_type":"repeated_failures","details":"17 failures in 60 s","risk_score":100}`},
	{"security.integrity_violation", `{"type":"security.integrity_violation","timestamp":"2026-11-27T10:00:26Z","resource_type":"model","resource_id":"llama-3-8b","expected_hash":"` + hexA + `","actual_hash":"` + hexB + `","severity":"high","action_taken":"load_refused","worker_id":"worker-gpu-0"}`},
	{"security.malformed_model_rejected", `{"type":"security.malformed_model_rejected","timestamp":"2026-11-27T10:00:27Z","model_ref":"hf:evil/model","validation_error":"header length exceeds file size","severity":"medium","action_taken":"rejected"}`},
	{"security.resource_limit_violation", `{"type":"security.resource_limit_violation","timestamp":"2026-11-27T10:00:28Z","resource_type":"vram","limit_type":"bytes","limit_value":8000000000,"actual_value":9000000000,"severity":"low","action_taken":"request_rejected","worker_id":"worker-gpu-0"}`},
	{"data.inference_executed", `{"type":"data.inference_executed","timestamp":"2026-11-27T10:00:29Z","customer_id":"customer-123","job_id":"job-5","model_ref":"llama-3-8b","tokens_processed":900,"provider_id":"provider-9","result":{"status":"failure","reason":"timeout"}}`},
	{"data.model_accessed", `{"type":"data.model_accessed","timestamp":"2026-11-27T10:00:30Z","customer_id":"customer-123","model_ref":"llama-3-8b","access_type":"download"}`},
	{"data.deleted", `{"type":"data.deleted","timestamp":"2026-11-27T10:00:31Z","customer_id":"customer-123","data_types":["inference_logs","model_cache"],"reason":"gdpr_erasure"}`},
	{"compliance.gdpr_data_access_request", `{"type":"compliance.gdpr_data_access_request","timestamp":"2026-11-27T10:00:32Z","customer_id":"customer-123","requester":"dpo@example.com","scope":["inference_logs","audit_logs"]}`},
	{"compliance.gdpr_data_export", `{"type":"compliance.gdpr_data_export","timestamp":"2026-11-27T10:00:33Z","customer_id":"customer-123","data_types":["inference_logs"],"export_format":"csv","file_hash":"` + hexB + `"}`},
	{"compliance.gdpr_right_to_erasure", `{"type":"compliance.gdpr_right_to_erasure","timestamp":"2026-11-27T10:00:34Z","customer_id":"customer-123","completed_at":"2026-11-27T10:00:30Z","data_types_deleted":["inference_logs","model_cache"]}`},

	{"audit.sealer_started", `{"type":"audit.sealer_started","timestamp":"2026-11-27T10:00:35Z","version":"1.0.0","mode":"production","key_id":"prod-key-1","key_kind":"pkcs11","algorithm":"ed25519","settings":{"batch_max":"100","data_dir":"/var/lib/audit-sealer","empty":""},"torn_tail_bytes":17,"torn_tail_kept_as":"torn-20261127.bin"}`},
	{"audit.sealer_started/fips", `{"type":"audit.sealer_started","timestamp":"2026-11-27T10:00:35Z","version":"1.0.0","mode":"production","key_id":"prod-key-1","key_kind":"pkcs11","algorithm":"ecdsa-p256","settings":{"require_fips":"true"},"fips140":"only","fips140_module":"v1.0.0-c2097c7c","hsm_fips":"validated","hsm_validation":"NIST CMVP certificate 4711, FIPS 140-3 level 3, module Example HSM v7"}`},
	{"audit.sealer_started/minimal", `{"type":"audit.sealer_started","timestamp":"2026-11-27T10:00:35Z","version":"1.0.0","mode":"dev","key_id":"dev","key_kind":"software","algorithm":"ecdsa-p256","settings":{}}`},
	{"audit.sealer_stopped", `{"type":"audit.sealer_stopped","timestamp":"2026-11-27T10:00:36Z","reason":"SIGTERM","records":123456}`},
	{"audit.events_shed", `{"type":"audit.events_shed","timestamp":"2026-11-27T10:00:37Z","count":10,"reason":"queue_full","critical_count":0,"first_at":"2026-11-27T10:00:36.1Z","last_at":"2026-11-27T10:00:36.9Z"}`},
	{"audit.client_dropped", `{"type":"audit.client_dropped","timestamp":"2026-11-27T10:00:38Z","service_id":"queen-rbee","count":3,"reason":"buffer_full"}`},
	{"audit.tail_discarded", `{"type":"audit.tail_discarded","timestamp":"2026-11-27T10:00:40Z","first_seq":1042,"records":3,"segment":"0000000000000000.seg","offset":58311,"bytes":1290,"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","kept_as":"0000000000000000.seg.broken","reason":"not authenticated: the remains of a group commit that a crash interrupted (never acknowledged)","decided_by":"crash_remains"}`},
	{"audit.tpm_identity", `{"type":"audit.tpm_identity","timestamp":"2026-11-27T10:00:41Z","ak_name":"000bf0ff5021a0bd9b5c4e3c7e2ad58d6c3d34c5e1c8e2f1d1e2b3a4c5d6e7f8a9b0","ak_public":"ACMACwAFBHIAAAAQABgACwADABAAIE5ZFhp8e9g=","nv_index":22020352,"nv_name":"000b2f0ea4a0c45e3d6bf8d0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6"}`},
	{"audit.checkpoint_witnessed", `{"type":"audit.checkpoint_witnessed","timestamp":"2026-11-02T09:00:02Z","witness":"w1","size":4,"checkpoint":"audit-sealer/666f726d6174206578616d706c6593e1\n4\nHoe6M9cPRERxDEvCoOSlg57Yk5mwIepAEqIPWr+VJoM=\nhead s6styEW8lLmDhfISNEHZ+xka4cOraHD/HMUL7LM1tYI=\ntime 2026-11-02T09:00:00.007Z\nsigner software ed25519\nmode dev\nrun oj9gjQYV9RuX6+yw1yiErqsXS/65vCzJg6xPyiI6++s=\nstart 0 GcZAMR8VSt3KrYotlIj6ZQNPTSYueelzjuYIaKbgE/U=\n","cosignature":"— witness.test/w1 kK1wqQAAAABq6FER/A+zTThDtbg12FxRALZbx2N08wIhdzI73AhYMQwobpWp+j4jGGEfrVohyWmT5U26b9vhVr/p45OaLHZPNP8FDg=="}`},
	{"audit.witness_alarm", `{"type":"audit.witness_alarm","timestamp":"2026-11-27T10:00:42Z","witness":"w1","old_size":120,"size":180,"known_size":200,"answer":"witness: old size is not the witness's size: sent old size 120, the witness cosigned size 200"}`},
	{"audit.witness_alarm/minimal", `{"type":"audit.witness_alarm","timestamp":"2026-11-27T10:00:42Z","witness":"w1","old_size":120,"size":180,"answer":"witness: checkpoint inconsistent with what the witness cosigned (HTTP 422, body \"\")"}`},
	{"audit.config_reloaded", `{"type":"audit.config_reloaded","timestamp":"2026-11-27T10:00:43Z","file":"/etc/audit-sealer/audit-sealer.toml","applied":["limits.max_connections","log.level","policy"],"restart_required":["tpm.transport"],"settings":{"max_connections":"2048","policy_entries":"1"},"policy":["uid 0, user root: queen-rbee pool-managerd"]}`},
	{"audit.config_reloaded/minimal", `{"type":"audit.config_reloaded","timestamp":"2026-11-27T10:00:43Z","applied":[],"restart_required":[],"settings":{},"policy":[]}`},
	{"audit.storage_recovered", `{"type":"audit.storage_recovered","timestamp":"2026-11-27T10:00:39Z","failed_at":"2026-11-27T10:00:30Z","error":"storage: write segment 0000000000000000.seg: no space left on device","discarded_bytes":4096,"kept_as":"0000000000000000.seg.broken"}`},
	{"audit.key_introduced", `{"type":"audit.key_introduced","timestamp":"2026-11-27T10:00:39Z","key_id":"3f2a9c01","key_name":"audit-sealer-1","algorithm":"ed25519","key_kind":"pkcs11","public_key":"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=","reason":"rotation"}`},
	{"audit.anchor_state", `{"type":"audit.anchor_state","timestamp":"2026-11-27T10:00:40Z","status":"crash_recovered","counter":42,"expected":41,"details":"crash between increment and record\nrecovered"}`},
	{"audit.anchor_state/minimal", `{"type":"audit.anchor_state","timestamp":"2026-11-27T10:00:40Z","status":"disabled","counter":0}`},
	{"audit.retention_pruned", `{"type":"audit.retention_pruned","timestamp":"2026-11-27T10:00:41Z","first_seq":0,"last_seq":99999,"segments":["2019-11-01.seg","2019-11-02.seg"],"retention_days":2555,"reason":"retention_expired"}`},
	{"audit.log_read", `{"type":"audit.log_read","timestamp":"2026-11-27T10:00:42Z","uid":1000,"gid":1000,"operation":"export","filters":{"since":"2026-01-01T00:00:00Z","types":["auth.failure"]},"results":17}`},
}
