package testkit

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
)

// largeTemplate is an event of about 500 bytes in canonical form, the size
// the performance goals are stated for.
const largeTemplate = `{"type":"data.inference_executed","timestamp":"%s","customer_id":"customer-%08d","job_id":"job-%012d","model_ref":"hf:meta-llama/Meta-Llama-3.1-70B-Instruct@8c22764a7e3675c50d4c7c9a4edb474456022b16-q4_k_m-gguf-sharded-00001-of-00008","tokens_processed":%d,"provider_id":"provider-eu-west-gpu-pool-00017-node-0042-worker-0003","result":{"status":"partial_success","details":"completed with truncated output after max_tokens was reached; streaming client disconnected before the final chunk"}}`

// LargeEvent returns the i-th ~500-byte event as a client would send it.
func LargeEvent(i int, ts time.Time) []byte {
	return []byte(fmt.Sprintf(largeTemplate, ts.Format(time.RFC3339Nano), i, i, 1000+i%5000))
}

// BuildLargeLog writes a log of n ~500-byte events into dir, sealed every
// 100 records, with segments of segmentSize bytes, and returns the path of
// its public key (written next to dir).
func BuildLargeLog(dir string, n int, segmentSize int64) (keyFile string, err error) {
	clock := NewClock()
	clock.Step = time.Microsecond
	return writeLog(dir, n, ledger.Config{SegmentSize: segmentSize, Now: clock.Now, Rand: &seededReader{buf: []byte("large")}}, false,
		func(i int, now time.Time) (string, []byte) { return "queen-rbee", LargeEvent(i, now) })
}

// BuildLogOf writes a log of n events from next into dir (one segment,
// sealed every 100 events and at the end, one clock step of a millisecond
// per reading from 2026-11-02) and returns the path of its public key
// (written next to dir). next gives the i-th event's service and its JSON
// as a client would send it, stamped from now: tests use it for events
// whose text matters (characters that encoders like to escape).
func BuildLogOf(dir string, n int, next func(i int, now time.Time) (service string, raw []byte)) (keyFile string, err error) {
	clock := NewClock()
	return writeLog(dir, n, ledger.Config{Now: clock.Now, Rand: &seededReader{buf: []byte("of")}}, false, next)
}

// eventSource gives the i-th event of a generated log: the service that
// sends it and its JSON as a client would send it, stamped from now.
type eventSource func(i int, now time.Time) (service string, raw []byte)

// writeLog writes n events from next into a new log in dir (ledger
// settings cfg, whose Now is also the events' clock), seals every 100
// events, closes segments when due (after each seal, or after every event
// with rotateEach), and returns the path of its public key, written next
// to dir.
func writeLog(dir string, n int, cfg ledger.Config, rotateEach bool, next eventSource) (keyFile string, err error) {
	cfg.Dir, cfg.Signer, cfg.Dev = dir, Key("main"), true
	l, _, err := ledger.Open(cfg)
	if err != nil {
		return "", err
	}
	for i := 0; i < n; i++ {
		now := cfg.Now()
		service, raw := next(i, now)
		ev, err := event.Decode(raw, event.DecodeOptions{Now: now})
		if err != nil {
			return "", fmt.Errorf("testkit: event %d: %w", i, err)
		}
		body, err := event.Encode(ev)
		if err != nil {
			return "", err
		}
		if _, _, err := l.Append(chain.KindEvent, service, ev.EventType(), body, now); err != nil {
			return "", err
		}
		sealed := (i+1)%100 == 0
		if sealed {
			if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
				return "", err
			}
		}
		if sealed || rotateEach {
			if _, err := l.RotateIfDue(); err != nil {
				return "", err
			}
		}
	}
	if err := l.Close(); err != nil {
		return "", err
	}
	keyFile = filepath.Join(filepath.Dir(dir), filepath.Base(dir)+".pem")
	return keyFile, writePEM(keyFile, Key("main"))
}

// BuildQueryLog writes a log of n events of the template mix into dir, with
// segments of segmentSize bytes, sealed every 100 events, one record per
// millisecond, and returns the path of its public key (written next to
// dir). Unlike the vectors' logs its identifiers repeat, as on a real host
// (customer-0 to customer-96, shard-…, pool-…, sessions), so that user and
// entity queries select a few records of many, for query and index tests.
func BuildQueryLog(dir string, n int, segmentSize int64) (keyFile string, err error) {
	clock := NewClock()
	return writeLog(dir, n, ledger.Config{SegmentSize: segmentSize, Now: clock.Now, Rand: &seededReader{buf: []byte("query")}}, false,
		func(i int, now time.Time) (string, []byte) {
			t := templates[i%len(templates)]
			return t.service, []byte(fmt.Sprintf(t.json, now.Add(-time.Millisecond).Format(time.RFC3339Nano), (i/len(templates))%97))
		})
}

// realisticTemplates are the events of BuildRealisticLog: the types the
// reports, query filters and SIEM formats care about, in the proportions of
// a busy platform. %[1]s is the timestamp, %[2]s a customer (one of
// RealisticOptions.Customers), %[3]d a counter.
var realisticTemplates = []struct {
	service string
	weight  int
	json    string
}{
	{"queen-rbee", 26, `{"type":"data.inference_executed","timestamp":"%[1]s","customer_id":"%[2]s","job_id":"job-%[3]d","model_ref":"hf:meta-llama/Meta-Llama-3.1-70B-Instruct@8c22764a-q4_k_m","tokens_processed":%[3]d,"provider_id":"provider-eu-west-0017","result":{"status":"success"}}`},
	{"queen-rbee", 12, `{"type":"auth.success","timestamp":"%[1]s","actor":{"user_id":"%[2]s@tenants.example.com","ip":"198.51.100.23","auth_method":"bearer_token","session_id":"sess-%[3]d"},"method":"bearer_token","path":"/v2/tasks","service_id":"queen-rbee"}`},
	{"pool-managerd", 4, `{"type":"auth.success","timestamp":"%[1]s","actor":{"user_id":"operator@platform.example.com","ip":"10.20.30.40","auth_method":"mtls"},"method":"mtls","path":"/v1/pools","service_id":"pool-managerd"}`},
	{"queen-rbee", 14, `{"type":"task.submitted","timestamp":"%[1]s","actor":{"user_id":"%[2]s@tenants.example.com","auth_method":"api_key"},"task_id":"task-%[3]d","model_ref":"llama-3-8b","prompt_length":512,"prompt_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","max_tokens":256}`},
	{"queen-rbee", 10, `{"type":"authz.granted","timestamp":"%[1]s","actor":{"user_id":"%[2]s@tenants.example.com","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"write:tasks"}`},
	{"queen-rbee", 4, `{"type":"authz.denied","timestamp":"%[1]s","actor":{"user_id":"%[2]s@tenants.example.com","ip":"2001:db8::7334","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"delete","reason":"insufficient_permissions: needs admin|pools=delete \\ scope"}`},
	{"worker-gpu-0", 8, `{"type":"vram.sealed","timestamp":"%[1]s","shard_id":"shard-%[3]d","gpu_device":0,"vram_bytes":17179869184,"digest":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","worker_id":"worker-gpu-0"}`},
	{"worker-gpu-0", 8, `{"type":"seal.verified","timestamp":"%[1]s","shard_id":"shard-%[3]d","worker_id":"worker-gpu-0"}`},
	{"queen-rbee", 4, `{"type":"data.model_accessed","timestamp":"%[1]s","customer_id":"%[2]s","model_ref":"llama-3-8b","access_type":"download","provider_id":"provider-eu-west-0017"}`},
	{"queen-rbee", 3, `{"type":"security.rate_limit_exceeded","timestamp":"%[1]s","ip":"203.0.113.9","endpoint":"/v2/tasks","limit":100,"actual":%[3]d,"window_seconds":60}`},
	{"queen-rbee", 1, `{"type":"auth.failure","timestamp":"%[1]s","attempted_user":"%[2]s@tenants.example.com","reason":"invalid_token","ip":"203.0.113.9","path":"/v2/tasks","service_id":"queen-rbee"}`},
	{"worker-gpu-0", 1, `{"type":"seal.verification_failed","timestamp":"%[1]s","shard_id":"shard-%[3]d","reason":"digest_mismatch","expected_digest":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","actual_digest":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","worker_id":"worker-gpu-0","severity":"critical"}`},
	{"worker-gpu-0", 1, `{"type":"security.integrity_violation","timestamp":"%[1]s","resource_type":"model","resource_id":"llama-3-8b","expected_hash":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","actual_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","severity":"high","action_taken":"load_refused","worker_id":"worker-gpu-0"}`},
	{"queen-rbee", 1, `{"type":"compliance.gdpr_data_export","timestamp":"%[1]s","customer_id":"%[2]s","data_types":["inference_logs"],"export_format":"csv","file_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`},
	{"queen-rbee", 1, `{"type":"data.deleted","timestamp":"%[1]s","customer_id":"%[2]s","data_types":["inference_logs","model_cache"],"reason":"gdpr_erasure"}`},
	{"queen-rbee", 1, `{"type":"compliance.gdpr_right_to_erasure","timestamp":"%[1]s","customer_id":"%[2]s","completed_at":"%[1]s","data_types_deleted":["inference_logs","model_cache"]}`},
	{"queen-rbee", 1, `{"type":"compliance.gdpr_data_access_request","timestamp":"%[1]s","customer_id":"%[2]s","requester":"dpo@example.com","scope":["inference_logs","audit_logs"]}`},
}

// RealisticOptions describe a log of BuildRealisticLog.
type RealisticOptions struct {
	Events      int   // client events
	SegmentSize int64 // bytes; segments also close at UTC midnight
	// Step is the clock's step per reading (0 = 1 ms); the ledger reads it
	// too, about twice per event. The clock starts on 2026-11-02 and the
	// ledger checks its own events against the real time, so the log must
	// end before now: Events * 2 * Step at most about 3 weeks.
	Step      time.Duration
	Customers int // distinct customers (and users); 0 = 100
}

// RealisticCustomer returns the name of customer c of a realistic log.
func RealisticCustomer(c int) string { return fmt.Sprintf("customer-%04d", c) }

// BuildRealisticLog writes a log of o.Events events of 16 types (about 300
// bytes each; every report's types, critical events among them) into dir,
// sealed every 100 records, and returns the path of its public key
// (written next to dir). Events come in runs of 100 that hold every type
// in its proportion, each run naming one customer: run r, customer
// r % o.Customers. The same options always give the same log.
func BuildRealisticLog(dir string, o RealisticOptions) (keyFile string, err error) {
	if o.Step == 0 {
		o.Step = time.Millisecond
	}
	if o.Customers == 0 {
		o.Customers = 100
	}
	var schedule []int
	for k, t := range realisticTemplates {
		for range t.weight {
			schedule = append(schedule, k)
		}
	}
	clock := NewClock()
	clock.Step = o.Step
	return writeLog(dir, o.Events, ledger.Config{SegmentSize: o.SegmentSize, Now: clock.Now, Rand: &seededReader{buf: []byte("realistic")}}, true,
		func(i int, now time.Time) (string, []byte) {
			// 7 is prime to len(schedule) (100), so the types interleave.
			t := realisticTemplates[schedule[(i*7)%len(schedule)]]
			// Each run of len(schedule) events (every type) is one customer's.
			return t.service, []byte(fmt.Sprintf(t.json, now.Format(time.RFC3339Nano), RealisticCustomer(i/len(schedule)%o.Customers), i))
		})
}
