package event_test

import (
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
)

func Example() {
	// A service sends a non-canonical but valid event: members in another
	// order, whitespace, an explicit null and a +00:00 offset.
	in := []byte(`{
		"timestamp": "2026-11-27T10:00:05.500+00:00",
		"type": "authz.denied",
		"actor": {"user_id": "token:a3f2c1", "auth_method": "bearer_token", "ip": null},
		"resource": {"resource_type": "pool", "resource_id": "pool-7"},
		"action": "write",
		"reason": "insufficient_permissions"
	}`)
	opts := event.DecodeOptions{Now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	e, err := event.Decode(in, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	denied := e.(*event.AuthzDenied)
	fmt.Println(e.EventType(), event.IsCritical(e.EventType()), denied.Resource.ResourceID)

	out, err := event.AppendEncode(nil, e, opts.Now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))

	// The verifier accepts the canonical bytes and refuses any other spelling.
	typ, err := event.CheckCanonical(out, opts)
	fmt.Println(typ, err)
	_, err = event.CheckCanonical(in, opts)
	fmt.Println(err)

	// Refusals name the field and the rule, never the value.
	_, err = event.Decode([]byte(`{"type":"auth.failure","timestamp":"2026-11-27T10:00:00Z","reason":"Bearer eyJhbGciOiJIUzI1NiJ9","ip":"10.0.0.1","path":"/","service_id":"api"}`), opts)
	fmt.Println(err)
	// Output:
	// authz.denied false pool-7
	// {"type":"authz.denied","timestamp":"2026-11-27T10:00:05.5Z","actor":{"user_id":"token:a3f2c1","auth_method":"bearer_token"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"write","reason":"insufficient_permissions"}
	// authz.denied <nil>
	// event: not_canonical (a valid event, but not its canonical encoding)
	// event: field "reason": looks_like_credential (looks like a raw credential; log a fingerprint instead)
}

func ExampleEncode() {
	e := &event.VRAMSealed{
		Timestamp: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		ShardID:   "shard-abc123",
		GPUDevice: 0,
		VRAMBytes: 8_000_000_000,
		Digest:    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		WorkerID:  "worker-gpu-0",
	}
	out, err := event.Encode(e)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"type":"vram.sealed","timestamp":"2026-11-27T10:00:00Z","shard_id":"shard-abc123","gpu_device":0,"vram_bytes":8000000000,"digest":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","worker_id":"worker-gpu-0"}
}
