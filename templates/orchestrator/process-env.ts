// The environment an orchestrator replica starts with, whoever starts it: the local provider (the
// template), the Kubernetes pod (k8s/pod.yaml), the OpenNebula VM's start script and the benchmarks
// (bench/lib/processes.ts) all set the same; test/unit/templates.test.ts checks that they agree.
//
// glibc's malloc: the orchestrator keeps QoS 1/2 frames in 64 KiB slabs (protocol/kept-frames.ts), some
// 50 a second at 13,000 QoS 1 msg/s, that live 2–3 s and so are freed by full collections, many at once. From glibc's
// main heap (brk) a freed slab is kept by the process: the heap gives memory back only from its top,
// and other allocations sit above. Measured (docs/faults-and-security.md, "Session 45"): under on/off
// load an orchestrator's malloc heap stepped from 15 to 28 MB within a minute and kept it (RSS +13 MB,
// the JS heap flat); malloc_trim(0), called in the process from gdb, gave 18 MB back, so it was freed
// memory kept, not a leak. With these two a slab is its own mmap, unmapped when freed:
// - MALLOC_MMAP_THRESHOLD_: blocks of 64 KiB or more are mmap'd when the heap must grow; setting it also
//   stops glibc raising the threshold (by default to the size of any mmap'd block freed, up to 32 MiB);
// - MALLOC_TOP_PAD_: the heap grows by what is asked, not 128 KiB more, so a slab does not fit in the
//   room left at its top (measured: with the threshold alone, about half of the slabs came from the heap).
// glibc's own names for these (mallopt(3)); not GLIBC_TUNABLES, of which glibc 2.36 (Debian 12) passes
// on to a child only the first entry of a list (measured through the local provider's /bin/sh wrapper).
export const ORCHESTRATOR_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TOP_PAD_: '0',
};
