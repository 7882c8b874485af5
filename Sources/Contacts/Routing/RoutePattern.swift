/// A route's path, as written in the route table: literal segments and `{name}` parameters,
/// e.g. `/crm/{listing_id}`. A parameter takes one whole segment (possibly empty, never a `/`),
/// so `/crm/` matches `/crm/{listing_id}` with an empty listing id (a `400`, not a `404`) and
/// `/crm/1/extra` does not match it.
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal([UInt8])
        case parameter(String)
    }

    let segments: [Segment]
    /// The template as written: what metrics, the access log and openapi.yaml call the route.
    public let description: String
    /// The names of the parameters, in path order (found once: the router and the access log
    /// look a parameter up by name on every request).
    public let parameterNames: [String]

    /// Parses `template`; a malformed one is a programming error in the route table.
    public init(_ template: String) {
        precondition(template.hasPrefix("/"), "a route template starts with /: \(template)")
        description = template
        segments = template.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { segment in
            if segment.hasPrefix("{") && segment.hasSuffix("}") {
                return .parameter(String(segment.dropFirst().dropLast()))
            }
            return .literal(Array(segment.utf8))
        }
        parameterNames = segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
    }

    /// The parameters' raw text in path order if `path` matches, else nil. No allocation
    /// beyond the result: segments are compared as bytes.
    public func match(_ path: Substring) -> [Substring]? {
        let bytes = path.utf8
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        var start = bytes.index(after: bytes.startIndex)
        var values: [Substring] = []
        for (position, segment) in segments.enumerated() {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
            let isLast = position == segments.count - 1
            // Every segment but the last must be followed by a `/`, and the last must end the path.
            guard isLast ? end == bytes.endIndex : end != bytes.endIndex else { return nil }
            switch segment {
            case .literal(let literal):
                guard bytes[start..<end].elementsEqual(literal) else { return nil }
            case .parameter:
                values.append(path[start..<end])
            }
            if !isLast { start = bytes.index(after: end) }
        }
        return values
    }
}
