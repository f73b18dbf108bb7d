// libFuzzer entry point for the rule-file loader (built by Fuzz/run.sh together with the MuleRules
// sources as one module, linked with MuleCore, Yams and Yams' vendored libyaml, all instrumented).
//
// Input bytes are one rule file. They go through the same path as `RuleLoader.readFile` after the
// read: UTF-8 validation, the hostile-YAML scan (`YAMLSafetyScan`, libyaml events), Yams'
// composer, then `RuleFileReader`. Besides "never crash" (ASan + Swift's own checks) it asserts
// what the loader promises: a loaded rule is complete and in range, every error is located and
// worded, and the safety scan and the loader agree.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRuleLoader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
    // readFile refuses invalid UTF-8 before parsing; the fuzzer still exercises the offset finder.
    guard let text = String(validating: bytes, as: UTF8.self) else {
        let offset = RuleLoader.firstInvalidUTF8Offset(Array(bytes))
        precondition(offset != nil && offset! < bytes.count, "invalid UTF-8 without an offending byte")
        return 0
    }
    let scanProblem = YAMLSafetyScan.firstProblem(in: text)
    do {
        let (rule, _) = try RuleLoader.parseWithIDMark(yaml: text, file: "fuzz.yaml")
        precondition(scanProblem == nil, "the safety scan refused a file the loader accepted")
        precondition(!rule.id.isEmpty && !rule.version.isEmpty, "rule without id or version")
        precondition(rule.windowMillis > 0, "rule without a positive window")
        precondition(rule.cooldownMillis >= 0, "negative cool-down")
        _ = rule.key
    } catch {
        precondition(!error.errors.isEmpty, "a failure without errors")
        for e in error.errors {
            precondition(!e.message.isEmpty, "an error without a message")
            precondition(e.line >= 0 && e.column >= 0, "negative position")
            precondition(e.file == "fuzz.yaml", "error names another file")
            _ = e.description
        }
        if let p = scanProblem {
            // The scan's problem is what the loader reports, first.
            precondition(error.errors[0].line == p.line && error.errors[0].message == p.message, "scan and loader disagree")
        }
    }
    return 0
}
