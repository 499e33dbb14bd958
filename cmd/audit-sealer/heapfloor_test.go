package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestGCPercentFor: the next collection comes at the floor, or at twice the
// live heap and its roots when that is later; the runtime's minimum heap
// (4 MiB scaled by GOGC) never pushes it past the floor.
func TestGCPercentFor(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		live, roots, floor uint64
		want               int
	}{
		{1 * MiB, 0, 32 * MiB, 800},        // the minimum heap, 4 MiB * 8, is the floor
		{10 * MiB, 0, 32 * MiB, 220},       // 10 + 10*2.2 = 32 MiB
		{8 * MiB, 2 * MiB, 32 * MiB, 240},  // 8 + 10*2.4 = 32 MiB
		{16 * MiB, 0, 32 * MiB, 100},       // twice the live heap is the floor
		{48 * MiB, 1 * MiB, 32 * MiB, 100}, // full load: as usual
		{15 * MiB, 1 * MiB, 32 * MiB, 106}, // 15 + 16*1.06 = 32 MiB
		{0, 1 * MiB, 32 * MiB, 100},        // nothing measured yet
	} {
		if got := gcPercentFor(c.live, c.roots, c.floor); got != c.want {
			t.Errorf("live %d roots %d floor %d: GOGC %d, want %d", c.live, c.roots, c.floor, got, c.want)
		}
	}
}

// TestKeepHeapFloorPacesTheCollector: after a collection, the GC percentage
// in force is the one gcPercentFor gives for the live heap (this test
// binary's is far under the floor, so well above 100).
func TestKeepHeapFloorPacesTheCollector(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set: the sealer would not keep a heap floor")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	keepHeapFloor(64 << 20)
	for deadline := time.Now().Add(10 * time.Second); ; {
		runtime.GC() // the finalizer re-arms and sets the percentage after it
		time.Sleep(10 * time.Millisecond)
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		if p > 100 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the GC percentage stayed at %d with a heap floor of 64 MiB", p)
		}
	}
}
