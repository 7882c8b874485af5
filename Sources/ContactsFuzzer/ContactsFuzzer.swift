// The libFuzzer targets for the contacts API's input handling (`make fuzz`). Built with
// `-DFUZZING -sanitize=fuzzer,address`, libFuzzer supplies the driver and calls
// LLVMFuzzerTestOneInput; in an ordinary build this is a replay tool:
// `contacts-fuzzer FILE…` runs saved inputs through the same checks.
//
// CRM_FUZZ_TARGET picks what one run exercises (default: the input's first byte picks):
//   form        a form-urlencoded body through RequestParameters
//   json        a JSON body through RequestParameters
//   multipart   a multipart/form-data body (boundary "XyZ") through RequestParameters
//   validation  the input split on NUL into values for every ContactValidation rule
//   router      the input as one HTTP request (HTTPRequestParser), answered by ContactsAPI
//               over a pool whose database cannot be reached (a stub: every query fails fast);
//               for /crm/{listing_id}, its parameters also through ContactOperation's checks,
//               which the router answers only once the database has confirmed the grant
//   csv, ndjson the import readers (CSVReader, NDJSONReader), fed whole and in pieces
import Contacts
import Dispatch
import Glibc
import HTTP
import Postgres
import Reactor
import Synchronization

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    ContactsExercise.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver, which its own `main` would call.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

/// SwiftPM links an executable's entry point as `<module>_main`; hand control to libFuzzer.
@_cdecl("contacts_fuzzer_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
}
#else
import FoundationEssentials

@main
struct Replay {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("cannot read \(path)")
                continue
            }
            ContactsExercise.run(Array(data))
        }
        print("replayed \(CommandLine.arguments.count - 1) inputs")
        let refusals = ContactsExercise.parameterRefusals.withLock { $0 }
        if !refusals.isEmpty {
            print("parameter refusals reached: " + refusals.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        }
    }
}
#endif

/// One input through one target, with the checks that must hold for any bytes.
enum ContactsExercise {
    enum Target: String, CaseIterable {
        case form, json, multipart, validation, router, csv, ndjson
    }

    static let chosen: Target? = getenv("CRM_FUZZ_TARGET").flatMap { Target(rawValue: String(cString: $0)) }

    static func run(_ bytes: [UInt8]) {
        let target: Target
        var input = bytes[...]
        if let chosen {
            target = chosen
        } else {
            guard let first = input.popFirst() else { return }
            target = Target.allCases[Int(first) % Target.allCases.count]
        }
        switch target {
        case .form: parameters(Array(input), contentType: "application/x-www-form-urlencoded")
        case .json: parameters(Array(input), contentType: "application/json")
        case .multipart: parameters(Array(input), contentType: "multipart/form-data; boundary=XyZ")
        case .validation: validation(Array(input))
        case .router: router(Array(input))
        case .csv: ImportReaderExercise.csv(Array(input))
        case .ndjson: ImportReaderExercise.ndjson(Array(input))
        }
    }

    /// A body of `contentType`: parsed or refused with a 4xx naming what is wrong; every value
    /// it yields is trimmed.
    static func parameters(_ body: [UInt8], contentType: String) {
        var headers = HTTPHeaders()
        headers.add("Content-Type", contentType)
        let request = HTTPRequest(head: HTTPRequestHead(method: "POST", target: "/crm/1", version: .http1_1, headers: headers),
                                  body: body, peerAddress: "127.0.0.1")
        do {
            let parameters = try RequestParameters(request)
            for name in ["email", "phone", "first_name", "last_name", "id", "name", "limit", "after", "ip_address"] {
                if let value = parameters[name] {
                    precondition(value.unicodeScalars.first?.properties.isWhitespace != true
                                 && value.unicodeScalars.last?.properties.isWhitespace != true, "\(name) kept surrounding white space")
                }
            }
        } catch {
            precondition((400..<500).contains(error.status), "a body error must be a 4xx, got \(error.status)")
            precondition(!error.message.isEmpty)
        }
    }

    /// Every validation rule on every NUL-separated piece; what passes obeys the rule.
    static func validation(_ bytes: [UInt8]) {
        for piece in bytes.split(separator: 0, omittingEmptySubsequences: false).prefix(8) {
            let text = String(decoding: piece, as: UTF8.self)
            if let email = try? ContactValidation.email(text) {
                precondition(email.unicodeScalars.count <= ContactValidation.emailMaxLength)
                precondition(email.unicodeScalars.filter { $0 == "@" }.count == 1, "an accepted email has one @")
            }
            if let phone = try? ContactValidation.phone(text) {
                precondition((7...15).contains(phone.utf8.count) && phone.utf8.allSatisfy { (48...57).contains($0) },
                             "an accepted phone is 7 to 15 ASCII digits")
            }
            if let name = try? ContactValidation.personName("first_name", text) {
                precondition(name.unicodeScalars.count <= ContactValidation.nameMaxLength)
            }
            if let id = try? ContactValidation.contactID(text) { precondition(id > 0) }
            if let limit = try? ContactValidation.integer("limit", text, in: 1...1000) { precondition((1...1000).contains(limit)) }
            _ = try? ContactValidation.ipAddress(text)
        }
    }

    /// The service as `crm serve` wires it (``CRMApplication``), over a stub database: a pool
    /// whose server does not exist, so any query fails at once. Its server is never started:
    /// requests go straight to ``CRMApplication/handle(_:)``.
    static let loop = EventLoop(name: "fuzz")
    static let application: CRMApplication = {
        let unreachable = PostgresConfiguration(connectionString: "host=/nonexistent-crm-fuzz port=1 dbname=none connect_timeout=1")
        return CRMApplication(configuration: ApplicationConfiguration(
            database: unreachable, pool: .init(maxConnections: 1, acquireTimeout: .seconds(1)),
            // Every key lookup fails here, so no address would ever earn its refusals back.
            keyGate: .init(authFailureRate: 0)), loops: [loop])
    }()

    /// The input as a request on the wire: parsed like the server does, answered by the API.
    /// Whatever it is, the answer is a well-formed JSON error or success with a status the
    /// contract has, and no header value carries CR, LF or NUL.
    static func router(_ bytes: [UInt8]) {
        var parser = HTTPRequestParser(limits: .init(maxHeadBytes: 4096, maxBodyBytes: 16384))
        var index = 0
        guard case .head(let head) = parser.parse(bytes, from: &index) else { return }
        var body: [UInt8] = []
        if case .body(let bytes) = parser.parse(bytes, from: &index) { body = bytes }
        let request = HTTPRequest(head: head, body: body, peerAddress: "127.0.0.1")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var response: HTTPResponse?
        Task {
            response = await application.handle(request)
            done.signal()
        }
        done.wait()
        guard let response else { preconditionFailure("no response") }
        precondition([200, 201, 202, 400, 403, 404, 405, 409, 415, 422, 500, 503].contains(response.status),
                     "status \(response.status) is not one the API answers")
        precondition(response.status != 500, "an input reached the 500 path")
        for (name, value) in response.headers {
            precondition(!value.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 }, "header \(name) carries CR, LF or NUL")
        }
        precondition(response.body.first == UInt8(ascii: "{") || ["/openapi.yaml", "/metrics"].contains(head.path), "a JSON body")
        if RouteTable.match(head.path).index == 0, ["GET", "HEAD", "POST", "PUT", "DELETE"].contains(head.method) {
            contactParameters(request, routerAnswer: response)
        }
    }

    /// Parameter refusals (status and code) the router target has reached, for the replay's summary.
    static let parameterRefusals = Mutex<[String: Int]>([:])

    /// A `/crm/{listing_id}` request's parameters through the checks the router makes once the
    /// grant is confirmed (the stub database never confirms one, so the router itself answers
    /// `403` or `503` before them): a refusal is a `400` or `415` in the contract's shape, and
    /// the router gave nothing of them away without the grant (its only `400` before the grant
    /// is the listing id's).
    static func contactParameters(_ request: HTTPRequest, routerAnswer: HTTPResponse) {
        let answer = String(decoding: routerAnswer.body, as: UTF8.self)
        precondition(routerAnswer.status != 415 && (routerAnswer.status != 400 || answer.contains(#""parameter":"listing_id""#)),
                     "the router answered a parameter refusal without a confirmed grant: \(answer)")
        let refusal: APIError
        do {
            _ = try ContactOperation(method: request.method, parameters: RequestParameters(request), clientAddress: "127.0.0.1")
            return
        } catch {
            refusal = error
        }
        precondition([400, 415].contains(refusal.status), "a parameter refusal is a 400 or 415, got \(refusal.status)")
        precondition(!refusal.message.isEmpty, "a refusal says what is wrong")
        let body = refusal.rendered
        precondition(body.hasPrefix(#"{"status":"error","code":"\#(refusal.code.rawValue)","message":""#) && body.hasSuffix("}}"),
                     "a refusal is rendered in the error shape")
        precondition((refusal.parameter != nil) == body.contains(#","parameter":""#), "a refusal names its parameter")
        parameterRefusals.withLock { $0["\(refusal.status) \(refusal.code.rawValue)", default: 0] += 1 }
    }
}
