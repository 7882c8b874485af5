import HTTP
import Postgres

/// What an error that ends a request means, decided in this one place for every path that can
/// fail (the router, the key gate, the operations; ``ErrorMiddleware`` applies it, and
/// ``APIError/init(_:)`` maps the HTTP server's own refusals): the answer the client gets, the class
/// `crm_db_errors_total` counts it under, and, for a `500`, the fields of its error log line.
///
/// | error | answer | class |
/// |---|---|---|
/// | ``APIError`` | itself | — |
/// | ``HTTPProtocolError`` (the server's own refusals) | its status, the contract's code | — |
/// | ``ConnectionPoolError`` (no connection free in time, shutting down) | `503` | — (the pool counts its timeouts) |
/// | ``PostgresError`` of a lost or refused connection | `503` | `connection` |
/// | ``PostgresError`` of a write refused by a read-only server (`25006`, a standby) | `503` | `25` |
/// | ``PostgresError`` of a statement or lock timeout (`57014`, `55P03`) | `503` | `57`, `55` |
/// | ``PostgresError`` from the server | `500` | its SQLSTATE class (`23`, `42`, …) |
/// | ``PostgresError`` for a result that could not be read | `500` | `decode` |
/// | ``PostgresError`` that libpq refused, or a pipelined statement left unrun | `500` | `client`, `not_run` |
/// | anything else | `500` | — |
///
/// The log fields name the cause and never the content: the error's kind, SQLSTATE and the
/// constraint, table and column it names (schema identifiers). Never its message or detail:
/// PostgreSQL quotes values there (`invalid input syntax for type bigint: "…"`, `Key
/// (email)=(…) already exists`), and values are personal data.
struct RequestFailure: Sendable {
    let error: any Error
    let answer: APIError
    /// True for a key lookup's error (``KeyLookupFailure``): counted by the gate already.
    let alreadyCounted: Bool

    init(_ thrown: any Error) {
        let error = (thrown as? KeyLookupFailure)?.underlying ?? thrown
        self.error = error
        alreadyCounted = thrown is KeyLookupFailure
        switch error {
        case let error as APIError:
            answer = error
        case let error as HTTPProtocolError:
            answer = APIError(status: error.status.code, code: Self.code(for: error.kind), message: error.message)
        case is ConnectionPoolError:
            answer = .unavailable
        case let error as PostgresError where error.isConnectionError || error.isTimeout || error.isReadOnlyServer:
            answer = .unavailable
        default:
            answer = .internal
        }
    }

    /// The `class` label of `crm_db_errors_total`; nil when `error` is not a database error.
    static func databaseErrorClass(of error: any Error) -> String? {
        guard let error = error as? PostgresError else { return nil }
        switch error.kind {
        case .server: return error.sqlState.map { String($0.errorClass) } ?? "server"
        case .connectionFailed, .connectionClosed: return "connection"
        case .decoding: return "decode"
        case .client: return "client"
        case .notRun: return "not_run"
        default: return String(describing: error.kind)
        }
    }

    var databaseErrorClass: String? { Self.databaseErrorClass(of: error) }

    /// The cause as error log fields (after `request_id`), without anything the request carried.
    var causeFields: [(String, String)] {
        guard let error = error as? PostgresError else {
            return [("error", String(reflecting: type(of: error)))]
        }
        var fields = [("error", "postgres.\(error.kind)")]
        if let sqlState = error.sqlState { fields.append(("sqlstate", sqlState.code)) }
        if let constraint = error.constraint { fields.append(("constraint", constraint)) }
        if let table = error.table { fields.append(("table", table)) }
        if let column = error.column { fields.append(("column", column)) }
        return fields
    }

    /// The contract's code for each of the server's own errors: a malformed request, an
    /// unsupported version or transfer coding are all `invalid_parameter` (the request itself
    /// is the bad input); every `503` is `unavailable`.
    static func code(for kind: HTTPProtocolError.Kind) -> APIError.Code {
        switch kind {
        case .malformed, .versionNotSupported, .transferCodingNotImplemented: .invalidParameter
        case .headersTooLarge: .headersTooLarge
        case .payloadTooLarge: .payloadTooLarge
        case .requestTimeout: .requestTimeout
        case .connectionLimit, .handlerTimeout, .overloaded: .unavailable
        case .internalError: .internal
        }
    }
}
