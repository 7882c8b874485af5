/// Reads the part of YAML that openapi.yaml is written in, into ``JSONValue``: block mappings
/// and sequences by indentation (a sequence may sit at its key's indentation), `|` and `|-`
/// literal blocks, plain, single- and double-quoted scalars, flow sequences of scalars
/// (`[string, 'null']`) and `{}`. Anything else (anchors, tags, folded or multi-line plain
/// scalars, inline comments) is an error naming the line, never a silent misreading.
enum YAMLSubset {
    /// Where and why the document is outside the subset.
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ text: String) throws -> JSONValue {
        var reader = YAMLReader(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        guard let first = reader.peek() else { return .null }
        let value = try reader.node(indent: first.indent)
        if let extra = reader.peek() { throw reader.error("unexpected indentation", line: extra.number) }
        return value
    }
}

/// The line-by-line reader behind ``YAMLSubset/parse(_:)``.
private struct YAMLReader {
    var lines: [String]
    var index = 0

    struct Line {
        let number: Int
        let indent: Int
        let text: Substring
    }

    func error(_ what: String, line: Int) -> YAMLSubset.ParseError {
        YAMLSubset.ParseError(description: "openapi.yaml line \(line + 1): \(what): \(line < lines.count ? lines[line] : "")")
    }

    /// The next line with content (blank lines and whole-line comments skipped), not consumed.
    mutating func peek() -> Line? {
        while index < lines.count {
            let line = lines[index]
            let indent = line.prefix { $0 == " " }.count
            let text = line.dropFirst(indent)
            if text.isEmpty || text.hasPrefix("#") {
                index += 1
                continue
            }
            return Line(number: index, indent: indent, text: text)
        }
        return nil
    }

    private static func isSequenceItem(_ text: Substring) -> Bool {
        text == "-" || text.hasPrefix("- ")
    }

    mutating func node(indent: Int) throws -> JSONValue {
        guard let line = peek() else { return .null }
        return Self.isSequenceItem(line.text) ? try sequence(indent: line.indent) : try mapping(indent: line.indent)
    }

    private mutating func mapping(indent: Int) throws -> JSONValue {
        var members: [String: JSONValue] = [:]
        while let line = peek(), line.indent == indent, !Self.isSequenceItem(line.text) {
            guard let (key, rest) = try Self.splitKey(line.text) else { throw error("expected `key:`", line: line.number) }
            guard members[key] == nil else { throw error("duplicate key \(key)", line: line.number) }
            index += 1
            members[key] = try value(rest, parentIndent: indent, line: line.number)
        }
        if let line = peek(), line.indent > indent { throw error("unexpected indentation", line: line.number) }
        return .object(members)
    }

    private mutating func sequence(indent: Int) throws -> JSONValue {
        var items: [JSONValue] = []
        while let line = peek(), line.indent == indent, Self.isSequenceItem(line.text) {
            let item = line.text.dropFirst(1).drop { $0 == " " }
            if item.isEmpty {
                index += 1
                items.append(try value("", parentIndent: indent, line: line.number))
            } else if !"[{'\"".contains(item.first!), try Self.splitKey(item) != nil {
                // `- key: value`: a mapping whose keys sit where this one does.
                let keyIndent = indent + (line.text.count - item.count)
                lines[line.number] = String(repeating: " ", count: keyIndent) + item
                items.append(try mapping(indent: keyIndent))
            } else {
                index += 1
                items.append(try value(item, parentIndent: indent, line: line.number))
            }
        }
        return .array(items)
    }

    /// `key: rest` or `key:`; the key plain or single-quoted. Nil when the text is no key.
    private static func splitKey(_ text: Substring) throws -> (String, Substring)? {
        if text.hasPrefix("'") {
            guard let (key, after) = singleQuoted(text) else { return nil }
            if after == ":" { return (key, "") }
            guard after.hasPrefix(": ") else { return nil }
            return (key, after.dropFirst(2).drop { $0 == " " })
        }
        if text.hasSuffix(":"), !text.dropLast().contains(": ") { return (String(text.dropLast()), "") }
        guard let separator = text.firstRange(of: ": ") else { return nil }
        return (String(text[..<separator.lowerBound]), text[separator.upperBound...].drop { $0 == " " })
    }

    /// A single-quoted scalar at the start of `text` (`''` is a quote) and what follows it.
    private static func singleQuoted(_ text: Substring) -> (String, Substring)? {
        var result = ""
        var rest = text.dropFirst()
        while let character = rest.first {
            rest = rest.dropFirst()
            if character == "'" {
                if rest.first == "'" {
                    result.append("'")
                    rest = rest.dropFirst()
                    continue
                }
                return (result, rest)
            }
            result.append(character)
        }
        return nil
    }

    /// The value after `key:` (or `- `): nested block, literal block or scalar.
    private mutating func value(_ rest: Substring, parentIndent: Int, line: Int) throws -> JSONValue {
        if rest.isEmpty {
            guard let next = peek() else { return .null }
            if next.indent > parentIndent { return try node(indent: next.indent) }
            if next.indent == parentIndent, Self.isSequenceItem(next.text), !Self.isSequenceItem(lines[line].drop { $0 == " " }) {
                return try sequence(indent: parentIndent)
            }
            return .null
        }
        if rest == "|" || rest == "|-" { return .string(try literalBlock(parentIndent: parentIndent, keepFinalNewline: rest == "|")) }
        let scalar = try scalar(rest, line: line)
        if let next = peek(), next.indent > parentIndent { throw error("a plain scalar may not continue on the next line", line: next.number) }
        return scalar
    }

    /// A `|` block: the lines indented past the key, less the first one's indentation.
    private mutating func literalBlock(parentIndent: Int, keepFinalNewline: Bool) throws -> String {
        var collected: [Substring] = []
        var blockIndent: Int?
        while index < lines.count {
            let line = lines[index]
            let indent = line.prefix { $0 == " " }.count
            if indent == line.count {
                collected.append("")
            } else {
                if blockIndent == nil {
                    guard indent > parentIndent else { break }
                    blockIndent = indent
                }
                guard indent >= blockIndent! else { break }
                collected.append(line.dropFirst(blockIndent!))
            }
            index += 1
        }
        while collected.last == "" {
            collected.removeLast()
            index -= 1  // a trailing blank line belongs to no one; let peek() skip it again
        }
        let text = collected.joined(separator: "\n")
        return keepFinalNewline && !text.isEmpty ? text + "\n" : text
    }

    /// The comma-separated items of a flow sequence (a comma inside single quotes is text).
    private static func flowItems(_ text: Substring) -> [Substring] {
        var items: [Substring] = []
        var start = text.startIndex, quoted = false
        for index in text.indices {
            if text[index] == "'" { quoted.toggle() }
            if text[index] == ",", !quoted {
                items.append(text[start..<index])
                start = text.index(after: index)
            }
        }
        return items + [text[start...]]
    }

    private func scalar(_ text: Substring, line: Int) throws -> JSONValue {
        guard let first = text.first else { return .null }
        switch first {
        case "'":
            guard let (value, after) = Self.singleQuoted(text), after.isEmpty else { throw error("bad single-quoted scalar", line: line) }
            return .string(value)
        case "\"":
            guard case .string(let value)? = try? JSONValue.parse(Array(text.utf8)) else { throw error("bad double-quoted scalar", line: line) }
            return .string(value)
        case "[":
            guard text.hasSuffix("]") else { throw error("bad flow sequence", line: line) }
            let inner = text.dropFirst().dropLast()
            if inner.allSatisfy({ $0 == " " }) { return .array([]) }
            guard !inner.contains("["), !inner.contains("{"), !inner.contains("\"") else { throw error("nested flow collections", line: line) }
            return .array(try Self.flowItems(inner).map { item in
                let trimmed = item.drop { $0 == " " }
                return try scalar(trimmed[..<(trimmed.lastIndex { $0 != " " }.map(trimmed.index(after:)) ?? trimmed.startIndex)], line: line)
            })
        case "{":
            guard text == "{}" else { throw error("flow mappings other than {} are not supported", line: line) }
            return .object([:])
        case "&", "*", "!", "%", "@", "`", ">", "|":
            throw error("unsupported YAML (\(first))", line: line)
        default:
            guard !text.contains(" #") else { throw error("inline comments are not supported", line: line) }
            switch text {
            case "~", "null", "Null", "NULL": return .null
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default: break
            }
            if text.wholeMatch(of: /[-+]?[0-9]+/) != nil, let integer = Int(text) { return .integer(integer) }
            if text.wholeMatch(of: /[-+]?[0-9]*\.[0-9]+([eE][-+]?[0-9]+)?/) != nil, let number = Double(text) { return .number(number) }
            return .string(String(text))
        }
    }
}
