package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func emitCommand() *cobra.Command {
	var socket, service string
	var durable bool
	cmd := &cobra.Command{
		Use:   "emit [--durable] --socket PATH < events.ndjson",
		Short: "Send NDJSON events from stdin; print one JSON result line per event",
		Long: `emit reads one audit event (the JSON of EVENTS.md) per line from stdin, sends
each to the sealer, and prints one JSON line per event: its sequence number and
audit_id (with --durable, once the record is fsynced), "accepted" without
--durable, or the error. Exit status 1 if any event was refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc, err := dialSealer(socket)
			if err != nil {
				return &exitError{code: 2, err: err}
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
					req := map[string]any{"op": "emit", "id": fmt.Sprint(n), "durable": durable, "event": json.RawMessage(append([]byte(nil), raw...))}
					if !json.Valid(raw) {
						req["event"] = nil // the sealer answers bad_request; keep the line count aligned
					}
					if service != "" {
						req["service"] = service
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
				rep, _, err := rc.recv()
				if err != nil {
					return err
				}
				res := map[string]any{"line": s.line, "ok": rep["ok"]}
				for _, k := range []string{"seq", "audit_id", "accepted", "sealed", "error"} {
					if v, ok := rep[k]; ok {
						res[k] = v
					}
				}
				if rep["ok"] != true {
					failed++
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
	cmd.Flags().StringVar(&socket, "socket", "/run/audit-sealer/audit.sock", "sealer socket")
	cmd.Flags().BoolVar(&durable, "durable", false, "wait until each event is fsynced; print its seq and audit_id")
	cmd.Flags().StringVar(&service, "service", "", "service identity to record (one the policy allows this user)")
	return cmd
}
