import Contacts
import HTTP
import Synchronization

/// Every answer a test's server gave, kept so that tearDown can hold each one to the route
/// table (`RouteTable.routes`: the statuses the service may answer) and to openapi.yaml (the
/// documented status, headers and schema). The whole contacts suite is thereby a check of the
/// document against real responses.
final class ResponseRecorder: Middleware {
    private struct Answer {
        let method: HTTPMethod
        /// Nil for an answer of the HTTP server itself (a protocol error: no request to name).
        let path: Substring?
        let status: HTTPStatus
        let headers: [(name: String, value: String)]
        let body: [UInt8]
    }

    private let answers = Mutex<[Answer]>([])

    /// The outermost middleware: records every answer of the application as the client gets it.
    func respond(to context: RequestContext, next: Responder) async throws -> HTTPResponse {
        let response = try await next.respond(context)
        let request = context.request
        answers.withLock {
            $0.append(Answer(method: request.method, path: request.path, status: response.status,
                             headers: Array(response.headers), body: response.body))
        }
        return response
    }

    /// Records an answer of the HTTP server itself (``ApplicationConfiguration/protocolErrorObserver``).
    @Sendable
    func recordProtocolError(_ response: HTTPResponse) {
        answers.withLock {
            $0.append(Answer(method: "", path: nil, status: response.status, headers: Array(response.headers), body: response.body))
        }
    }

    var count: Int { answers.withLock { $0.count } }

    /// The answers of the service (not the server's own), as "template METHOD status"; a
    /// method the route does not serve is "OTHER".
    var observed: Set<String> {
        Set(answers.withLock { $0 }.compactMap { answer in
            guard let path = answer.path else { return nil }
            guard let route = RouteTable.route(at: RouteTable.match(path).index) else {
                return "\(RouteTable.unmatchedLabel) OTHER \(answer.status)"
            }
            return "\(route.template) \(route.serves(answer.method) ? answer.method.rawValue : "OTHER") \(answer.status)"
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
                if !RouteTable.serverStatuses.contains(answer.status) {
                    found.append("the server answered \(answer.status) itself, not in RouteTable.serverStatuses")
                }
                // Not tied to a path: held to the error shape every server-level answer shares.
                let schema = JSONValue.object(["$ref": .string("#/components/schemas/Error")])
                let body = (try? JSONValue.parse(answer.body)) ?? .string(String(decoding: answer.body, as: UTF8.self))
                found += contract.checker.problems(body, schema, at: "server \(answer.status)")
                continue
            }
            let route = RouteTable.route(at: RouteTable.match(path).index)
            let template = route?.template ?? RouteTable.unmatchedLabel
            if !RouteTable.statuses(path: path, method: answer.method).contains(answer.status) {
                found.append("\(answer.method) \(path) answered \(answer.status), not in RouteTable.routes for \(template)")
            }
            // A method the path does not serve is documented once, by MethodNotAllowed.
            found += contract.problems(template: template, method: route?.serves(answer.method) == true ? answer.method.rawValue : "OTHER",
                                       status: answer.status.code, headers: answer.headers, body: answer.body)
        }
        return found
    }
}
