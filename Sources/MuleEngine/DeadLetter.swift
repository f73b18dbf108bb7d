/// A dead-letter copy of a record the engine could not use: the original key and value (cut to
/// `limit` bytes so the copy always fits under `message.max.bytes`: a copy the producer refused
/// would stop the engine on every restart), and headers saying why and where it came from.
struct DeadLetter {
    var key: [UInt8]?
    var value: [UInt8]
    var headers: [(String, [UInt8])]

    init(value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?, reason: String,
         topic: String, partition: Int32, offset: Int64, limit: Int) {
        headers = [
            ("reason", Array(reason.utf8)),
            ("source.topic", Array(topic.utf8)),
            ("source.partition", Array(String(partition).utf8)),
            ("source.offset", Array(String(offset).utf8)),
        ]
        let cut = [("key", key?.count ?? 0), ("value", value.count)].filter { $0.1 > limit }
        if !cut.isEmpty { headers.append(("truncated", Array(cut.map { "\($0.0) \($0.1) bytes" }.joined(separator: ", ").utf8))) }
        self.key = key.map { Array($0.prefix(limit)) }
        self.value = Array(value.prefix(limit))
    }
}
