package event

import (
	"testing"
)

// benchEvent is a realistic event of about 500 bytes.
const benchEvent = `{"type":"authz.denied","timestamp":"2026-11-27T10:00:05.123456789Z","actor":{"user_id":"token:a3f2c1d4e5f60718","ip":"192.168.1.100","auth_method":"bearer_token","session_id":"sess-7f3a9c2e-41d8-4b6a-9e0f-2c5d8a1b3e47"},"resource":{"resource_type":"pool","resource_id":"pool-llama-3-70b-instruct-eu-west-1-primary","parent_id":"node-gpu-a100-rack12-slot03"},"action":"write","reason":"insufficient_permissions: scope read:pools does not include write:pools for tenant customer-4711 (policy pool-admin-v3, evaluated by queen-rbee)"}`

func BenchmarkDecode(b *testing.B) {
	data := []byte(benchEvent)
	opts := DecodeOptions{Now: testNow}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	e, err := Decode([]byte(benchEvent), DecodeOptions{Now: testNow})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchEvent)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendEncode reuses the output buffer, as the daemon can.
func BenchmarkAppendEncode(b *testing.B) {
	e, err := Decode([]byte(benchEvent), DecodeOptions{Now: testNow})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(benchEvent)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = AppendEncode(buf[:0], e, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckCanonical checks one event over and over: benchEvent
// (Typical) and internal/testkit's ~500-byte event (Large), the one the
// verifier's benchmark log holds.
func BenchmarkCheckCanonical(b *testing.B) {
	for _, bc := range []struct{ name, event string }{{"Typical", benchEvent}, {"Large", largeEvent}} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(bc.event)
			opts := DecodeOptions{Now: testNow}
			if _, err := CheckCanonical(data, opts); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CheckCanonical(data, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckCanonicalAll cycles through every valid example.
func BenchmarkCheckCanonicalAll(b *testing.B) {
	var data [][]byte
	for _, ex := range validExamples {
		data = append(data, []byte(ex.json))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := CheckCanonical(data[i], testOpts); err != nil {
			b.Fatal(err)
		}
		i++
		if i == len(data) {
			i = 0
		}
	}
}

// largeEvent is internal/testkit's ~500-byte event, the one the verifier's
// benchmark log holds (free text with ordinary words, long identifiers).
const largeEvent = `{"type":"data.inference_executed","timestamp":"2026-11-27T10:00:05.123456Z","customer_id":"customer-00004711","job_id":"job-000000004711","model_ref":"hf:meta-llama/Meta-Llama-3.1-70B-Instruct@8c22764a7e3675c50d4c7c9a4edb474456022b16-q4_k_m-gguf-sharded-00001-of-00008","tokens_processed":5711,"provider_id":"provider-eu-west-gpu-pool-00017-node-0042-worker-0003","result":{"status":"partial_success","details":"completed with truncated output after max_tokens was reached; streaming client disconnected before the final chunk"}}`
