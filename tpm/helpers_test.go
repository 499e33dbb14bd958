package tpm_test

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// The tests run against real swtpm processes (package swtpmtest), one or
// more per test, each on its own socketpair and state directory.

var ctx = context.Background()

// counterTemplate is the public area Provision defines, written here from
// the notes (§7.4) rather than taken from the package.
func counterTemplate(index uint32) tpm2.TPMSNVPublic {
	return tpm2.TPMSNVPublic{
		NVIndex:  tpm2.TPMHandle(index),
		NameAlg:  tpm2.TPMAlgSHA256,
		DataSize: 8,
		Attributes: tpm2.TPMANV{
			NT: tpm2.TPMNTCounter, AuthRead: true, AuthWrite: true, OwnerRead: true, NoDA: true,
		},
	}
}

// defineRaw defines an NV index with go-tpm directly, as another tool
// would, under the owner hierarchy (empty owner auth).
func defineRaw(t *testing.T, tr transport.TPM, pub tpm2.TPMSNVPublic, auth []byte) {
	t.Helper()
	_, err := tpm2.NVDefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		Auth:       tpm2.TPM2BAuth{Buffer: auth},
		PublicInfo: tpm2.New2B(pub),
	}.Execute(tr)
	if err != nil {
		t.Fatalf("NV_DefineSpace 0x%08x: %v", uint32(pub.NVIndex), err)
	}
}

// undefine deletes an NV index with the owner's authorization
// (TPM2_NV_UndefineSpace), as an operator with tpm2_nvundefine would.
func undefine(t *testing.T, tr transport.TPM, index uint32) {
	t.Helper()
	rp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(tr)
	if err != nil {
		t.Fatalf("NV_ReadPublic 0x%08x: %v", index, err)
	}
	_, err = tpm2.NVUndefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: rp.NVName},
	}.Execute(tr)
	if err != nil {
		t.Fatalf("NV_UndefineSpace 0x%08x: %v", index, err)
	}
}

// faultTransport answers some commands with a TPM response code instead of
// passing them to the TPM, to provoke TPM_RC_NV_RATE and the like.
type faultTransport struct {
	transport.TPMCloser
	mu     sync.Mutex
	cc     tpm2.TPMCC // the command to fail
	rc     tpm2.TPMRC
	faults int // how many more times; negative: always
	seen   int // how many times the command was sent
}

func (f *faultTransport) set(cc tpm2.TPMCC, rc tpm2.TPMRC, faults int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cc, f.rc, f.faults, f.seen = cc, rc, faults, 0
}

func (f *faultTransport) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}

func (f *faultTransport) Send(cmd []byte) ([]byte, error) {
	f.mu.Lock()
	fail := false
	if len(cmd) >= 10 && tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10])) == f.cc {
		f.seen++
		if f.faults != 0 {
			f.faults--
			fail = true
		}
	}
	rc := f.rc
	f.mu.Unlock()
	if fail {
		rsp := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMSTNoSessions))
		rsp = binary.BigEndian.AppendUint32(rsp, 10)
		return binary.BigEndian.AppendUint32(rsp, uint32(rc)), nil
	}
	return f.TPMCloser.Send(cmd)
}
