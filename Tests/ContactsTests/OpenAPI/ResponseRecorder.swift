import Contacts
import HTTP
import Synchronization

/// Every answer a test's server gave, kept so that tearDown can hold each one to the route
/// table (`ContactsAPI.routes`: the statuses the service may answer) and to openapi.yaml (the
/// documented status, headers and schema). The whole contacts suite is thereby a check of the
/// document against real responses.
final class ResponseRecorder: Sendable {
    private struct Answer {
        let method: String
        /// Nil for an answer of the HTTP server itself (a protocol error: no request to name).
        let path: Substring?
        let status: Int
        let headers: [(name: String, value: String)]
        let body: [UInt8]
    }

    private let answers = Mutex<[Answer]>([])

    /// Wraps a handler so that its answers are recorded.
    func recording(_ handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) -> HTTPHandler {
        { request in
            let response = await handler(request)
            self.answers.withLock {
                $0.append(Answer(method: request.method.rawValue, path: request.path, status: response.status.code,
                                 headers: Array(response.headers), body: response.body))
            }
            return response
        }
    }

    /// Wraps the server's protocol-error responder so that its answers are recorded.
    func recording(_ respond: @escaping @Sendable (HTTPProtocolError) -> HTTPResponse) -> @Sendable (HTTPProtocolError) -> HTTPResponse {
        { error in
            let response = respond(error)
            self.answers.withLock {
                $0.append(Answer(method: "", path: nil, status: response.status.code, headers: Array(response.headers), body: response.body))
            }
            return response
        }
    }

    var count: Int { answers.withLock { $0.count } }

    /// The answers of the service (not the server's own), as "template METHOD status"; a
    /// method the route does not serve is "OTHER".
    var observed: Set<String> {
        Set(answers.withLock { $0 }.compactMap { answer in
            guard let path = answer.path else { return nil }
            let route = ContactsAPI.routes[ContactsAPI.routeIndex(path)]
            return "\(route.template) \(route.serves(answer.method) ? answer.method : "OTHER") \(answer.status)"
        })
    }

    /// Every answer that breaks the route table or openapi.yaml, described.
    func problems() -> [String] {
        let contract: OpenAPIContract
        switch OpenAPIContract.repository {
        case .success(let loaded): contract = loaded
        case .failure(let error): return ["openapi.yaml cannot be read: \(error)"]
        }
        var found: [String] = []
        for answer in answers.withLock({ $0 }) {
            guard let path = answer.path else {
                if !ContactsAPI.serverStatuses.contains(answer.status) {
                    found.append("the server answered \(answer.status) itself, not in ContactsAPI.serverStatuses")
                }
                // Not tied to a path: held to the error shape every server-level answer shares.
                let schema = JSONValue.object(["$ref": .string("#/components/schemas/Error")])
                let body = (try? JSONValue.parse(answer.body)) ?? .string(String(decoding: answer.body, as: UTF8.self))
                found += contract.checker.problems(body, schema, at: "server \(answer.status)")
                continue
            }
            let route = ContactsAPI.routes[ContactsAPI.routeIndex(path)]
            if !route.statuses(for: answer.method).contains(answer.status) {
                found.append("\(answer.method) \(path) answered \(answer.status), not in ContactsAPI.routes for \(route.template)")
            }
            // A method the path does not serve is documented once, by MethodNotAllowed.
            found += contract.problems(template: route.template, method: route.serves(answer.method) ? answer.method : "OTHER",
                                       status: answer.status, headers: answer.headers, body: answer.body)
        }
        return found
    }
}
