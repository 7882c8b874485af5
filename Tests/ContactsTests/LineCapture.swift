import Synchronization

/// Lines written by a log handler, kept for assertions.
final class LineCapture: Sendable {
    private let lines = Mutex<[String]>([])

    /// Takes one write of the log, which holds one line or several (two requests ending at once
    /// share a batch): each line is kept on its own, with its newline.
    func append(_ batch: String) {
        var split: [String] = []
        var rest = Substring(batch)
        while let newline = rest.firstIndex(of: "\n") {
            split.append(String(rest[...newline]))
            rest = rest[rest.index(after: newline)...]
        }
        if !rest.isEmpty { split.append(String(rest)) }
        lines.withLock { $0.append(contentsOf: split) }
    }

    var all: [String] { lines.withLock { $0 } }
}
