import Foundation
import HTTP
import Synchronization

/// ``TestServer``'s streaming routes.
///
/// `/upload` (body streamed, up to ``uploadLimit``) answers `{"bytes": n, "sum": s}` (s: the
/// bytes' sum mod 2^32); `?reject=1` answers `415` without reading; `?gated=1` reads only once
/// the gate opens. A body that ends early is noted in ``Streams/failures`` and answered `408`
/// (timed out) or with the protocol error's status. `/pieces?count=N&size=M` writes N pieces of
/// M bytes (piece i filled with i % 251), counting each in ``Streams/produced``; `&fail=K` throws
/// after K pieces.
extension TestServer {
    static let uploadLimit = 64 << 20

    /// What the streaming handlers saw, for the tests to check.
    final class Streams: Sendable {
        let produced = Counter()
        private let seen = Mutex<[HTTPRequestBody.Failure]>([])

        var failures: [HTTPRequestBody.Failure] { seen.withLock { $0 } }

        func note(_ failure: HTTPRequestBody.Failure) {
            seen.withLock { $0.append(failure) }
        }
    }

    static func upload(_ request: HTTPRequest, gate: Gate, streams: Streams) async throws -> HTTPResponse {
        let query = request.query.map(String.init) ?? ""
        if query.contains("reject=1") { return .json(status: 415, #"{"rejected":true}"#) }
        if query.contains("gated=1") { await gate.wait() }
        guard let body = request.bodyStream else { return .json(status: 500, #"{"streamed":false}"#) }
        var count = 0
        var sum: UInt32 = 0
        do {
            while let piece = try await body.next() {
                count += piece.count
                for byte in piece { sum &+= UInt32(byte) }
            }
        } catch let failure as HTTPRequestBody.Failure {
            streams.note(failure)
            switch failure {
            case .timedOut: return .json(status: 408, #"{"timedOut":true}"#)
            case .protocolError(let error): return TestErrorResponse.json(error)
            case .disconnected: throw failure
            }
        }
        return .json(status: 200, #"{"bytes":\#(count),"sum":\#(sum)}"#)
    }

    static func pieces(_ request: HTTPRequest, streams: Streams) -> HTTPResponse {
        let parameters = (request.query.map(String.init) ?? "").split(separator: "&").reduce(into: [String: Int]()) { result, pair in
            let parts = pair.split(separator: "=")
            if parts.count == 2 { result[String(parts[0])] = Int(parts[1]) }
        }
        let (count, size, failAfter) = (parameters["count"] ?? 10, parameters["size"] ?? 1000, parameters["fail"])
        return .streamed(status: 200, headers: HTTPHeaders([("Content-Type", "application/octet-stream")])) { writer in
            for index in 0..<count {
                if index == failAfter { throw Thrown() }
                try await writer.write([UInt8](repeating: UInt8(index % 251), count: size))
                streams.produced.add(1)
            }
        }
    }
}
