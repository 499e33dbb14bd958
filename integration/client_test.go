package integration

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/client"
	"github.com/audit-sealer/audit-sealer/event"
)

// TestGoClientAgainstRealSealer: the Go client emits to the real daemon,
// gets durable receipts, keeps working across a sealer restart (its
// buffered events arrive after the reconnect), and everything verifies.
func TestGoClientAgainstRealSealer(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	c, err := client.New(socket, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actor := event.Actor{UserID: "customer-1", IP: netip.MustParseAddr("10.0.0.1"), AuthMethod: event.AuthAPIKey}
	rec, err := c.EmitDurable(ctx, client.AuthSuccess(actor, event.AuthAPIKey, "/v2/tasks", "queen-rbee"))
	if err != nil {
		t.Fatalf("EmitDurable: %v\n%s", err, d.stderr)
	}
	if rec.AuditID == "" {
		t.Fatal("durable receipt without audit_id")
	}
	for i := 0; i < 200; i++ {
		if err := c.Emit(client.SealVerified("shard-a", "worker-gpu-0")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	// The sealer is away: Emit still returns at once and buffers.
	for i := 0; i < 100; i++ {
		if err := c.Emit(client.SealVerified("shard-b", "worker-gpu-0")); err != nil {
			t.Fatal(err)
		}
	}
	d = startDaemon(t, dataDir, socket)
	if _, err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush after the restart: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	code, rep := auditVerify(t, exportKey(t, dataDir), dataDir)
	if code != 0 {
		t.Fatalf("audit-verify: %v", rep)
	}
	shards := map[string]int{}
	for _, r := range readEvents(t, dataDir) {
		if r.Type == "seal.verified" {
			if ev, err := event.Decode(r.Event, event.DecodeOptions{}); err == nil {
				shards[ev.(*event.SealVerified).ShardID]++
			}
		}
	}
	if shards["shard-a"] != 200 || shards["shard-b"] != 100 {
		t.Fatalf("events in the log: %v, want 200 shard-a and 100 shard-b", shards)
	}
	if st := c.Stats(); st.Dropped != 0 || st.Reconnects == 0 {
		t.Fatalf("client stats after a restart: %+v", st)
	}
}
