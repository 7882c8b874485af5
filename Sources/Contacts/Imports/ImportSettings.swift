/// How a process takes and runs imports (API.md §12; `crm serve --max-import-bytes`,
/// `--import-workers`). A step's statement may run up to ``stepTimeout`` whatever the pool's
/// `statement_timeout`; an upload's and an export's `COPY` run without one (they last as long
/// as the client sends or reads).
public struct ImportSettings: Sendable {
    /// Bytes an upload may send (`--max-import-bytes`, default 256 MiB): more is a `413`
    /// before the rest is read.
    public var maxBytes: Int
    /// Rows an upload may hold (1,000,000): more is a `413` before the rest is read.
    public var maxRows: Int
    /// Jobs this process applies at once (0: none; any instance may take any job).
    public var workers: Int
    /// Rows applied per transaction.
    public var chunkSize: Int
    /// The longest one chunk may take.
    public static let stepTimeout = "60s"
    /// How often an idle worker looks for a job another instance took in, or a crash left.
    public var pollInterval: Duration

    public init(maxBytes: Int = 256 << 20, maxRows: Int = 1_000_000, workers: Int = 1, chunkSize: Int = 10_000,
                pollInterval: Duration = .seconds(1)) {
        self.maxBytes = maxBytes
        self.maxRows = maxRows
        self.workers = workers
        self.chunkSize = chunkSize
        self.pollInterval = pollInterval
    }

    /// Whether a request's body is an upload to stream (`POST /crm/{listing_id}/imports`).
    static func isUpload(method: String, path: Substring) -> Bool {
        guard method == "POST", path.hasPrefix("/crm/"), path.hasSuffix("/imports") else { return false }
        let listing = path.dropFirst(5).dropLast(8)
        return !listing.isEmpty && !listing.contains("/")
    }
}
