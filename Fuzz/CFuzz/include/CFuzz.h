#ifndef CFUZZ_H
#define CFUZZ_H
#include <stddef.h>
#include <stdint.h>

// libFuzzer's library entry (compiler-rt, LLVM 11 and later): parses libFuzzer's flags from argv and runs
// `callback` on each input. Linked in by -sanitize=fuzzer.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
