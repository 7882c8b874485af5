// The libFuzzer target for HTTPRequestParser (`make fuzz`). Built with `-DFUZZING
// -sanitize=fuzzer,address`, libFuzzer supplies `main` and calls LLVMFuzzerTestOneInput; in an
// ordinary build this is a replay tool: `http-parser-fuzzer FILE…` runs saved inputs (a
// crash found by the fuzzer, the seed corpus) through the same checks.
import HTTP

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    ParserExercise.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver, which its own `main` would call.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

/// SwiftPM links an executable's entry point as `<module>_main`; hand control to libFuzzer.
@_cdecl("http_parser_fuzzer_main")
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
            ParserExercise.run(Array(data))
        }
        print("replayed \(CommandLine.arguments.count - 1) inputs")
    }
}
#endif

/// Feeds one input to the parser three times: whole, split where its first byte says, and as
/// the front of a larger buffer (the server parses out of its shared read buffer so), and checks
/// what must hold for any bytes: progress is monotonic and within the buffer, bodies respect the
/// limit, and all ways of feeding agree (no byte past the slice's end is ever looked at).
enum ParserExercise {
    /// Requests to a path ending in `/stream` have their body streamed, as imports are.
    static let limits = HTTPRequestParser.Limits(maxHeadBytes: 2048, maxBodyBytes: 4096,
                                                 streamedBodyLimit: { $0.path.hasSuffix("/stream") ? 8192 : nil })

    static func run(_ bytes: [UInt8]) {
        let whole = parse(chunks: [bytes])
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        let pieces = parse(chunks: [Array(bytes[..<split]), Array(bytes[split...])])
        precondition(whole == pieces, "feeding in two pieces changed the outcome")
        let junk = Array("\r\n\r\nGET /junk HTTP/1.1\r\n\r\n".utf8)
        precondition(whole == parse(chunks: [bytes], trailing: junk), "bytes past the slice changed the outcome")
    }

    /// A summary of what the parser produced: targets, body sizes, the failure status. With
    /// `trailing`, each buffer is parsed as a slice of a larger one ending in those bytes.
    private static func parse(chunks: [[UInt8]], trailing: [UInt8] = []) -> [String] {
        var parser = HTTPRequestParser(limits: limits)
        var buffer: [UInt8] = []
        var index = 0
        var outcome: [String] = []
        for chunk in chunks {
            buffer.append(contentsOf: chunk)
            let larger = buffer + trailing
            while true {
                let before = index
                let event = parser.parse(larger[..<buffer.count], from: &index)
                precondition(index >= before && index <= buffer.count, "parse position out of bounds")
                switch event {
                case .needMoreData:
                    break
                case .head(let head):
                    precondition(!head.method.rawValue.isEmpty && !head.target.isEmpty)
                    outcome.append("head \(head.method) \(head.target) \(head.headers.count)")
                    continue
                case .body(let body):
                    precondition(body.count <= limits.maxBodyBytes, "body over the limit")
                    outcome.append("body \(body.count)")
                    continue
                case .bodyPart(let part):
                    precondition(!part.isEmpty, "an empty body part")
                    outcome.append("part \(part.count)")
                    continue
                case .failure(let error):
                    outcome.append("failure \(error.status)")
                    return outcome
                }
                break
            }
        }
        return outcome
    }
}
