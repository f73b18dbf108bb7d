import Crdkafka

/// What every librdkafka callback needs, reached through the conf opaque pointer.
///
/// It is retained by the owning Swift client and outlives its `rd_kafka_t` (the client destroys
/// the handle first), so callbacks on librdkafka's threads never see a freed object. Only the
/// immutable `redactor` and `logHandler` are read from librdkafka's own threads.
class ClientState: @unchecked Sendable {
    let redactor: Redactor
    let logHandler: @Sendable (KafkaLogRecord) -> Void

    init(config: KafkaConfig) {
        redactor = config.redactor
        logHandler = config.logHandler
    }

    var opaque: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> ClientState? {
        guard let opaque else { return nil }
        return Unmanaged<ClientState>.fromOpaque(opaque).takeUnretainedValue()
    }

    /// Installs the opaque and the log callback on a conf.
    func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, opaque)
        rd_kafka_conf_set_log_cb(conf, kafkaLogCallback)
    }
}

/// Routes librdkafka logs to the configured handler, scrubbed of secrets. Runs on librdkafka threads.
private let kafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    rk, level, facility, buffer in
    guard let rk, let state = ClientState.from(rd_kafka_opaque(rk)) else { return }
    let record = KafkaLogRecord(
        level: KafkaLogLevel(rawValue: level) ?? (level < 0 ? .emergency : .debug),
        facility: facility.map { String(cString: $0) } ?? "",
        message: state.redactor.scrub(buffer.map { String(cString: $0) } ?? ""),
        client: String(cString: rd_kafka_name(rk)))
    state.logHandler(record)
}

/// Creates an `rd_kafka_t`, consuming `conf` on success and destroying it on failure.
func makeKafkaHandle(_ type: rd_kafka_type_t, conf: OpaquePointer, redactor: Redactor, what: String) throws -> OpaquePointer {
    var errstr = [CChar](repeating: 0, count: 512)
    guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
        rd_kafka_conf_destroy(conf)
        let detail = errstr.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        throw KafkaError.invalidArgument("cannot create \(what): \(redactor.scrub(detail))")
    }
    return rk
}

/// Milliseconds left until `deadline`, at least 0.
func millis(until deadline: ContinuousClock.Instant) -> Int32 {
    let left = ContinuousClock.now.duration(to: deadline).components
    guard left.seconds >= 0 else { return 0 }
    return Int32(clamping: left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000)
}
