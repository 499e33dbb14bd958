package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/internal/wire"
)

func emitCommand() *cobra.Command {
	var f configFlags
	var service string
	var durable bool
	cmd := &cobra.Command{
		Use:   "emit [--durable] [--socket PATH] < events.ndjson",
		Short: "Send NDJSON events from stdin; print one JSON result line per event",
		Long: `emit reads one audit event (the JSON of EVENTS.md) per line from stdin, sends
each to the sealer, and prints one JSON line per event: its sequence number and
audit_id (with --durable, once the record is fsynced), "accepted" without
--durable, or the error. Exit status 1 if any event was refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc, err := f.dial(cmd)
			if err != nil {
				return err
			}
			defer rc.Close()
			in := bufio.NewScanner(os.Stdin)
			in.Buffer(make([]byte, 64<<10), 1<<20)
			// Send and receive concurrently: requests are pipelined, replies
			// come back in order.
			type sent struct{ line int }
			queue := make(chan sent, 1024)
			sendErr := make(chan error, 1)
			go func() {
				defer close(queue)
				n := 0
				for in.Scan() {
					n++
					raw := in.Bytes()
					if len(raw) == 0 {
						continue
					}
					id := strconv.Itoa(n)
					req := &wire.Request{Op: wire.OpEmit, ID: &id, Durable: durable, Service: service}
					// Without a valid event the sealer answers bad_request,
					// which keeps the line count aligned.
					if json.Valid(raw) {
						req.Event = raw
					}
					if err := rc.send(req); err != nil {
						sendErr <- err
						return
					}
					// Flush before waiting for room, and whenever the
					// receiver has caught up: a reply can only come for a
					// request that left our buffer.
					select {
					case queue <- sent{line: n}:
					default:
						rc.flush()
						queue <- sent{line: n}
					}
					if len(queue) <= 1 {
						rc.flush()
					}
				}
				rc.flush()
				sendErr <- in.Err()
			}()
			out := bufio.NewWriter(os.Stdout)
			defer out.Flush()
			failed := 0
			for s := range queue {
				var rep wire.Reply
				line, err := rc.recv(&rep)
				if err != nil {
					return err
				}
				res := emitResult{Accepted: rep.Accepted, AuditID: rep.AuditID, Line: s.line, OK: rep.OK, Sealed: rep.Sealed, Seq: rep.Seq}
				if !rep.OK {
					failed++
					var e struct {
						Error map[string]any `json:"error"`
					}
					json.Unmarshal(line, &e)
					res.Error = e.Error
				}
				b, _ := json.Marshal(res)
				out.Write(append(b, '\n'))
			}
			if err := <-sendErr; err != nil {
				return err
			}
			if failed > 0 {
				out.Flush()
				return &exitError{code: 1, err: fmt.Errorf("%d events were refused", failed)}
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "socket")
	cmd.Flags().BoolVar(&durable, "durable", false, "wait until each event is fsynced; print its seq and audit_id")
	cmd.Flags().StringVar(&service, "service", "", "service identity to record (one the policy allows this user)")
	return cmd
}

// emitResult is the line emit prints for an event: the fields of the
// sealer's reply that it has, with the event's line number. The error is
// the reply's error object as a map, so that its members are printed
// sorted by name, as emit has always printed them.
type emitResult struct {
	Accepted bool           `json:"accepted,omitempty"`
	AuditID  string         `json:"audit_id,omitempty"`
	Error    map[string]any `json:"error,omitempty"`
	Line     int            `json:"line"`
	OK       bool           `json:"ok"`
	Sealed   bool           `json:"sealed,omitempty"`
	Seq      *uint64        `json:"seq,omitempty"`
}
