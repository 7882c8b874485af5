import Contacts
import HTTP
import Synchronization
import XCTest

/// The route table's matcher and the middleware chain's order, without a server.
final class RouteTableTests: XCTestCase {
    func testAPatternMatchesWholeSegmentsOnly() {
        let pattern = RoutePattern("/crm/{listing_id}")
        XCTAssertEqual(pattern.parameterNames, ["listing_id"])
        XCTAssertEqual(RouteTable.match("/crm/12").parameters, ["12"])
        XCTAssertEqual(RouteTable.match("/crm/").parameters, [""], "an empty listing id is the route's (a 400), not a 404")
        for path in ["/crm", "/crm/1/extra", "//crm/1", "/CRM/1", "crm/1", "", "/"] {
            XCTAssertEqual(RouteTable.match(Substring(path)).index, RouteTable.routes.count, path)
        }
        XCTAssertEqual(RouteTable.match("/healthz").index, RouteTable.routes.firstIndex { $0.template == "/healthz" })
        XCTAssertEqual(RouteTable.match("/healthz/").index, RouteTable.routes.count)
        XCTAssertEqual(RouteTable.match("/healthzz").index, RouteTable.routes.count)
    }

    func testAPatternWithSeveralParametersReturnsThemInOrder() {
        let pattern = RoutePattern("/crm/{listing_id}/webhooks/{webhook_id}")
        XCTAssertEqual(pattern.parameterNames, ["listing_id", "webhook_id"])
        XCTAssertEqual(pattern.match("/crm/3/webhooks/9"), ["3", "9"])
        XCTAssertNil(pattern.match("/crm/3/hooks/9"))
        XCTAssertNil(pattern.match("/crm/3/webhooks"))
        XCTAssertNil(pattern.match("/crm/3/webhooks/9/x"))
    }

    func testTheContextNamesItsRouteAndParameters() {
        let context = RequestContext(HTTPRequest(
            head: HTTPRequestHead(method: "GET", target: "/crm/7?x=1", version: .http1_1, headers: HTTPHeaders()),
            body: [], peerAddress: "127.0.0.1"))
        XCTAssertEqual(context.pathParameter("listing_id"), "7")
        XCTAssertNil(context.pathParameter("webhook_id"))
        XCTAssertEqual(context.routeLabel, "/crm/{listing_id}")
    }

    func testEveryKeyGatedMethodNamesTheScopeItNeeds() {
        for route in RouteTable.routes where route.keyGated {
            for method in route.methods {
                // API.md §8: managing webhooks needs `webhooks`; otherwise reads `read`, writes `write`.
                let expected: KeyScope = route.template.contains("/webhooks") ? .webhooks
                    : ["GET", "HEAD"].contains(method.name) ? .read : .write
                XCTAssertEqual(method.scope, expected, "\(route.template) \(method.name)")
            }
        }
        XCTAssertTrue(RouteTable.routes.filter { !$0.keyGated }.allSatisfy { $0.methods.allSatisfy { $0.scope == nil } })
    }

    func testMiddlewareRunsOutermostFirstAndSeesTheAnswerLast() async throws {
        let trace = Mutex<[String]>([])
        struct Tracing: Middleware {
            let name: String
            let trace: @Sendable (String) -> Void
            func respond(to context: RequestContext, next: Responder) async throws -> HTTPResponse {
                trace("\(name) in")
                var response = try await next.respond(context)
                trace("\(name) out")
                response.headers.add("X-Trace", name)
                return response
            }
        }
        let record: @Sendable (String) -> Void = { entry in trace.withLock { $0.append(entry) } }
        let chain = MiddlewareChain.compose([Tracing(name: "a", trace: record), Tracing(name: "b", trace: record)],
                                            around: Responder { _ in record("handler"); return HTTPResponse(status: 204) })
        let response = try await chain.respond(RequestContext(HTTPRequest(
            head: HTTPRequestHead(method: "GET", target: "/healthz", version: .http1_1, headers: HTTPHeaders()),
            body: [], peerAddress: "127.0.0.1")))
        XCTAssertEqual(trace.withLock { $0 }, ["a in", "b in", "handler", "b out", "a out"])
        XCTAssertEqual(response.headers.values(for: "X-Trace"), ["b", "a"])
    }
}
