package main

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// benchTemplate is one event type of the benchmark's mix: the wire JSON of
// a plausible event of an inference platform, about 500 bytes, in which
// {ts} is replaced by the send time (RFC 3339, nanoseconds), {n} by a
// per-client counter and {u} by a user number, the counter modulo
// benchUsers (both 8 digits, zero-padded), so that each of the benchUsers
// users and customers appears throughout the log, as the query phase's
// user and entity filters need.
type benchTemplate struct {
	typ      string
	weight   int // share of the non-critical events, in percent
	critical bool
	json     string
}

// benchTemplates is the event mix the benchmark sends. The non-critical
// weights add up to 100; the one critical type (auth.failure, sealed before
// its ack) is sent at --critical-permille (default 10, i.e. 1%).
var benchTemplates = []benchTemplate{
	{typ: "data.inference_executed", weight: 20, json: `{"type":"data.inference_executed","timestamp":"{ts}","customer_id":"customer-{u}","job_id":"job-0000000000000000000001","model_ref":"hf:meta-llama/Meta-Llama-3.1-70B-Instruct@8c22764a7e3675c50d4c7c9a4edb4744-q4_k_m-00001-of-00008","tokens_processed":4096,"provider_id":"provider-eu-west-gpu-pool-00017-node-0042","result":{"status":"partial_success","details":"completed with truncated output after max_tokens was reached; the streaming client disconnected before the final chunk arrived"}}`},
	{typ: "task.submitted", weight: 14, json: `{"type":"task.submitted","timestamp":"{ts}","actor":{"user_id":"customer-{u}","ip":"203.0.113.77","auth_method":"bearer_token","session_id":"sess-2c26b46b68ffc68ff99b453c1d304134"},"task_id":"task-0000000000000000000000000000000000000000000000000001","model_ref":"hf:mistralai/Mixtral-8x22B-Instruct-v0.1@main-q5_k_m-00001-of-00004","prompt_length":18432,"prompt_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","max_tokens":4096}`},
	{typ: "task.completed", weight: 14, json: `{"type":"task.completed","timestamp":"{ts}","task_id":"task-{n}-0000000000000000000000000000000000000000000001","worker_id":"worker-gpu-eu-west-0042-device-03-process-000000001234-generation-0000000000000007","tokens_generated":1873,"duration_ms":20417,"result":{"status":"partial_success","details":"generation stopped at the stop sequence after 1873 tokens; two of the eight tensor-parallel ranks were restarted once after an NCCL timeout and the request was replayed from the last checkpointed KV cache"}}`},
	{typ: "auth.success", weight: 12, json: `{"type":"auth.success","timestamp":"{ts}","actor":{"user_id":"customer-{u}@tenants.example.com","ip":"198.51.100.23","auth_method":"bearer_token","session_id":"sess-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},"method":"bearer_token","path":"/v2/pools/pool-llama-3-70b-instruct-eu-west-production-0007/tasks?stream=true&priority=interactive","service_id":"queen-rbee-api-gateway-eu-west-1-instance-00000000000000000003"}`},
	{typ: "authz.granted", weight: 10, json: `{"type":"authz.granted","timestamp":"{ts}","actor":{"user_id":"customer-{u}@tenants.example.com","ip":"2001:db8:85a3::8a2e:370:7334","auth_method":"api_key","session_id":"sess-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"},"resource":{"resource_type":"pool","resource_id":"pool-llama-3-70b-instruct-eu-west-production-0007-replica-set-0000000000000001","parent_id":"node-gpu-eu-west-0042-rack-07-row-03-hall-b-datacenter-ams-02"},"action":"write:tasks"}`},
	{typ: "vram.sealed", weight: 6, json: `{"type":"vram.sealed","timestamp":"{ts}","shard_id":"shard-{n}-llama-3-70b-instruct-layer-block-0000-0019-of-0080-tp-rank-00","gpu_device":3,"vram_bytes":17179869184,"digest":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","worker_id":"worker-gpu-eu-west-0042-device-03-process-000000001234-generation-0000000000000007-instance-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"}`},
	{typ: "seal.verified", weight: 6, json: `{"type":"seal.verified","timestamp":"{ts}","shard_id":"shard-{n}-llama-3-70b-instruct-layer-block-0020-0039-of-0080-tp-rank-01-replica-0000000000000000000000000000000000000002","worker_id":"worker-gpu-eu-west-0042-device-03-process-000000001234-generation-0000000000000007-instance-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6","result":{"status":"success"}}`},
	{typ: "vram.allocated", weight: 6, json: `{"type":"vram.allocated","timestamp":"{ts}","requested_bytes":17179869184,"allocated_bytes":17181966336,"available_bytes":68719476736,"used_bytes":51539607552,"gpu_device":3,"worker_id":"worker-gpu-eu-west-0042-device-03-process-{n}-generation-0000000000000007-instance-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2"}`},
	{typ: "authz.denied", weight: 4, json: `{"type":"authz.denied","timestamp":"{ts}","actor":{"user_id":"customer-{u}@tenants.example.com","ip":"2001:db8:85a3::8a2e:370:7334","auth_method":"api_key","session_id":"sess-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"},"resource":{"resource_type":"pool","resource_id":"pool-llama-3-70b-instruct-eu-west-production-0007","parent_id":"node-gpu-eu-west-0042"},"action":"delete","reason":"insufficient_permissions: the api key is scoped to read:pools and write:tasks but delete on pools requires admin:pools"}`},
	{typ: "data.model_accessed", weight: 4, json: `{"type":"data.model_accessed","timestamp":"{ts}","customer_id":"customer-{u}-organization-0000000000000000000000000000000000000000000000000000000000000042","model_ref":"hf:meta-llama/Meta-Llama-3.1-405B-Instruct@c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0-fp8-dynamic-00001-of-00019","access_type":"download","provider_id":"provider-eu-west-gpu-pool-00017-node-0042-storage-gateway-0000000000000000000000000000000000000000000000000000000000000001"}`},
	{typ: "security.rate_limit_exceeded", weight: 3, json: `{"type":"security.rate_limit_exceeded","timestamp":"{ts}","ip":"2001:db8:85a3:0:1:8a2e:370:7334","endpoint":"/v2/pools/pool-llama-3-70b-instruct-eu-west-production-0007/tasks/task-{n}/stream?format=sse&include_usage=true&include_logprobs=false&tenant=customer-00000042&region=eu-west-1&retry=3&client=openai-python%2F1.54.3&trace_id=4bf92f3577b34da6a3ce929d0e0e4736&span_id=00f067aa0ba902b7&sampled=1","limit":100,"actual":2511,"window_seconds":60}`},
	{typ: "pool.modified", weight: 1, json: `{"type":"pool.modified","timestamp":"{ts}","actor":{"user_id":"operator-{n}@platform.example.com","ip":"10.20.30.40","auth_method":"mtls","session_id":"sess-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"},"pool_id":"pool-llama-3-70b-instruct-eu-west-production-0007","changes":{"replicas":{"old":4,"new":6},"max_batch_tokens":{"old":16384,"new":32768},"labels":["interactive","eu-west","h100-80gb"],"drain_timeout_seconds":{"old":30,"new":120}}}`},
	{typ: "auth.failure", critical: true, json: `{"type":"auth.failure","timestamp":"{ts}","attempted_user":"customer-{u}@tenants.example.com","reason":"invalid_credentials: the bearer token signature did not verify against any active signing key of the issuer; the key id in the token header is unknown or was rotated out","ip":"198.51.100.231","path":"/v2/pools/pool-llama-3-70b-instruct-eu-west-production-0007/tasks","service_id":"queen-rbee-api-gateway-eu-west-1-instance-00000000000000000003"}`},
}

// compiledTemplate is a template split at its placeholders, so that an
// event is built by appending, without formatting or allocating.
type compiledTemplate struct {
	typ      string
	critical bool
	parts    []string // literal, placeholder, literal, ...: odd indexes are "ts", "n" or "u"
}

func compileTemplate(t benchTemplate) compiledTemplate {
	c := compiledTemplate{typ: t.typ, critical: t.critical}
	s := t.json
	for {
		i, name := -1, ""
		for _, ph := range []string{"ts", "n", "u"} {
			if j := strings.Index(s, "{"+ph+"}"); j >= 0 && (i < 0 || j < i) {
				i, name = j, ph
			}
		}
		if i < 0 {
			c.parts = append(c.parts, s)
			return c
		}
		c.parts = append(c.parts, s[:i], name)
		s = s[i+len(name)+2:]
	}
}

// appendEvent appends the event with send time ts and counter n to dst.
func (c *compiledTemplate) appendEvent(dst []byte, ts time.Time, n int) []byte {
	for i, p := range c.parts {
		if i%2 == 0 {
			dst = append(dst, p...)
			continue
		}
		switch p {
		case "ts":
			dst = ts.AppendFormat(dst, time.RFC3339Nano)
		case "n", "u":
			v := n
			if p == "u" {
				v = n % benchUsers
			}
			var buf [20]byte
			d := strconv.AppendInt(buf[:0], int64(v), 10)
			for k := len(d); k < 8; k++ {
				dst = append(dst, '0')
			}
			dst = append(dst, d...)
		}
	}
	return dst
}

// benchUsers is how many users (and customers) the events name: event n
// names user n % benchUsers (customer-00000042@tenants.example.com as
// actor or attempted user, customer-00000042 as customer_id).
const benchUsers = 1000

// mixSlots is the length of the repeating schedule of event types.
const mixSlots = 1000

// benchMix is the schedule of event types: mixSlots entries in which the
// critical type takes criticalPermille slots and the others share the rest
// by weight, shuffled with a fixed seed so that types interleave and every
// run sends the same sequence.
type benchMix struct {
	templates []compiledTemplate
	slots     []uint8 // index into templates
}

func newBenchMix(criticalPermille int) *benchMix {
	m := &benchMix{}
	var nonCritical, critical []int
	total := 0
	for i, t := range benchTemplates {
		m.templates = append(m.templates, compileTemplate(t))
		if t.critical {
			critical = append(critical, i)
		} else {
			nonCritical = append(nonCritical, i)
			total += t.weight
		}
	}
	rest := mixSlots - criticalPermille
	for k, i := range critical {
		n := criticalPermille / len(critical)
		if k < criticalPermille%len(critical) {
			n++
		}
		for range n {
			m.slots = append(m.slots, uint8(i))
		}
	}
	// Largest remainder: the non-critical slots follow the weights exactly.
	given := 0
	type rem struct{ i, r int }
	var rems []rem
	for _, i := range nonCritical {
		n := rest * benchTemplates[i].weight / total
		given += n
		rems = append(rems, rem{i, rest * benchTemplates[i].weight % total})
		for range n {
			m.slots = append(m.slots, uint8(i))
		}
	}
	for given < rest {
		best := 0
		for k := range rems {
			if rems[k].r > rems[best].r {
				best = k
			}
		}
		m.slots = append(m.slots, uint8(rems[best].i))
		rems[best].r = -1
		given++
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(m.slots), func(a, b int) { m.slots[a], m.slots[b] = m.slots[b], m.slots[a] })
	return m
}

// pick returns the template of the i-th event of client c.
func (m *benchMix) pick(c, i int) *compiledTemplate {
	return &m.templates[m.slots[(c*137+i)%len(m.slots)]]
}
