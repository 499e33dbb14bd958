package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
)

// Limits of the add-checkpoint exchange.
const (
	// DefaultTimeout bounds one add-checkpoint request when Client.Timeout
	// is 0: connecting, sending and reading the whole answer.
	DefaultTimeout = 10 * time.Second
	// MaxProofHashes is the most consistency proof lines a request may carry
	// (c2sp.org/tlog-witness).
	MaxProofHashes = 63
	// MaxResponseSize caps the answer body read from a witness. A
	// cosignature line is about 110 bytes; an answer above the cap is
	// refused, not truncated.
	MaxResponseSize = 16 << 10
	// maxLines caps the signature lines of a 200 answer, as note.Open caps
	// the signatures of a note.
	maxLines = 100
	// sizeContentType is the media type of a 409 answer's body.
	sizeContentType = "text/x.tlog.size"
)

// Errors of AddCheckpoint and Submit. A witness's answer other than 200
// comes as a *StatusError that wraps one of the status sentinels (and a 409
// naming another size as a *ConflictError), so that errors.Is tells what
// happened and errors.As gives the details.
var (
	// ErrInvalidRequest: the caller's request is not one to send (old size
	// above the checkpoint's, a proof where none belongs, a note that is
	// not a checkpoint). Nothing was sent.
	ErrInvalidRequest = errors.New("witness: invalid add-checkpoint request")
	// ErrUnavailable: no answer (connection refused, timeout, the context
	// ended) or a server error (5xx, 429): try again later.
	ErrUnavailable = errors.New("witness: witness unavailable")
	// ErrInconsistent: the witness refused the checkpoint as inconsistent
	// with the checkpoint of the same origin it cosigned last: the
	// consistency proof does not lead from its tree to the submitted one
	// (422 Unprocessable Entity), or the submitted tree has the size of its
	// tree and another root (409 Conflict at the same size). For a proof
	// the caller computed from its own log, this is a split view: the
	// witness cosigned another history of this log.
	ErrInconsistent = errors.New("witness: checkpoint inconsistent with what the witness cosigned")
	// ErrConflict: the old size is not the size the witness last cosigned
	// (409 Conflict); the *ConflictError carries the witness's size.
	ErrConflict = errors.New("witness: old size is not the witness's size")
	// ErrUnknownLog: the witness knows no log of the checkpoint's origin
	// (404 Not Found).
	ErrUnknownLog = errors.New("witness: the witness does not know the checkpoint's origin")
	// ErrNotTrusted: no signature on the checkpoint verified with a log key
	// the witness trusts for its origin (403 Forbidden; litewitness also
	// answers 403 for an unknown origin).
	ErrNotTrusted = errors.New("witness: the witness trusts no key that signed the checkpoint")
	// ErrBadRequest: the witness found the request malformed (400 Bad
	// Request).
	ErrBadRequest = errors.New("witness: the witness refused the request as malformed")
	// ErrBadResponse: an answer the protocol does not allow: another
	// status, a body that is not what the status calls for, or a body
	// above MaxResponseSize.
	ErrBadResponse = errors.New("witness: bad answer")
	// ErrNoCosignature: a 200 answer with no cosignature by the configured
	// witness key (only lines by other keys, which are ignored).
	ErrNoCosignature = errors.New("witness: no cosignature by the witness's key")
)

// StatusError is a witness's answer with a status other than 200.
type StatusError struct {
	StatusCode int
	// Body is the start of the answer's body (at most 256 bytes), for
	// diagnostics only.
	Body string
	err  error // the sentinel for StatusCode
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%v (HTTP %d, body %q)", e.err, e.StatusCode, e.Body)
}

// Unwrap returns the sentinel for the status (ErrInconsistent,
// ErrUnknownLog, ErrNotTrusted, ErrBadRequest, ErrUnavailable or
// ErrBadResponse).
func (e *StatusError) Unwrap() error { return e.err }

// ConflictError is a 409 Conflict whose body names the size of the tree the
// witness cosigned last for the checkpoint's origin: resend the checkpoint
// with that old size and the consistency proof from it (Submit does).
// Known above the checkpoint's size means the witness cosigned a larger tree
// of this origin than the one submitted: the log was rolled back or forked.
type ConflictError struct {
	Old   uint64 // the old size sent
	Known uint64 // the witness's size
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: sent old size %d, the witness cosigned size %d", ErrConflict, e.Old, e.Known)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Client submits checkpoints to one witness with the add-checkpoint call of
// c2sp.org/tlog-witness and returns the cosignatures that Verifier verifies,
// never any other.
type Client struct {
	// URL is the witness's submission prefix: requests go to
	// URL + "/add-checkpoint".
	URL string
	// Verifier is the witness's key: cosignatures by other keys are
	// ignored, and one by this key that does not verify fails the call.
	Verifier *Verifier
	// HTTPClient sends the requests (nil = http.DefaultClient). Redirects
	// are not followed: a 3xx answer is ErrBadResponse.
	HTTPClient *http.Client
	// Timeout bounds each request, answer included; 0 = DefaultTimeout.
	Timeout time.Duration
}

// request is one add-checkpoint request, checked.
type request struct {
	old, size uint64
	text      []byte // the checkpoint's note text: what a cosignature covers
	body      []byte
}

// newRequest checks a request and builds its body: "old N\n", the proof
// hashes in base64 one per line, an empty line, the signed checkpoint.
func newRequest(old uint64, proof []chain.Hash, checkpoint []byte) (*request, error) {
	cp, _, _, err := chain.PeekCheckpoint(checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if _, err := chain.SignatureLines(checkpoint); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	switch {
	case old > cp.Size:
		return nil, fmt.Errorf("%w: old size %d above the checkpoint's size %d", ErrInvalidRequest, old, cp.Size)
	case (old == 0 || old == cp.Size) && len(proof) != 0:
		return nil, fmt.Errorf("%w: a consistency proof from size %d to size %d must be empty", ErrInvalidRequest, old, cp.Size)
	case len(proof) > MaxProofHashes:
		return nil, fmt.Errorf("%w: %d proof hashes, at most %d", ErrInvalidRequest, len(proof), MaxProofHashes)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(checkpoint)
	text := checkpoint[:bytes.LastIndex(checkpoint, []byte("\n\n"))+1]
	return &request{old: old, size: cp.Size, text: text, body: b.Bytes()}, nil
}

// AddCheckpoint submits the signed checkpoint with the consistency proof
// from the tree of size old (the size the caller believes the witness
// cosigned last; 0 for none, with an empty proof) and returns the witness's
// cosignatures of it by Verifier, each verified. An answer that cannot be
// trusted is an error, never a cosignature: see the error values.
func (c *Client) AddCheckpoint(ctx context.Context, old uint64, proof []chain.Hash, checkpoint []byte) ([]Cosignature, error) {
	if c.Verifier == nil {
		return nil, fmt.Errorf("%w: no witness key configured", ErrInvalidRequest)
	}
	req, err := newRequest(old, proof, checkpoint)
	if err != nil {
		return nil, err
	}
	status, ctype, body, err := c.post(ctx, req.body)
	if err != nil {
		return nil, err
	}
	return c.interpret(req, status, ctype, body)
}

// ProofFunc returns the consistency proof from the log's tree of size old
// to its tree of size size (0 < old < size), computed from the log itself.
type ProofFunc func(old, size uint64) ([]chain.Hash, error)

// Submit submits the signed checkpoint starting from old, the size the
// caller believes the witness cosigned last (0 when it does not know), and
// when the witness answers that it cosigned another size not above the
// checkpoint's, resends once from that size (a 409 Conflict is how a client
// learns the witness's size). proof gives the consistency proofs. A
// ConflictError with Known above the checkpoint's size is returned, not
// retried: the witness cosigned a larger tree of this origin.
func (c *Client) Submit(ctx context.Context, old uint64, checkpoint []byte, proof ProofFunc) ([]Cosignature, error) {
	cp, _, _, err := chain.PeekCheckpoint(checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	for attempt := 0; ; attempt++ {
		var p []chain.Hash
		if old > 0 && old < cp.Size {
			if p, err = proof(old, cp.Size); err != nil {
				return nil, fmt.Errorf("witness: consistency proof from size %d to %d: %w", old, cp.Size, err)
			}
		}
		cs, err := c.AddCheckpoint(ctx, old, p, checkpoint)
		var conflict *ConflictError
		if attempt == 0 && errors.As(err, &conflict) && conflict.Known <= cp.Size {
			old = conflict.Known
			continue
		}
		return cs, err
	}
}

// post sends body and returns the answer, read up to MaxResponseSize.
func (c *Client) post(ctx context.Context, body []byte) (status int, ctype string, answer []byte, err error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/add-checkpoint", bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	hc := http.Client{}
	if c.HTTPClient != nil {
		hc = *c.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(hreq)
	if err != nil {
		return 0, "", nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return 0, "", nil, fmt.Errorf("%w: reading the answer (HTTP %d): %w", ErrUnavailable, resp.StatusCode, err)
	}
	if len(answer) > MaxResponseSize {
		return 0, "", nil, fmt.Errorf("%w: HTTP %d answer larger than %d bytes", ErrBadResponse, resp.StatusCode, MaxResponseSize)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), answer, nil
}

// interpret reads the witness's answer to req.
func (c *Client) interpret(req *request, status int, ctype string, body []byte) ([]Cosignature, error) {
	switch {
	case status == http.StatusOK:
		return c.cosignatures(req, body)
	case status == http.StatusConflict:
		return nil, conflict(req, status, ctype, body)
	}
	var err error
	switch {
	case status == http.StatusUnprocessableEntity:
		err = ErrInconsistent
	case status == http.StatusNotFound:
		err = ErrUnknownLog
	case status == http.StatusForbidden:
		err = ErrNotTrusted
	case status == http.StatusBadRequest:
		err = ErrBadRequest
	case status == http.StatusTooManyRequests || status >= 500 && status <= 599:
		err = ErrUnavailable
	default:
		err = ErrBadResponse
	}
	return nil, statusError(status, body, err)
}

func statusError(status int, body []byte, err error) *StatusError {
	if len(body) > 256 {
		body = body[:256]
	}
	return &StatusError{StatusCode: status, Body: string(body), err: err}
}

// conflict reads a 409 answer. Its body is the witness's size in decimal
// and a newline, of type text/x.tlog.size, when the old size was not the
// witness's. A 409 to a request whose old size is the checkpoint's own size
// is the witness's answer to a tree of the size it holds with another root
// (the spec gives that answer no body): ErrInconsistent, unless it names
// another size.
func conflict(req *request, status int, ctype string, body []byte) error {
	known, ok := parseSize(ctype, body)
	sameSize := req.old == req.size
	switch {
	case ok && known != req.old:
		return &ConflictError{Old: req.old, Known: known}
	case sameSize:
		return statusError(status, body, ErrInconsistent)
	case ok:
		return statusError(status, body, fmt.Errorf("%w: 409 Conflict naming the old size sent (%d)", ErrBadResponse, known))
	}
	return statusError(status, body, fmt.Errorf("%w: 409 Conflict whose body is not a size (text/x.tlog.size)", ErrBadResponse))
}

// parseSize parses a text/x.tlog.size body: a tree size in canonical
// decimal and a newline.
func parseSize(ctype string, body []byte) (uint64, bool) {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil || mt != sizeContentType {
		return 0, false
	}
	s, ok := strings.CutSuffix(string(body), "\n")
	n, err := strconv.ParseUint(s, 10, 64)
	if !ok || err != nil || strconv.FormatUint(n, 10) != s {
		return 0, false
	}
	return n, true
}

// cosignatures reads a 200 answer: one or more signature lines, each ending
// in a newline. Lines by other keys are ignored, as the spec requires; a
// line by Verifier's name and key ID must verify. It returns the distinct
// cosignatures by Verifier, at least one.
func (c *Client) cosignatures(req *request, body []byte) ([]Cosignature, error) {
	s, ok := strings.CutSuffix(string(body), "\n")
	if !ok || s == "" {
		return nil, fmt.Errorf("%w: 200 answer is not newline-terminated signature lines", ErrBadResponse)
	}
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		return nil, fmt.Errorf("%w: %d signature lines, at most %d", ErrBadResponse, len(lines), maxLines)
	}
	var out []Cosignature
	var others []string
	seen := make(map[string]bool)
	for i, l := range lines {
		cs, err := ParseCosignature(l)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrBadResponse, i+1, err)
		}
		if cs.Name != c.Verifier.Name() || cs.KeyHash != c.Verifier.KeyHash() {
			others = append(others, fmt.Sprintf("%s+%08x", cs.Name, cs.KeyHash))
			continue
		}
		if err := c.Verifier.VerifyCosignature(req.text, cs); err != nil {
			return nil, err
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, cs)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: want %s+%08x, got %s", ErrNoCosignature, c.Verifier.Name(), c.Verifier.KeyHash(), strings.Join(others, ", "))
	}
	return out, nil
}
