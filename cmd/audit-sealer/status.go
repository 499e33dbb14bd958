package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/internal/wire"
)

func statusCommand() *cobra.Command {
	var f configFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json] [--socket PATH]",
		Short: "Show the sealer's health: last sequence, checkpoint, unsealed records, queue, key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc, err := f.dial(cmd)
			if err != nil {
				return err
			}
			defer rc.Close()
			id := "status"
			rc.send(&wire.Request{Op: wire.OpStatus, ID: &id})
			if err := rc.flush(); err != nil {
				return err
			}
			var s map[string]any
			rep := wire.Reply{Status: &s}
			line, err := rc.recv(&rep)
			if err != nil {
				return err
			}
			if !rep.OK {
				return fmt.Errorf("status refused: %s", line)
			}
			if asJSON {
				b, _ := json.MarshalIndent(s, "", "  ")
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return nil
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "log:             %v\n", s["log_id"])
			fmt.Fprintf(w, "last sequence:   %v (%v records)\n", num(s["last_seq"]), num(s["records"]))
			fmt.Fprintf(w, "last checkpoint: size %v at %v\n", num(s["last_checkpoint_size"]), s["last_checkpoint_time"])
			if t, err := time.Parse(time.RFC3339Nano, fmt.Sprint(s["last_checkpoint_time"])); err == nil {
				fmt.Fprintf(w, "                 %s ago\n", time.Since(t).Round(time.Millisecond))
			}
			fmt.Fprintf(w, "unsealed:        %v records\n", num(s["unsealed"]))
			fmt.Fprintf(w, "queue:           %v events, %v bytes, from %v uids\n", num(s["queue_depth"]), num(s["queue_bytes"]), num(s["queue_uids"]))
			fmt.Fprintf(w, "shed:            %v events since start\n", num(s["shed_total"]))
			fmt.Fprintf(w, "key:             %v (%v %v)\n", s["key_id"], s["key_kind"], s["algorithm"])
			if s["dev"] == true {
				fmt.Fprintln(w, "mode:            DEVELOPMENT (software key, no TPM)")
			}
			if e, _ := s["signer_error"].(string); e != "" {
				fmt.Fprintf(w, "SIGNER ERROR:    %s\n", e)
			}
			if e, _ := s["storage_error"].(string); e != "" {
				fmt.Fprintf(w, "STORAGE ERROR:   %s\n", e)
			}
			if ws, _ := s["witnesses"].([]any); len(ws) > 0 {
				fmt.Fprintf(w, "witnessed:       size %v by a quorum of %v\n", num(s["witnessed_size"]), num(s["witness_quorum"]))
				for _, x := range ws {
					wm, _ := x.(map[string]any)
					fmt.Fprintf(w, "  witness %v:  size %v, %v records and %vs behind", wm["name"], num(wm["witnessed_size"]), num(wm["lag_records"]), num(wm["lag_seconds"]))
					switch e, _ := wm["error"].(string); {
					case wm["split_view"] == true:
						fmt.Fprintf(w, ", SPLIT VIEW: %s", e)
					case e != "":
						fmt.Fprintf(w, ", failing: %s", e)
					}
					fmt.Fprintln(w)
				}
			}
			fmt.Fprintf(w, "connections:     %v\n", num(s["connections"]))
			return nil
		},
	}
	f.register(cmd.Flags(), "socket")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

// num prints a JSON number without exponent notation.
func num(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprint(v)
}
