import Contacts
import Dispatch
import Foundation
import Postgres
import Synchronization
import TestSupport
import XCTest

/// Helpers for the key gate's tests: keys straight in the database, metrics, and floods from
/// threads of their own (`concurrentPerform` runs two at a time on this machine).
extension ContactsTestCase {
    /// Creates `count` keys granted `listings`.
    func createKeys(_ count: Int, listings: [Int64] = [1], rateLimit: Int? = nil) throws -> [APIKey] {
        let database = self.database!
        return try blocking {
            let connection = try await database.connect()
            var keys: [APIKey] = []
            for index in 0..<count {
                keys.append(try await AdminStore(connection: connection).createKey(listings: listings, name: "k\(index)", rateLimit: rateLimit))
            }
            await connection.close()
            return keys
        }
    }

    func setRateLimit(_ key: APIKey, _ limit: Int?) throws {
        try sql("UPDATE api_keys SET rate_limit = $1::int WHERE key_hash = $2::bytea", [limit, PostgresBytes(key.digest)])
    }

    /// One sample of `/metrics` (0 when the series is absent).
    func metric(_ series: String) throws -> Double {
        let text = try call("GET", "/metrics", key: nil).bodyText
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(series + " ") }) else { return 0 }
        return Double(line.split(separator: " ").last!) ?? .nan
    }

    /// Sends `GET /crm/{listing}` once for each key, from `connections` keep-alive connections
    /// on threads of their own, all at once; returns how many answers had each status.
    func flood(_ keys: [APIKey], listing: Int64 = 1, connections: Int = 4,
               file: StaticString = #filePath, line: UInt = #line) -> [Int: Int] {
        let statuses = Mutex<[Int: Int]>([:])
        let port = server.port
        let group = DispatchGroup()
        for connection in 0..<connections {
            group.enter()
            let share = stride(from: connection, to: keys.count, by: connections).map { keys[$0] }
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    let client = try RawHTTPClient(port: port, timeout: 30)
                    for key in share {
                        try client.send("GET /crm/\(listing) HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer \(key.text)\r\n\r\n")
                        let status = try client.readResponse().status
                        statuses.withLock { $0[status, default: 0] += 1 }
                    }
                } catch {
                    statuses.withLock { $0[-1, default: 0] += 1 }
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success, "the flood finished", file: file, line: line)
        return statuses.withLock { $0 }
    }
}

/// The gate in front of the operations: an unknown key costs one pipelined lookup and nothing
/// else, and only live keys are remembered.
final class KeyGateTests: ContactsTestCase {
    func testAnUnknownKeyCostsOnePipelinedLookupAndNoOperation() throws {
        let attempts: [(String, String, Body)] = [
            ("GET", "/crm/1", .none),
            ("HEAD", "/crm/1", .none),
            ("GET", "/crm/1?email=someone@example.com", .none),
            ("POST", "/crm/1", .form([("email", "new@example.com")])),
            ("PUT", "/crm/1", .form([("first_name", "No identifier")])),
            ("DELETE", "/crm/1", .form([("email", "new@example.com")])),
        ]
        for (method, target, body) in attempts {
            let response = try call(method, target, key: APIKey.generate(), body: body)
            XCTAssertEqual(response.status, 403, "\(method) \(target)")
            if method != "HEAD" {
                XCTAssertEqual(response.bodyText, #"{"status":"error","code":"forbidden","message":"Invalid API key or unauthorized access.","data":{}}"#)
            }
        }
        let statistics = keys.statistics
        XCTAssertEqual(statistics.lookups, attempts.count, "one lookup each")
        XCTAssertEqual(statistics.cachedKeys, 0, "unknown keys are never cached")
        let poolStatistics = pool.statistics
        if TestDatabase.pooler == nil {
            XCTAssertEqual(poolStatistics.size + poolStatistics.opening, 0,
                           "no pooled connection was ever needed: the lookups went over the pipelined connection, and no operation ran")
        } else {
            // `--statement-mode unnamed` has no pipelined connection: the lookups borrow pooled ones.
            XCTAssertEqual(poolStatistics.inUse, 0, "every lookup gave its connection back")
        }
        XCTAssertEqual(try metric("crm_auth_refused_total"), Double(attempts.count))
        XCTAssertEqual(try metric("crm_key_lookups_total"), Double(attempts.count))
        XCTAssertEqual(try contactCount(), 0)
    }

    func testAKeyCreatedAMomentAgoWorksOnItsNextRequest() throws {
        let key = APIKey.generate()
        XCTAssertEqual(try get(1, key: key).status, 403)
        try sql("INSERT INTO api_keys (key_hash, key_prefix) VALUES ($1::bytea, $2)", [PostgresBytes(key.digest), key.prefix])
        try sql("INSERT INTO api_key_grants (listing_id, key_id) SELECT 1, key_id FROM api_keys WHERE key_hash = $1::bytea",
                [PostgresBytes(key.digest)])
        let response = try get(1, key: key)
        XCTAssertEqual(response.status, 404, "no negative answer was remembered")
        XCTAssertEqual(response.json["message"] as? String, "No contacts found.")
        XCTAssertEqual(keys.statistics.lookups, 2)
        XCTAssertEqual(keys.statistics.cachedKeys, 1)
        XCTAssertEqual(try get(1, key: key).status, 404)
        XCTAssertEqual(keys.statistics.lookups, 2, "a live key is believed for a second without asking again")
    }

    func testAKeyRevokedWithinItsCachedSecondIsRefusedByTheOperationItself() throws {
        XCTAssertEqual(try post(1, [("email", "kept@example.com")]).status, 201)
        XCTAssertEqual(keys.statistics.cachedKeys, 1)
        try sql("UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1::bytea", [PostgresBytes(keyA.digest)])
        let refused = try post(1, [("email", "after@example.com")])
        XCTAssertEqual(refused.status, 403, "the SQL of the operation checks the key, cached or not")
        XCTAssertEqual(refused.json["code"] as? String, "forbidden")
        XCTAssertEqual(keys.statistics.lookups, 1, "answered by the operation, not by a second lookup")
        XCTAssertEqual(try contactCount(1), 1)
        XCTAssertEqual(try metric("crm_auth_refused_total"), 1)
    }

    func testThousandsOfMadeUpKeysAreRefusedAndLeaveTheCacheAlone() throws {
        XCTAssertEqual(try get(1).status, 404)
        let bogus = (0..<3_000).map { _ in APIKey.generate() }
        XCTAssertEqual(flood(bogus, connections: 8), [403: 3_000])
        XCTAssertEqual(keys.statistics.cachedKeys, 1, "only keyA, the one live key used")
        XCTAssertEqual(keys.statistics.lookups, 3_001)
        XCTAssertEqual(pool.statistics.waiting, 0)
    }
}

/// Item 8: a cache of 4 keys, a key limited to 1 request a second with a burst of 50, and a
/// flood of made-up keys and of more live keys than the cache holds. The limited key's bucket is
/// never reset: it keeps getting `429`s.
final class KeyGateFloodTests: ContactsTestCase {
    override var rateLimitBurst: Int? { 50 }

    override var keyGateSettings: ApplicationConfiguration.KeyGateSettings {
        .init(burst: 50, authFailureRate: 0, capacity: 4)
    }

    /// Checks one `429` of keyA to the letter.
    private func assertRateLimited(_ response: RawHTTPClient.Response, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, 429, file: file, line: line)
        XCTAssertEqual(response.bodyText,
                       #"{"status":"error","code":"rate_limited","message":"Too many requests for this key; retry after 1 s.","data":{}}"#,
                       file: file, line: line)
        XCTAssertEqual(response.header("Retry-After"), "1", file: file, line: line)
        XCTAssertEqual(response.header("RateLimit-Limit"), "1", file: file, line: line)
        XCTAssertEqual(response.header("RateLimit-Remaining"), "0", file: file, line: line)
        XCTAssertEqual(response.header("RateLimit-Reset"), "50", "50 tokens at 1 a second", file: file, line: line)
    }

    func testALimitedKeyKeepsGetting429sUnderAFloodOfKeys() throws {
        try setRateLimit(keyA, 1)
        let others = try createKeys(8)
        // Use up keyA's burst: 50 answers, then the first 429 (one more answer per second the
        // draining took, at most).
        let drainStarted = Date()
        var answered = 0
        var first429: RawHTTPClient.Response?
        var first429Sent = Date()
        while first429 == nil, answered < 100 {
            let sent = Date()
            let response = try get(1)
            if response.status == 429 {
                first429 = response
                first429Sent = sent
            } else {
                XCTAssertEqual(response.status, 404)
                answered += 1
            }
        }
        let drainSeconds = first429Sent.timeIntervalSince(drainStarted)
        XCTAssertGreaterThanOrEqual(answered, 50)
        XCTAssertLessThanOrEqual(Double(answered), 50 + drainSeconds.rounded(.up), "the burst, plus one a second")
        assertRateLimited(try XCTUnwrap(first429))

        // 8 live keys into a cache of 4 whose least recently used entry is keyA's empty bucket,
        // then thousands of made-up keys.
        XCTAssertEqual(flood(others, connections: 2), [404: 8])
        XCTAssertEqual(keys.statistics.cachedKeys, 4)
        XCTAssertEqual(flood((0..<2_000).map { _ in APIKey.generate() }, connections: 8), [403: 2_000])
        XCTAssertEqual(keys.statistics.cachedKeys, 4, "made-up keys never enter")

        // keyA gets one more answer per second since its first 429, not a new burst.
        var after: [RawHTTPClient.Response] = []
        for _ in 0..<20 { after.append(try get(1)) }
        let elapsed = Date().timeIntervalSince(first429Sent)
        XCTAssertLessThan(elapsed, 15, "the flood was quick enough for a refill to stay below a new burst")
        let allowed = after.filter { $0.status == 404 }.count
        XCTAssertEqual(allowed + after.filter { $0.status == 429 }.count, 20, after.map(\.status).description)
        XCTAssertLessThanOrEqual(Double(allowed), elapsed.rounded(.down) + 1, "no burst came back: \(after.map(\.status))")
        XCTAssertGreaterThan(after.count - allowed, 0)
        for response in after where response.status == 429 { assertRateLimited(response) }
        XCTAssertEqual(try metric("crm_rate_limited_total"), Double(1 + after.count - allowed))
    }
}

/// Item 7: refused authentications per client address (3 a second here), the address being the
/// peer or, from a trusted proxy, the first `X-Forwarded-For` entry.
final class RefusedAuthenticationTests: ContactsTestCase {
    override var authFailureRate: Int { 3 }
    override var trustedProxies: Set<String> { ["127.0.0.1"] }

    private func get(_ listing: Int64, key: APIKey, from address: String? = nil) throws -> RawHTTPClient.Response {
        try call("GET", "/crm/\(listing)", key: key, headers: address.map { [("X-Forwarded-For", $0)] } ?? [])
    }

    private func assertThrottled(_ response: RawHTTPClient.Response, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, 429, file: file, line: line)
        XCTAssertEqual(response.json["code"] as? String, "rate_limited", file: file, line: line)
        XCTAssertEqual(response.json["message"] as? String,
                       "Too many refused authentications from this address; retry after 1 s.", file: file, line: line)
        XCTAssertEqual(response.header("Retry-After"), "1", file: file, line: line)
        XCTAssertNil(response.header("RateLimit-Limit"), "no key's limit is involved", file: file, line: line)
    }

    func testAnAddressOutOfRefusalsGets429WithoutDatabaseWork() throws {
        XCTAssertEqual(try get(1, key: keyA).status, 404, "keyA is live, and now known")
        for _ in 0..<3 { XCTAssertEqual(try get(1, key: APIKey.generate()).status, 403) }
        XCTAssertEqual(keys.statistics.lookups, 4)
        assertThrottled(try get(1, key: APIKey.generate()))
        assertThrottled(try get(1, key: keyB))
        XCTAssertEqual(keys.statistics.lookups, 4, "neither was looked up: a key not known live needs a token")
        XCTAssertEqual(try get(1, key: keyA).status, 404, "a key known live is served from a throttled address")
        XCTAssertEqual(try get(1, key: APIKey.generate(), from: "192.0.2.7").status, 403, "another client has its own refusals")
        XCTAssertEqual(try metric("crm_auth_throttled_total"), 2)
        XCTAssertEqual(try metric("crm_auth_refused_total"), 4)
    }

    func testALiveKeyGivesItsTokenBackAndAnUngrantedListingTakesOne() throws {
        let fresh = try createKeys(5)
        for key in fresh { XCTAssertEqual(try get(1, key: key, from: "203.0.113.5").status, 404) }
        for _ in 0..<3 { XCTAssertEqual(try get(1, key: APIKey.generate(), from: "203.0.113.5").status, 403) }
        assertThrottled(try get(1, key: APIKey.generate(), from: "203.0.113.5"))

        XCTAssertEqual(try get(1, key: keyA, from: "198.51.100.1").status, 404)
        for _ in 0..<3 {
            XCTAssertEqual(try get(2, key: keyA, from: "198.51.100.1").status, 403, "not granted listing 2: refused by SQL")
        }
        assertThrottled(try get(1, key: APIKey.generate(), from: "198.51.100.1"))
    }

    /// The token is taken before the lookup: 50 made-up keys at once from one address, on 50
    /// connections, cost 3 lookups (plus one per refill while they arrive), not 50.
    func testConcurrentConnectionsFromOneAddressShareItsRefusals() throws {
        let started = Date()
        let statuses = flood((0..<50).map { _ in APIKey.generate() }, connections: 50)
        let elapsed = Date().timeIntervalSince(started)
        let lookups = keys.statistics.lookups
        XCTAssertEqual(statuses[403], lookups, "\(statuses)")
        XCTAssertEqual((statuses[403] ?? 0) + (statuses[429] ?? 0), 50, "\(statuses)")
        XCTAssertGreaterThanOrEqual(lookups, 3)
        XCTAssertLessThanOrEqual(Double(lookups), 3 + (elapsed * 3).rounded(.down), "\(statuses) in \(elapsed) s")
    }

    /// A client opening many connections at once with a key the service has not seen yet: the
    /// requests that arrive during its lookup wait for it, so one lookup and one (returned)
    /// token serve them all, and none is mistaken for a refused authentication.
    func testManyConnectionsWithOneNewKeyCostOneLookupAndNo429() throws {
        let fresh = try createKeys(1)[0]
        let started = Date()
        XCTAssertEqual(flood(Array(repeating: fresh, count: 100), connections: 100), [404: 100])
        let elapsed = Date().timeIntervalSince(started)
        // One lookup, and one more for each second the flood outlasts the key's cached second.
        XCTAssertGreaterThanOrEqual(keys.statistics.lookups, 1)
        XCTAssertLessThanOrEqual(Double(keys.statistics.lookups), 1 + elapsed.rounded(.down), "in \(elapsed) s")
        XCTAssertEqual(try metric("crm_auth_throttled_total"), 0)
        for _ in 0..<3 { XCTAssertEqual(try get(1, key: APIKey.generate()).status, 403, "the address kept its 3 refusals") }
    }

    func testIPv6ClientsAreCountedByTheirSlash64() throws {
        for host in ["2001:db8::1", "2001:db8::2", "2001:db8::3"] {
            XCTAssertEqual(try get(1, key: APIKey.generate(), from: host).status, 403)
        }
        assertThrottled(try get(1, key: APIKey.generate(), from: "2001:db8::ffff:1"))
        XCTAssertEqual(try get(1, key: APIKey.generate(), from: "2001:db8:0:1::1").status, 403, "another /64")
        XCTAssertEqual(try get(1, key: APIKey.generate(), from: "::ffff:192.0.2.200").status, 403)
    }
}
