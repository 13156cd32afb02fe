// libFuzzer's driver, started from this target's own entry point: SwiftPM gives every executable a renamed
// `main`, so the driver is called through LLVMFuzzerRunDriver rather than libFuzzer's `main`.
import CFuzz
import Glibc

var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, size in fuzzConfigLoader(data!, size) })
