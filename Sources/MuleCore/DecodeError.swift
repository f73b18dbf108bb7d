/// Why an input event was not processed. Every case maps to one stable dead-letter reason
/// string (`reason`) in this one place; operators grep and count by it.
public enum DecodeError: Error, Sendable, Equatable {
    /// Not a single well-formed JSON object (bad syntax, trailing bytes, truncated input).
    case malformedJSON(offset: Int, detail: StaticString)
    /// Bytes that are not valid UTF-8.
    case invalidUTF8(offset: Int)
    /// A required field (`id`, `ts`, `payer`, `payee`, `amount`) is absent.
    case missingField(StaticString)
    /// A field has the wrong JSON type (for example `"payer": 12`).
    case wrongType(field: StaticString, expected: StaticString)
    /// A field has the right type but a value the contract forbids.
    case invalidValue(field: StaticString, detail: StaticString)
    /// A string field longer than the contract allows (ids: 128 bytes).
    case tooLong(field: StaticString, limit: Int)
    /// The same known field appears twice in one object.
    case duplicateField(StaticString)
    /// The message is larger than the configured maximum event size.
    case oversized(bytes: Int, limit: Int)
    /// The object nests deeper than the decoder allows for unknown fields.
    case tooDeep(limit: Int)
    /// The event object has more members (known and unknown) than the decoder allows.
    case tooManyFields(limit: Int)

    /// Stable dead-letter reason: `code: detail`, for example `missing_field: payee`.
    public var reason: String {
        switch self {
        case .malformedJSON(let offset, let detail): "malformed_json: \(detail) at byte \(offset)"
        case .invalidUTF8(let offset): "invalid_utf8: at byte \(offset)"
        case .missingField(let f): "missing_field: \(f)"
        case .wrongType(let f, let expected): "wrong_type: \(f) must be \(expected)"
        case .invalidValue(let f, let detail): "invalid_value: \(f) \(detail)"
        case .tooLong(let f, let limit): "too_long: \(f) exceeds \(limit) bytes"
        case .duplicateField(let f): "duplicate_field: \(f)"
        case .oversized(let bytes, let limit): "oversized: \(bytes) bytes exceeds \(limit)"
        case .tooDeep(let limit): "too_deep: nesting exceeds \(limit)"
        case .tooManyFields(let limit): "too_many_fields: object has more than \(limit) fields"
        }
    }

    /// The reason's code alone (`missing_field`), for metrics labels.
    public var code: String {
        switch self {
        case .malformedJSON: "malformed_json"
        case .invalidUTF8: "invalid_utf8"
        case .missingField: "missing_field"
        case .wrongType: "wrong_type"
        case .invalidValue: "invalid_value"
        case .tooLong: "too_long"
        case .duplicateField: "duplicate_field"
        case .oversized: "oversized"
        case .tooDeep: "too_deep"
        case .tooManyFields: "too_many_fields"
        }
    }
}

extension DecodeError {
    public static func == (a: DecodeError, b: DecodeError) -> Bool { a.reason == b.reason }
}
