// Per-thread zstd contexts and scratch buffers for the pack writer and reader. Private to store/.
// Each function returns the calling thread's own object, so callers need no lock.
#pragma once

#include <zstd.h>

#include <string>

namespace vrepo {

ZSTD_CCtx* ThreadCCtx();
ZSTD_DCtx* ThreadDCtx();
// Scratch for compressed or decompressed bytes, reused across calls on one thread.
std::string& ThreadScratch();
// Frees `s` after a huge object so that a pool thread does not keep hundreds of megabytes.
void TrimScratch(std::string& s);

}  // namespace vrepo
