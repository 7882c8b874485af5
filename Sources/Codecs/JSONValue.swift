/// A small JSON value held as data, for shapes that travel before they are written (an
/// error's `data`): written by ``JSONWriter/value(_:)``.
///
/// ```swift
/// let data: JSONObject = ["contact_id": .number(12), "results": .array([])]
/// ```
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Int64)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON object's members in the order they are written; a dictionary literal keeps its order.
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// One `"name": value` member.
    public struct Member: Sendable, Equatable {
        public let name: String
        public let value: JSONValue
    }

    public let members: [Member]

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements.map { Member(name: $0.0, value: $0.1) }
    }

    public var isEmpty: Bool { members.isEmpty }
}

extension JSONWriter {
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .number(let number): self.number(number)
        case .string(let text): string(text)
        case .array(let elements):
            beginArray()
            for element in elements { self.value(element) }
            endArray()
        case .object(let object): self.object(object)
        }
    }

    public mutating func object(_ object: JSONObject) {
        beginObject()
        for member in object.members {
            key(member.name)
            value(member.value)
        }
        endObject()
    }
}
