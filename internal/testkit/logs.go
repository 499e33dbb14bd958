package testkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

// Services and event templates for the generated logs: a realistic mix of
// the event types of EVENTS.md. %s is replaced by the event timestamp, %d by
// a counter.
var templates = []struct{ service, json string }{
	{"queen-rbee", `{"type":"auth.success","timestamp":"%s","actor":{"user_id":"admin@example.com","ip":"10.0.0.7","auth_method":"bearer_token","session_id":"sess-%d"},"method":"bearer_token","path":"/v2/tasks","service_id":"queen-rbee"}`},
	{"queen-rbee", `{"type":"authz.denied","timestamp":"%s","actor":{"user_id":"customer-%d","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"delete","reason":"insufficient_permissions"}`},
	{"queen-rbee", `{"type":"task.submitted","timestamp":"%s","actor":{"user_id":"customer-%d","auth_method":"api_key"},"task_id":"task-1","model_ref":"llama-3-8b","prompt_length":512,"prompt_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","max_tokens":256}`},
	{"worker-gpu-0", `{"type":"vram.sealed","timestamp":"%s","shard_id":"shard-%d","gpu_device":0,"vram_bytes":17179869184,"digest":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","worker_id":"worker-gpu-0"}`},
	{"worker-gpu-0", `{"type":"seal.verified","timestamp":"%s","shard_id":"shard-%d","worker_id":"worker-gpu-0"}`},
	{"pool-managerd", `{"type":"pool.created","timestamp":"%s","actor":{"user_id":"system","auth_method":"internal"},"pool_id":"pool-%d","model_ref":"llama-3-8b","node_id":"node-1","replicas":2,"gpu_devices":[0,1]}`},
	{"queen-rbee", `{"type":"data.inference_executed","timestamp":"%s","customer_id":"customer-%d","job_id":"job-9","model_ref":"llama-3-8b","tokens_processed":1024,"result":{"status":"success"}}`},
	{"queen-rbee", `{"type":"auth.failure","timestamp":"%s","attempted_user":"token:a3f2c1","reason":"invalid_token","ip":"203.0.113.%d","path":"/v2/tasks","service_id":"queen-rbee"}`},
}

// logSpec describes a log to build.
type logSpec struct {
	events      int   // client events to append
	sealEvery   int   // seal after this many events (0 = only at close)
	segmentSize int64 // 0 = one segment
	restarts    int   // close and reopen the ledger this many times along the way
	key         *signer.SoftwareSigner
	logSeed     string // seeds the log ID
}

// seededReader yields the bytes of SHA-256 chains of a seed: a
// deterministic "random" source for log IDs.
type seededReader struct{ buf []byte }

func (r *seededReader) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		r.buf = append(r.buf, hashOf(r.buf)...)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// buildLog writes a log into dir following spec and returns the clock, for
// callers that append more. It closes the ledger (sealing) unless keepOpen.
func buildLog(dir string, spec logSpec, clock *Clock, keepOpen bool) (*ledger.Ledger, error) {
	cfg := ledger.Config{Dir: dir, Signer: spec.key, Dev: true, SegmentSize: spec.segmentSize, Now: clock.Now,
		Rand: &seededReader{buf: []byte(spec.logSeed)}}
	l, _, err := ledger.Open(cfg)
	if err != nil {
		return nil, err
	}
	restartEvery := 0
	if spec.restarts > 0 {
		restartEvery = spec.events/(spec.restarts+1) + 1
	}
	for i := 0; i < spec.events; i++ {
		if err := appendEvent(l, i, clock); err != nil {
			return nil, err
		}
		if spec.sealEvery > 0 && (i+1)%spec.sealEvery == 0 {
			if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
				return nil, err
			}
		}
		if _, err := l.RotateIfDue(); err != nil {
			return nil, err
		}
		if restartEvery > 0 && (i+1)%restartEvery == 0 {
			if err := l.Close(); err != nil {
				return nil, err
			}
			if l, _, err = ledger.Open(cfg); err != nil {
				return nil, err
			}
		}
	}
	if err := l.Sync(); err != nil {
		return nil, err
	}
	if keepOpen {
		return l, nil
	}
	return nil, l.Close()
}

// appendEvent appends the i-th event of the template mix, validated and in
// canonical form as the sealer would store it.
func appendEvent(l *ledger.Ledger, i int, clock *Clock) error {
	t := templates[i%len(templates)]
	now := clock.Now()
	raw := fmt.Sprintf(t.json, now.Add(-time.Millisecond).Format(time.RFC3339Nano), i)
	ev, err := event.Decode([]byte(raw), event.DecodeOptions{Now: now})
	if err != nil {
		return fmt.Errorf("template %d: %w", i%len(templates), err)
	}
	body, err := event.Encode(ev)
	if err != nil {
		return err
	}
	_, _, err = l.Append(chain.KindEvent, t.service, ev.EventType(), body, now)
	return err
}

// EventJSON returns the i-th event of the mix as a client would send it, for
// tests outside this package.
func EventJSON(i int, ts time.Time) (service string, body []byte) {
	t := templates[i%len(templates)]
	return t.service, []byte(fmt.Sprintf(t.json, ts.Format(time.RFC3339Nano), i))
}

// writePEM writes the public key of s to path.
func writePEM(path string, s signer.Signer) error {
	return os.WriteFile(path, s.Public().MarshalPEM(), 0o600)
}

// copyDir copies the regular files of src into dst (created 0700).
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == storage.LockFile {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// CopyDir copies a data directory (its regular files) for tests.
func CopyDir(src, dst string) error { return copyDir(src, dst) }
