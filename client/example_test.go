package client_test

import (
	"context"
	"errors"
	"log"
	"net/netip"
	"time"

	"github.com/audit-sealer/audit-sealer/client"
	"github.com/audit-sealer/audit-sealer/event"
)

// The examples compile but do not run (they have no Output comment): they
// need a sealer listening on the socket.

func ExampleNew() {
	c, err := client.New(client.DefaultSocketPath, client.Options{
		Service:      "queen-rbee",
		BufferEvents: 50000,
		Logger:       log.Default(),
	})
	if err != nil {
		log.Fatal(err) // only for bad options: New does not need the sealer
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			log.Printf("audit: %v", err)
		}
	}()

	actor := event.Actor{UserID: "customer-123", AuthMethod: event.AuthAPIKey}
	c.Emit(client.AuthSuccess(actor, event.AuthAPIKey, "/v2/tasks", "queen-rbee"))
}

func ExampleClient_Emit() {
	c, err := client.New(client.DefaultSocketPath, client.Options{})
	if err != nil {
		log.Fatal(err)
	}

	// A GPU worker: Emit never waits for the sealer.
	e := client.VRAMSealed("shard-abc123", 0, 8<<30,
		"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", "worker-gpu-0")
	switch err := c.Emit(e); {
	case errors.Is(err, client.ErrDropped):
		// Buffer full: counted, and reported to the sealer later.
	case errors.Is(err, event.ErrInvalid):
		log.Printf("audit: bug in the event: %v", err)
	}

	// Optional fields are set on the returned struct.
	f := client.AuthFailure("invalid_token", netip.MustParseAddr("192.0.2.7"), "/v2/pools", "queen-rbee")
	f.AttemptedUser = client.TokenFingerprint("the-raw-token")
	c.Emit(f) // critical: the client sends a flush right after it

	// Before shutdown: wait until everything is durable and sealed.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Flush(ctx); err != nil {
		log.Printf("audit: flush: %v", err)
	}
	c.Close(ctx)
}

func ExampleClient_EmitDurable() {
	c, err := client.New(client.DefaultSocketPath, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	actor := event.Actor{UserID: "admin", AuthMethod: event.AuthMTLS}
	rc, err := c.EmitDurable(ctx, client.TokenRevoked(actor, client.TokenFingerprint("the-raw-token"), "compromised"))
	switch {
	case errors.Is(err, client.ErrNotSealed):
		log.Printf("audit: record %s is durable, sealed later", rc.AuditID)
	case errors.Is(err, client.ErrConnectionLost):
		log.Printf("audit: unknown outcome, the event may or may not be recorded: %v", err)
	case err != nil:
		log.Printf("audit: not recorded: %v", err)
	default:
		log.Printf("audit: recorded as %s (seq %d, sealed %v)", rc.AuditID, rc.Seq, rc.Sealed)
	}
}
