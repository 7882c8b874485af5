// A minimal server for `make bench-http`: every request gets the same ~300-byte JSON body,
// so the benchmark measures the HTTP layer alone (parsing, scheduling, writing).
// Usage: bench-http-server [port] [event-loops]. SIGTERM/SIGINT: graceful shutdown, exit 0.
import Glibc
import HTTP

// SIGTERM and SIGINT are blocked in every thread (set before any starts, so all inherit it) and
// taken with sigwait below.
var terminationSignals = sigset_t()
sigemptyset(&terminationSignals)
sigaddset(&terminationSignals, SIGTERM)
sigaddset(&terminationSignals, SIGINT)
pthread_sigmask(SIG_BLOCK, &terminationSignals, nil)

let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 8081 : 8081
var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: port)
if arguments.count > 2, let loops = Int(arguments[2]) { configuration.eventLoops = loops }

let body = Array(BenchBody.json.utf8)
let server = HTTPServer(configuration: configuration) { _ in
    var headers = HTTPHeaders()
    headers.add("Content-Type", "application/json; charset=utf-8")
    return HTTPResponse(status: 200, headers: headers, body: body)
}
try server.start()
print("listening on 127.0.0.1:\(server.port) with \(configuration.eventLoops) event loops")
var signal: Int32 = 0
sigwait(&terminationSignals, &signal)
print("signal \(signal): shutting down")
await server.shutdown(gracePeriod: .seconds(5))
