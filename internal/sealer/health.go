package sealer

import (
	"fmt"
	"net/http"
	"strings"
)

// addHealth serves /healthz and /readyz on the metrics listener, for
// load balancers, Kubernetes probes and monitoring:
//
//   - /healthz answers 200 while the process serves HTTP at all (liveness;
//     systemd's watchdog covers the writer, systemd.go).
//   - /readyz answers 200 when the sealer can do its job: the log is
//     writable, the signer signs and, when a TPM counter is configured,
//     anchoring works; otherwise 503. The body names each check, one a
//     line, with "ok", "off" or the error, so a probe's log says why.
func (s *Sealer) addHealth(mux *http.ServeMux) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		checks, ready := s.readiness()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, checks)
	})
}

// readiness returns the /readyz checks, one a line, and whether all pass.
func (s *Sealer) readiness() (string, bool) {
	st := s.Status()
	var b strings.Builder
	ready := true
	check := func(name, failure string) {
		if failure != "" {
			ready = false
			fmt.Fprintf(&b, "%s: %s\n", name, failure)
			return
		}
		fmt.Fprintf(&b, "%s: ok\n", name)
	}
	log := st.StorageError
	switch {
	case s.writerGone.Load():
		log = "the writer stopped: the log cannot be written"
	case s.stopping.Load():
		log = "stopping"
	}
	check("log", log)
	check("signer", st.SignerError)
	if st.Anchoring {
		check("anchor", st.AnchorError)
	} else {
		b.WriteString("anchor: off\n")
	}
	return b.String(), ready
}
