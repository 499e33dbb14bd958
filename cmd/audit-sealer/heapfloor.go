package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// keepHeapFloor paces the garbage collector so that it does not run before
// the heap reaches floor bytes, and as usual (GOGC=100: at twice the live
// heap) above that. With the default pacing and the ~1 MB of live data the
// sealer has at light traffic, the collector ran every 4 MB of allocation:
// 63 times in 10 s at 10,000 events/s, each ~1 ms that the writer and the
// connections share two CPUs with, which showed in the ack latency's tail.
// Under full load the live data is far above the floor, so nothing changes
// there and the memory limit stays the backstop.
//
// After each collection (a finalizer on a sentinel runs once per cycle) it
// sets the GC percentage from what the runtime paces by: the live heap,
// plus the stacks and globals it scans.
func keepHeapFloor(floor uint64) {
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	var rearm func()
	rearm = func() {
		metrics.Read(samples)
		var v [3]uint64
		for i, s := range samples {
			if s.Value.Kind() == metrics.KindUint64 {
				v[i] = s.Value.Uint64()
			}
		}
		debug.SetGCPercent(gcPercentFor(v[0], v[1]+v[2], floor))
		runtime.SetFinalizer(new(gcSentinel), func(*gcSentinel) { rearm() })
	}
	rearm()
}

// gcSentinel is allocated so that its finalizer marks the end of a cycle.
type gcSentinel struct{ _ [16]byte }

// gcPercentFor is the GOGC that puts the next collection at floor, or at
// the usual point (GOGC=100) if that is later. The runtime's goal is the
// larger of live + (live + roots) * GOGC / 100, where roots are the stacks
// and globals it scans, and a minimum heap of 4 MiB * GOGC / 100; so GOGC
// is at most what makes that minimum the floor. Until a collection has
// measured the live heap it is 100.
func gcPercentFor(live, roots, floor uint64) int {
	const normal, minimumHeap = 100, 4 << 20
	base := live + roots
	if live == 0 || live+base >= floor {
		return normal
	}
	return int(max(normal, min((floor-live)*100/base, floor*100/minimumHeap)))
}
