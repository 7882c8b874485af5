import Contacts
import Foundation
import TestSupport
import XCTest

/// openapi.yaml against the code: every (path, method, status) the router can answer
/// (`RouteTable.routes`, which the router itself dispatches on, and the HTTP server's own
/// `RouteTable.serverStatuses`) is documented, and nothing else is. Real responses are held
/// to their documented schemas by every ContactsTestCase's tearDown (ResponseRecorder); the
/// test below provokes each kind of answer once, and the checkers are shown to fail.
final class OpenAPIDocumentTests: XCTestCase {
    private func contract() throws -> OpenAPIContract {
        try OpenAPIContract.repository.get()
    }

    /// What the code can answer, as "template METHOD status".
    static var derivedAnswers: Set<String> {
        var answers: Set<String> = []
        for route in RouteTable.routes {
            for method in route.methods {
                for status in method.statuses + RouteTable.serverStatuses {
                    answers.insert("\(route.template) \(method.name) \(status)")
                }
            }
        }
        return answers
    }

    func testEveryAnswerTheRouterCanGiveIsDocumentedAndNothingElse() throws {
        let documented = try contract().operations
        let derived = Self.derivedAnswers
        XCTAssertEqual(derived.subtracting(documented).sorted(), [], "answered by the code, missing from openapi.yaml")
        XCTAssertEqual(documented.subtracting(derived).sorted(), [], "in openapi.yaml, but no route answers it")
        XCTAssertGreaterThan(derived.count, 60, "the table is not empty")
    }

    func testEveryRouteIsAPathAndEveryOtherMethodAndPathIsDocumentedOnce() throws {
        let document = try contract().document
        let paths = Set(document["paths"]?.object?.keys.map { $0 } ?? [])
        let templates = Set(RouteTable.routes.map(\.template))
        XCTAssertEqual(paths, templates)
        XCTAssertFalse(templates.contains(RouteTable.unmatchedLabel))
        for route in RouteTable.routes {
            XCTAssertEqual(route.statuses(for: "PATCH"), [405], route.template)
            let description = document["paths"]?[route.template]?["description"]?.string ?? ""
            XCTAssertTrue(description.contains("#/components/responses/MethodNotAllowed"), "\(route.template) points at the 405")
            XCTAssertTrue(description.contains("`\(route.methodNotAllowedMessage)`") || route.template == "/crm/{listing_id}",
                          "\(route.template) gives the 405's message")
            // The matcher, which the router uses, agrees with the table.
            let sample = route.template.replacingOccurrences(of: "{listing_id}", with: "12")
            XCTAssertEqual(RouteTable.match(Substring(sample)).index, RouteTable.routes.firstIndex { $0.template == route.template })
        }
        XCTAssertEqual(RouteTable.match("/nowhere").index, RouteTable.routes.count)
        XCTAssertEqual(RouteTable.labels.last, "other")
        XCTAssertEqual(RouteTable.statuses(path: "/nowhere", method: "PATCH"), [404])
        let allow = try contract().resolved(document["components"]?["responses"]?["MethodNotAllowed"]?["headers"]?["Allow"] ?? .null)
        XCTAssertEqual(allow?["required"], .bool(true))
        XCTAssertEqual(Set(allow?["schema"]?["enum"]?.array?.compactMap(\.string) ?? []),
                       Set(RouteTable.routes.map(\.allow)), "every Allow value, and only those")
        XCTAssertNotNil(document["components"]?["responses"]?["RouteNotFound"])
    }

    func testEveryExampleInTheDocumentMatchesItsSchema() throws {
        let contract = try contract()
        var checked = 0
        for (name, response) in contract.document["components"]?["responses"]?.object ?? [:] {
            for (mediaType, media) in response["content"]?.object ?? [:] {
                guard let schema = media["schema"] else { continue }
                var examples: [JSONValue] = media["example"].map { [$0] } ?? []
                for (_, example) in media["examples"]?.object ?? [:] {
                    if let value = contract.resolved(example)?["value"] { examples.append(value) }
                }
                for example in examples {
                    XCTAssertEqual(contract.checker.problems(example, schema, at: "\(name) \(mediaType)"), [])
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 30)
    }

    func testTheSchemaCheckerRefusesWhatBreaksTheContract() throws {
        let contract = try contract()
        let contact: [String: JSONValue] = [
            "contact_id": .integer(1), "contact_unique_id": .string("l-ABC"), "contact_first_name": .null,
            "contact_last_name": .string("Doe"), "contact_email": .string("a@example.com"), "contact_phone": .null,
            "contact_created_date": .string("2026-01-01 00:00:00"), "contact_updated_date": .string("2026-01-01 00:00:00"),
            "contact_ip_address": .string("127.0.0.1"), "contact_source": .string("api"), "contact_status": .string("active"),
        ]
        let schema = JSONValue.object(["$ref": .string("#/components/schemas/ContactSuccess")])
        func body(_ contact: [String: JSONValue]) -> JSONValue {
            .object(["status": .string("success"), "message": .string("Contact successfully updated."),
                     "data": .object(["contact": .object(contact)])])
        }
        XCTAssertEqual(contract.checker.problems(body(contact), schema), [])
        var broken: [(String, [String: JSONValue])] = []
        var allNull = contact
        for key in contact.keys { allNull[key] = .null }
        broken.append(("an all-null contact", allNull))
        broken.append(("a missing field", contact.filter { $0.key != "contact_status" }))
        broken.append(("an extra field", contact.merging(["contact_secret": .string("x")]) { $1 }))
        broken.append(("a bad date", contact.merging(["contact_created_date": .string("2026-01-01T00:00:00Z")]) { $1 }))
        broken.append(("a bad address", contact.merging(["contact_ip_address": .string("999.1.1.1")]) { $1 }))
        broken.append(("a string id", contact.merging(["contact_id": .string("1")]) { $1 }))
        broken.append(("a zero id", contact.merging(["contact_id": .integer(0)]) { $1 }))
        broken.append(("a long name", contact.merging(["contact_last_name": .string(String(repeating: "é", count: 101))]) { $1 }))
        for (label, contact) in broken {
            XCTAssertFalse(contract.checker.problems(body(contact), schema).isEmpty, label)
        }
        let error = #"{"status":"error","code":"unavailable","message":"The database is unavailable; try again shortly.","data":{}}"#
        XCTAssertEqual(contract.problems(template: "/crm/{listing_id}", method: "GET", status: 503,
                                         headers: [("Content-Type", "application/json; charset=utf-8"), ("Retry-After", "1")],
                                         body: Array(error.utf8)), [])
        XCTAssertEqual(contract.problems(template: "/crm/{listing_id}", method: "GET", status: 503,
                                         headers: [("Content-Type", "application/json; charset=utf-8")], body: Array(error.utf8)),
                       ["GET /crm/{listing_id} 503: required header Retry-After is missing"])
        XCTAssertEqual(contract.problems(template: "/crm/{listing_id}", method: "GET", status: 503,
                                         headers: [("Content-Type", "text/html"), ("Retry-After", "1")], body: Array(error.utf8)),
                       ["GET /crm/{listing_id} 503: Content-Type text/html is not one of [\"application/json\"]"])
        XCTAssertEqual(contract.problems(template: "/healthz", method: "GET", status: 418, headers: [], body: []),
                       ["GET /healthz 418: not documented in openapi.yaml"])
        XCTAssertFalse(contract.problems(template: "/crm/{listing_id}", method: "POST", status: 409,
                                         headers: [("Content-Type", "application/json")],
                                         body: Array(#"{"status":"error","code":"duplicate","message":"m","data":{}}"#.utf8)).isEmpty,
                       "a 409 without data.contact_id")
        XCTAssertFalse(contract.problems(template: "/crm/{listing_id}", method: "GET", status: 200,
                                         headers: [("Content-Type", "application/json"), ("RateLimit-Remaining", "-1")],
                                         body: Array(#"{"status":"success","message":"m","data":{"results":[],"next_after":null}}"#.utf8)).isEmpty,
                       "an empty page as 200, and a negative RateLimit-Remaining")
    }

    func testTheYAMLReaderReadsItsSubsetAndRefusesTheRest() throws {
        let text = """
            # a comment
            a: 1
            b: 'it''s'
            c: [string, 'null', 'a, b']
            d: {}
            e: |
              line one
                indented

              after a blank
            f:
              - x
              - k: v
                l: 2.5
            g:
            - at the key's indentation
            h: ^\\d{4}$
            i: true
            j:
            """
        let value = try YAMLSubset.parse(text)
        XCTAssertEqual(value, .object([
            "a": .integer(1), "b": .string("it's"), "c": .array([.string("string"), .string("null"), .string("a, b")]), "d": .object([:]),
            "e": .string("line one\n  indented\n\nafter a blank\n"),
            "f": .array([.string("x"), .object(["k": .string("v"), "l": .number(2.5)])]),
            "g": .array([.string("at the key's indentation")]), "h": .string(#"^\d{4}$"#), "i": .bool(true), "j": .null,
        ]))
        for unsupported in ["a: &anchor 1", "a: >\n  folded", "a: plain\n  continued", "a: 1 # comment", "a: {b: 1}", "a: 1\na: 2"] {
            XCTAssertThrowsError(try YAMLSubset.parse(unsupported), unsupported)
        }
    }
}

/// Real answers of every kind the router gives, from real requests to the real server, held
/// to the route table and to their documented status, headers and schema.
final class OpenAPIResponseTests: ContactsTestCase {
    override var importWorkers: Int { 1 }

    /// Answers provoked by tests of their own, which need a setup of their own.
    static let provokedElsewhere: [String: String] = [
        "429": "RateLimitTests.testALimitedKeyGets429WithHeadersAndRecoversAfterTheWindow",
        "500": "InternalErrorTests.testAFailingSQLFunctionIsA500WithoutDetailAndChangesNothing",
        "503": "DatabaseOutageTests.testEveryMethodIs503WithRetryAfterWhileTheDatabaseIsStopped",
        "410": "ChangeFeedTests.testACursorOlderThanWhatIsKeptIs410",
    ]

    func testEveryKindOfAnswerMatchesItsDocumentedSchema() throws {
        let created = contact(try post(1, [("email", "doc@example.com"), ("phone", "15550001000")]))["contact_id"] as? Int ?? 0
        let csv = Body.raw(contentType: "text/csv", bytes: Array("x".utf8))
        for method in ["GET", "HEAD"] {
            XCTAssertEqual(try call(method, "/crm/1", key: keyA).status, 200)
            XCTAssertEqual(try call(method, "/crm/1?email=none%40example.com", key: keyA).status, 404)
            XCTAssertEqual(try call(method, "/crm/1?id=x", key: keyA).status, 400)
            XCTAssertEqual(try call(method, "/crm/1", key: nil).status, 403)
            XCTAssertEqual(try call(method, "/crm/1", key: keyA, body: csv).status, 415)
        }
        for method in ["POST", "PUT", "DELETE"] {
            XCTAssertEqual(try call(method, "/crm/1", key: keyA, body: .form([("email", "bad")])).status, 400)
            XCTAssertEqual(try call(method, "/crm/1", key: nil, body: .form([("email", "a@example.com")])).status, 403)
            XCTAssertEqual(try call(method, "/crm/1", key: keyA, body: csv).status, 415)
        }
        XCTAssertEqual(try post(1, [("email", "doc@example.com")]).status, 409)
        try provokeVersion2Answers(csv: csv)
        XCTAssertEqual(try put(1, [("id", "\(created)"), ("first_name", "Doc")]).status, 200)
        XCTAssertEqual(try put(1, [("email", "doc2@example.com")]).status, 201)
        XCTAssertEqual(try put(1, [("id", "987654")]).status, 404)
        XCTAssertEqual(try put(1, [("id", "\(created)"), ("email", "doc2@example.com")]).status, 409)
        XCTAssertEqual(try delete(1, [("id", "\(created)")]).status, 202)
        XCTAssertEqual(try delete(1, [("id", "\(created)")]).status, 404)
        XCTAssertEqual(try call("PATCH", "/nowhere", key: keyA).status, 404)
        for route in RouteTable.routes {
            let path = route.template.replacingOccurrences(of: "{listing_id}", with: "1")
            XCTAssertEqual(try call("PATCH", path, key: keyA).status, 405, path)
            if !route.keyGated {
                for method in route.methods.map(\.name) {
                    XCTAssertEqual(try call(method, path, key: nil).status, 200, "\(method) \(path)")
                }
            }
        }
        XCTAssertEqual(try call("GET", "/crm/1/extra", key: keyA).status, 404)

        // Each (route, method, status) of the table was answered here or has a test of its own.
        var expected: Set<String> = ["\(RouteTable.unmatchedLabel) OTHER 404"]
        for route in RouteTable.routes {
            for method in route.methods {
                for status in method.statuses where Self.provokedElsewhere[String(status.code)] == nil {
                    expected.insert("\(route.template) \(method.name) \(status)")
                }
            }
            expected.insert("\(route.template) OTHER 405")
        }
        XCTAssertEqual(expected.subtracting(responses.observed).sorted(), [], "answers of the table not provoked")
        XCTAssertEqual(responses.problems(), [], "every answer matches RouteTable.routes and openapi.yaml")
        XCTAssertGreaterThan(responses.count, 40)
    }

    /// The answers of version 2's additions: Idempotency-Key replays (201 and 409) and reuse
    /// (422); the change feed's pages and refusals.
    private func provokeVersion2Answers(csv: Body) throws {
        let retry = [("Idempotency-Key", "doc-1")]
        XCTAssertEqual(try call("POST", "/crm/1", key: keyA, body: .form([("email", "doc3@example.com")]), headers: retry).status, 201)
        XCTAssertEqual(try call("POST", "/crm/1", key: keyA, body: .form([("email", "doc3@example.com")]), headers: retry).status, 201)
        XCTAssertEqual(try call("POST", "/crm/1", key: keyA, body: .form([("email", "doc4@example.com")]), headers: retry).status, 422)
        let duplicate = [("Idempotency-Key", "doc-2")]
        XCTAssertEqual(try call("POST", "/crm/1", key: keyA, body: .form([("email", "doc@example.com")]), headers: duplicate).status, 409)
        XCTAssertEqual(try call("POST", "/crm/1", key: keyA, body: .form([("email", "doc@example.com")]), headers: duplicate).status, 409)
        try provokeWebhookAnswers(csv: csv)
        try provokeImportAnswers()
        for method in ["GET", "HEAD"] {
            XCTAssertEqual(try call(method, "/crm/1/changes", key: keyA).status, 200)
            XCTAssertEqual(try call(method, "/crm/1/changes?limit=0", key: keyA).status, 400)
            XCTAssertEqual(try call(method, "/crm/1/changes", key: keyB).status, 403)
            XCTAssertEqual(try call(method, "/crm/1/changes", key: keyA, body: csv).status, 415)
        }
    }

    /// The webhook endpoints' answers (API.md §11).
    private func provokeWebhookAnswers(csv: Body) throws {
        let hooks = try createKey(scopes: [.webhooks])
        let added = try call("POST", "/crm/1/webhooks", key: hooks, body: .form([("url", "https://93.184.216.34/h")]))
        XCTAssertEqual(added.status, 201)
        XCTAssertEqual(try call("POST", "/crm/1/webhooks", key: hooks, body: .form([("url", "http://127.0.0.1/h")])).status, 400)
        XCTAssertEqual(try call("POST", "/crm/1/webhooks", key: keyA, body: .form([("url", "https://93.184.216.34/h")])).status, 403)
        XCTAssertEqual(try call("POST", "/crm/1/webhooks", key: hooks, body: csv).status, 415)
        for method in ["GET", "HEAD"] {
            XCTAssertEqual(try call(method, "/crm/1/webhooks", key: hooks).status, 200)
            XCTAssertEqual(try call(method, "/crm/1/webhooks", key: hooks, body: .json("[1]")).status, 400)
            XCTAssertEqual(try call(method, "/crm/1/webhooks", key: keyB).status, 403)
            XCTAssertEqual(try call(method, "/crm/1/webhooks", key: hooks, body: csv).status, 415)
        }
        let id = (data(added)["webhook"] as? [String: Any])?["webhook_id"] as? Int ?? 0
        XCTAssertEqual(try call("DELETE", "/crm/1/webhooks/x", key: hooks).status, 400)
        XCTAssertEqual(try call("DELETE", "/crm/1/webhooks/\(id)", key: keyB).status, 403)
        XCTAssertEqual(try call("DELETE", "/crm/1/webhooks/\(id)", key: hooks, body: csv).status, 415)
        XCTAssertEqual(try call("DELETE", "/crm/1/webhooks/\(id)", key: hooks).status, 202)
        XCTAssertEqual(try call("DELETE", "/crm/1/webhooks/\(id)", key: hooks).status, 404)
    }
}
