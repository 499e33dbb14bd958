package testkit

import (
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
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: Key("main"), Dev: true, SegmentSize: segmentSize, Now: clock.Now,
		Rand: &seededReader{buf: []byte("large")}})
	if err != nil {
		return "", err
	}
	for i := 0; i < n; i++ {
		now := clock.Now()
		ev, err := event.Decode(LargeEvent(i, now), event.DecodeOptions{Now: now})
		if err != nil {
			return "", err
		}
		body, err := event.Encode(ev)
		if err != nil {
			return "", err
		}
		if _, _, err := l.Append(chain.KindEvent, "queen-rbee", ev.EventType(), body, now); err != nil {
			return "", err
		}
		if (i+1)%100 == 0 {
			if _, err := l.Seal(); err != nil {
				return "", err
			}
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
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: Key("main"), Dev: true, SegmentSize: segmentSize, Now: clock.Now,
		Rand: &seededReader{buf: []byte("query")}})
	if err != nil {
		return "", err
	}
	for i := 0; i < n; i++ {
		t := templates[i%len(templates)]
		now := clock.Now()
		raw := fmt.Sprintf(t.json, now.Add(-time.Millisecond).Format(time.RFC3339Nano), (i/len(templates))%97)
		ev, err := event.Decode([]byte(raw), event.DecodeOptions{Now: now})
		if err != nil {
			return "", err
		}
		body, err := event.Encode(ev)
		if err != nil {
			return "", err
		}
		if _, _, err := l.Append(chain.KindEvent, t.service, ev.EventType(), body, now); err != nil {
			return "", err
		}
		if (i+1)%100 == 0 {
			if _, err := l.Seal(); err != nil {
				return "", err
			}
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
