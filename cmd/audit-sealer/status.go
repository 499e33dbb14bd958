package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/wire"
)

func statusCommand() *cobra.Command {
	var f configFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json] [--socket PATH]",
		Short: "Show the sealer's health: a degraded dependency first, then the log, checkpoints, TPM anchoring, witnesses, queue, key",
		Long: `status asks the running sealer for its state (the status op, PROTOCOL.md).
Its first line is the headline: "OK" while the disk, the log key, the TPM
counter and the witnesses work, or "DEGRADED:" with the most serious
failure (storage, signing, a witness's split view, TPM anchoring,
witnessing below its quorum), for how long and how many errors; the other
failures follow it. Then the log, checkpoints, TPM anchoring (the last
anchor's counter value and age, anchors made, errors), each witness's lag,
the queue, the key and the connections.

Exit status: 0 when the sealer is healthy, 1 when it answered and a
dependency fails (the same with --json), 2 when it could not be asked
(no sealer at the socket, permission denied, a bad configuration).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc, err := f.dial(cmd)
			if err != nil {
				return err
			}
			defer rc.Close()
			id := "status"
			rc.send(&wire.Request{Op: wire.OpStatus, ID: &id})
			if err := rc.flush(); err != nil {
				return &exitError{code: 2, err: err}
			}
			var raw json.RawMessage
			rep := wire.Reply{Status: &raw}
			line, err := rc.recv(&rep)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if !rep.OK {
				return &exitError{code: 2, err: fmt.Errorf("status refused: %s", line)}
			}
			var st sealer.Status
			if err := json.Unmarshal(raw, &st); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("bad status from the sealer: %w", err)}
			}
			degraded := st.Degraded(time.Now())
			if asJSON {
				// The sealer's object as it came: members this build does
				// not know are kept.
				var m map[string]any
				json.Unmarshal(raw, &m)
				b, _ := json.MarshalIndent(m, "", "  ")
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
			} else {
				printStatus(cmd.OutOrStdout(), &st, degraded, time.Now())
			}
			if len(degraded) > 0 {
				return &exitError{code: 1, err: nil}
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "socket")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON (the status op's object)")
	return cmd
}

// printStatus writes the text status: the headline (the first of
// degraded, or OK), the other failures, then one line per part.
func printStatus(w io.Writer, st *sealer.Status, degraded []string, now time.Time) {
	if len(degraded) == 0 {
		fmt.Fprintf(w, "OK: sealing; storage, signing%s work\n", map[bool]string{true: ", TPM anchoring", false: ""}[st.Anchoring])
	} else {
		fmt.Fprintf(w, "DEGRADED: %s\n", degraded[0])
		for _, d := range degraded[1:] {
			fmt.Fprintf(w, "  also:          %s\n", d)
		}
	}
	fmt.Fprintf(w, "log:             %s (sealer %s, up %s)\n", st.LogID, st.Version, (time.Duration(st.UptimeSeconds) * time.Second).String())
	fmt.Fprintf(w, "last sequence:   %d (%d records)\n", st.LastSeq, st.Records)
	if !st.LastCheckpointTime.IsZero() {
		fmt.Fprintf(w, "last checkpoint: size %d at %s, %s ago\n", st.LastCheckpointSize, st.LastCheckpointTime.Format(time.RFC3339Nano),
			now.Sub(st.LastCheckpointTime).Round(time.Millisecond))
	}
	fmt.Fprintf(w, "unsealed:        %d records\n", st.Unsealed)
	fmt.Fprintf(w, "anchoring:       %s\n", anchoringLine(st))
	if len(st.Witnesses) > 0 {
		var size uint64
		if st.WitnessedSize != nil {
			size = *st.WitnessedSize
		}
		fmt.Fprintf(w, "witnessed:       size %d by a quorum of %d\n", size, st.WitnessQuorum)
		for _, ws := range st.Witnesses {
			fmt.Fprintf(w, "  witness %s:  size %d, %d records and %.0fs behind", ws.Name, ws.WitnessedSize, ws.LagRecords, ws.LagSeconds)
			switch {
			case ws.SplitView:
				fmt.Fprintf(w, ", SPLIT VIEW: %s", ws.Error)
			case ws.Error != "":
				fmt.Fprintf(w, ", failing: %s", ws.Error)
			}
			fmt.Fprintln(w)
		}
	}
	// Publishing (checkpoints copied to a place auditors read) is not
	// built yet; when it is, its lag (records and seconds behind the
	// latest durable checkpoint) and its error go here, and a failing
	// publisher joins sealer.Status.Degraded.
	fmt.Fprintf(w, "queue:           %d events, %d bytes, from %d uids\n", st.QueueDepth, st.QueueBytes, st.QueueUIDs)
	fmt.Fprintf(w, "shed:            %d events since start\n", st.ShedTotal)
	fmt.Fprintf(w, "key:             %s (%s %s)\n", st.KeyID, st.KeyKind, st.Algorithm)
	if st.Dev {
		fmt.Fprintln(w, "mode:            DEVELOPMENT (software key, no TPM)")
	}
	if st.SignerError != "" {
		fmt.Fprintf(w, "SIGNER ERROR:    %s\n", st.SignerError)
	}
	if st.StorageError != "" {
		fmt.Fprintf(w, "STORAGE ERROR:   %s\n", st.StorageError)
	}
	fmt.Fprintf(w, "connections:     %d\n", st.Connections)
	switch {
	case st.ConfigReloadError != "":
		fmt.Fprintf(w, "configuration:   THE LAST RELOAD FAILED, the configuration before it is in force: %s\n", st.ConfigReloadError)
	case st.ConfigReloadedAt != nil:
		fmt.Fprintf(w, "configuration:   reloaded at %s\n", st.ConfigReloadedAt.Format(time.RFC3339))
	}
}

// anchoringLine says how the log is anchored in the TPM counter: off, or
// the last anchor's counter value and age, the anchors this run made and
// the errors.
func anchoringLine(st *sealer.Status) string {
	if !st.Anchoring {
		return "off (no TPM counter configured: an old copy of the log would not be detected)"
	}
	var b strings.Builder
	switch {
	case st.LastAnchor == nil:
		b.WriteString("no anchored checkpoint yet")
	case st.LastAnchorAgeSeconds != nil:
		fmt.Fprintf(&b, "counter %d, anchored %s ago", *st.LastAnchor, (time.Duration(*st.LastAnchorAgeSeconds * float64(time.Second))).Round(time.Second))
	default:
		fmt.Fprintf(&b, "counter %d (checked at start; this run has not anchored yet)", *st.LastAnchor)
	}
	fmt.Fprintf(&b, "; %d anchors by this run (~%.0f NV writes a year at this rate); %d errors", st.AnchorsMade, st.NVWritesPerYearEstim, st.AnchorErrors)
	if st.AnchorError != "" {
		fmt.Fprintf(&b, "; FAILING: %s", st.AnchorError)
	}
	return b.String()
}
