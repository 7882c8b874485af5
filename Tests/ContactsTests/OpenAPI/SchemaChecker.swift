import Foundation

/// Checks a ``JSONValue`` against a JSON Schema (2020-12, as OpenAPI 3.1 uses it), for the
/// keywords openapi.yaml uses: `$ref` (local), `type`, `const`, `enum`, `properties`,
/// `required`, `additionalProperties`, `items`, `minItems`, `maxItems`, `minimum`, `maximum`,
/// `minLength`, `maxLength`, `pattern`, `format` (int64, ipv4, ipv6 asserted), `allOf`,
/// `anyOf`, `oneOf`. A keyword outside that list is reported as a problem, so the document
/// cannot rely on a rule this checker would silently skip.
struct SchemaChecker {
    /// The whole document, for `$ref`.
    let document: JSONValue

    /// Keywords that only describe.
    private static let annotations: Set<String> = ["description", "example", "examples", "default", "title", "deprecated", "readOnly", "writeOnly"]

    /// Every way `value` breaks `schema`, each as "path: what"; empty when it conforms.
    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard let rules = schema.object else {
            if case .bool(let allowed) = schema { return allowed ? [] : ["\(path): no value is allowed here"] }
            return ["\(path): the schema is not an object: \(schema)"]
        }
        var found: [String] = []
        for (keyword, rule) in rules {
            switch keyword {
            case "$ref":
                guard let target = resolve(rule) else { found.append("\(path): unresolvable $ref \(rule)"); continue }
                found += problems(value, target, at: path)
            case "type":
                let allowed = rule.array?.compactMap(\.string) ?? rule.string.map { [$0] } ?? []
                if !allowed.contains(where: { Self.hasType(value, $0) }) { found.append("\(path): \(value) is not of type \(allowed)") }
            case "const":
                if value != rule { found.append("\(path): \(value) is not \(rule)") }
            case "enum":
                if !(rule.array ?? []).contains(value) { found.append("\(path): \(value) is not one of \(rule)") }
            case "properties", "required", "additionalProperties", "items", "minItems", "maxItems":
                found += containerProblems(keyword, rule, value, rules: rules, at: path)
            case "minimum", "maximum":
                guard let number = Self.number(value), let bound = Self.number(rule) else { continue }
                if keyword == "minimum" ? number < bound : number > bound { found.append("\(path): \(value) breaks \(keyword) \(bound)") }
            case "minLength", "maxLength":
                guard let text = value.string, case .integer(let bound) = rule else { continue }
                let length = text.unicodeScalars.count
                if keyword == "minLength" ? length < bound : length > bound { found.append("\(path): length \(length) breaks \(keyword) \(bound)") }
            case "pattern":
                guard let text = value.string, let pattern = rule.string else { continue }
                guard let regex = try? Regex(pattern) else { found.append("\(path): unusable pattern \(pattern)"); continue }
                if text.firstMatch(of: regex) == nil { found.append("\(path): \(value) does not match \(pattern)") }
            case "format":
                guard let format = rule.string else { continue }
                found += formatProblems(value, format, at: path)
            case "allOf":
                for part in rule.array ?? [] { found += problems(value, part, at: path) }
            case "anyOf":
                let parts = rule.array ?? []
                if !parts.contains(where: { problems(value, $0, at: path).isEmpty }) { found.append("\(path): \(value) matches none of anyOf") }
            case "oneOf":
                let matching = (rule.array ?? []).filter { problems(value, $0, at: path).isEmpty }.count
                if matching != 1 { found.append("\(path): \(value) matches \(matching) of oneOf, not 1") }
            default:
                if !Self.annotations.contains(keyword) { found.append("\(path): unsupported schema keyword \(keyword)") }
            }
        }
        return found
    }

    /// The problems of an object's or array's keyword (`properties`, `required`, `items`, …).
    private func containerProblems(_ keyword: String, _ rule: JSONValue, _ value: JSONValue, rules: [String: JSONValue],
                                   at path: String) -> [String] {
        var found: [String] = []
        switch keyword {
            case "properties":
                guard let members = value.object else { return [] }
                for (name, propertySchema) in rule.object ?? [:] {
                    if let member = members[name] { found += problems(member, propertySchema, at: "\(path).\(name)") }
                }
            case "required":
                guard let members = value.object else { return [] }
                for name in rule.array?.compactMap(\.string) ?? [] where members[name] == nil {
                    found.append("\(path): required member \(name) is missing")
                }
            case "additionalProperties":
                guard let members = value.object else { return [] }
                let declared = Set(rules["properties"]?.object?.keys.map { $0 } ?? [])
                for (name, member) in members where !declared.contains(name) {
                    found += problems(member, rule, at: "\(path).\(name)")
                }
            case "items":
                for (offset, item) in (value.array ?? []).enumerated() { found += problems(item, rule, at: "\(path)[\(offset)]") }
            case "minItems", "maxItems":
                guard let items = value.array, case .integer(let bound) = rule else { return [] }
                if keyword == "minItems" ? items.count < bound : items.count > bound {
                    found.append("\(path): \(items.count) items, \(keyword) \(bound)")
                }
            default:
                break
        }
        return found
    }

    /// `#/components/schemas/Name` within the document.
    func resolve(_ reference: JSONValue) -> JSONValue? {
        guard let text = reference.string, text.hasPrefix("#/") else { return nil }
        var node: JSONValue? = document
        for part in text.dropFirst(2).split(separator: "/") {
            node = node?[part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
        }
        return node
    }

    private static func hasType(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("integer", .integer), ("number", .integer), ("number", .number),
             ("string", .string), ("array", .array), ("object", .object):
            return true
        case ("integer", .number(let number)):
            return number.rounded() == number
        default:
            return false
        }
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .integer(let integer): return Double(integer)
        case .number(let number): return number
        default: return nil
        }
    }

    private func formatProblems(_ value: JSONValue, _ format: String, at path: String) -> [String] {
        switch (format, value) {
        case ("int64", .integer), ("int64", .number), ("int64", .string), ("int64", .null):
            return []  // Int itself is 64 bits
        case ("ipv4", .string(let text)):
            return Self.isIPv4(text) ? [] : ["\(path): \(text) is not an ipv4 address"]
        case ("ipv6", .string(let text)):
            var address = in6_addr()
            return !text.contains("%") && inet_pton(AF_INET6, text, &address) == 1 ? [] : ["\(path): \(text) is not an ipv6 address"]
        case ("ipv4", _), ("ipv6", _):
            return []  // formats apply to strings only
        default:
            return ["\(path): unsupported format \(format)"]
        }
    }

    /// Dotted decimal, four parts of 0-255 without leading zeros (RFC 2673 as JSON Schema means it).
    private static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            part.wholeMatch(of: /0|[1-9][0-9]{0,2}/) != nil && Int(part)! <= 255
        }
    }
}
