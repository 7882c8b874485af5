import Contacts
import Foundation

/// openapi.yaml, read once, and what the contract tests ask of it: which (path, method,
/// status) answers it documents, and whether a real response matches its documented status,
/// headers, media type and schema.
struct OpenAPIContract: Sendable {
    let document: JSONValue
    var checker: SchemaChecker { SchemaChecker(document: document) }

    /// The repository's openapi.yaml (a failure to read or parse it is kept, and reported by every use).
    static let repository: Result<OpenAPIContract, Error> = Result {
        let text = try String(contentsOfFile: ContactsTestCase.repositoryFile("openapi.yaml"), encoding: .utf8)
        return OpenAPIContract(document: try YAMLSubset.parse(text))
    }

    /// The HTTP methods an OpenAPI path item may hold.
    static let pathItemMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// Every documented answer, as "/crm/{listing_id} GET 200".
    var operations: Set<String> {
        var found: Set<String> = []
        for (path, item) in document["paths"]?.object ?? [:] {
            for method in Self.pathItemMethods {
                for status in item[method]?["responses"]?.object?.keys ?? [String: JSONValue]().keys {
                    found.insert("\(path) \(method.uppercased()) \(status)")
                }
            }
        }
        return found
    }

    /// The documented response for an answer, `$ref` resolved: the operation's for a method the
    /// path serves, `components/responses/MethodNotAllowed` for one it does not,
    /// `components/responses/RouteNotFound` for a path it does not list.
    func documentedResponse(template: String, method: String, status: Int) -> JSONValue? {
        let response: JSONValue?
        if let item = document["paths"]?[template] {
            if let operation = item[method.lowercased()] {
                response = operation["responses"]?[String(status)]
            } else {
                response = status == 405 ? document["components"]?["responses"]?["MethodNotAllowed"] : nil
            }
        } else {
            response = status == 404 ? document["components"]?["responses"]?["RouteNotFound"] : nil
        }
        return response.flatMap(resolved)
    }

    /// `value`, or what its `$ref` points at.
    func resolved(_ value: JSONValue) -> JSONValue? {
        guard let reference = value["$ref"] else { return value }
        return checker.resolve(reference).flatMap(resolved)
    }

    /// Every way a real response differs from its documentation; empty when it conforms.
    func problems(template: String, method: String, status: Int, headers: [(name: String, value: String)], body: [UInt8]) -> [String] {
        let label = "\(method) \(template) \(status)"
        guard let response = documentedResponse(template: template, method: method, status: status) else {
            return ["\(label): not documented in openapi.yaml"]
        }
        var found: [String] = []
        let header = { (name: String) in headers.first { $0.name.lowercased() == name.lowercased() }?.value }
        for (name, definition) in response["headers"]?.object ?? [:] {
            guard let definition = resolved(definition) else { found.append("\(label): header \(name): unresolvable"); continue }
            guard let value = header(name) else {
                if definition["required"] == .bool(true) { found.append("\(label): required header \(name) is missing") }
                continue
            }
            let isInteger = definition["schema"]?["type"] == .string("integer")
            let typed: JSONValue = isInteger ? (Int(value).map(JSONValue.integer) ?? .string(value)) : .string(value)
            found += checker.problems(typed, definition["schema"] ?? .object([:]), at: "\(label) header \(name)")
        }
        guard method != "HEAD" else { return found }  // no body on the wire
        guard let content = response["content"]?.object else {
            if !body.isEmpty { found.append("\(label): a body where openapi.yaml documents none") }
            return found
        }
        let mediaType = header("Content-Type")?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard let media = content[mediaType] else {
            return found + ["\(label): Content-Type \(mediaType) is not one of \(content.keys.sorted())"]
        }
        let value: JSONValue
        if mediaType == "application/json" {
            do {
                value = try JSONValue.parse(body)
            } catch {
                return found + ["\(label): the body is not JSON (\(error)): \(String(decoding: body, as: UTF8.self))"]
            }
        } else {
            value = .string(String(decoding: body, as: UTF8.self))
        }
        if let schema = media["schema"] {
            found += checker.problems(value, schema, at: label).map { "\($0) in \(String(decoding: body.prefix(600), as: UTF8.self))" }
        }
        return found
    }
}
