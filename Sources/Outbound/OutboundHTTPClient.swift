import CCurl
import Reactor

/// Outbound HTTP(S) requests through libcurl's multi-socket API, driven by one ``EventLoop``:
/// libcurl says which sockets to watch (`CURLMOPT_SOCKETFUNCTION`) and when to wake it
/// (`CURLMOPT_TIMERFUNCTION`); the loop's epoll and timers call `curl_multi_socket_action`
/// back. No thread per request, no blocking call: any number of requests share the loop.
///
/// Each request: certificates verified (libcurl's default), redirects not followed, `http` and
/// `https` only, an overall timeout, at most ``maxResponseBytes`` of the answer kept. A request
/// may pin its host to an address (`CURLOPT_RESOLVE`), so that the address a caller checked is
/// the one connected to. All libcurl calls happen on the loop's thread.
public final class OutboundHTTPClient: @unchecked Sendable {
    public static let maxResponseBytes = 64 * 1024

    public let loop: EventLoop
    // Loop-confined from here on.
    private var multi: UnsafeMutableRawPointer?
    private var transfers: [UnsafeMutableRawPointer: Transfer] = [:]
    private var watched: Set<Int32> = []
    private var timer: TimerID?
    /// Set by ``shutdown()``: later sends fail at once (`CURLE_ABORTED_BY_CALLBACK`).
    private var closed = false

    /// libcurl's global state, set up once before any handle exists.
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init(loop: EventLoop) {
        _ = Self.globalInit
        self.loop = loop
    }

    /// Sends `request` and returns the answer; throws ``OutboundError`` when there is none
    /// (connection refused, TLS failure, timeout, …).
    public func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        try await withCheckedThrowingContinuation { continuation in
            loop.execute { self.start(request, continuation) }
        }
    }

    /// Ends every transfer in flight with an error and frees libcurl's state (on the loop);
    /// sends after it fail at once, as aborted.
    public func shutdown() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.execute {
                self.closed = true
                for easy in Array(self.transfers.keys) { self.finish(easy, result: CURLE_ABORTED_BY_CALLBACK) }
                if let timer = self.timer { self.loop.cancelTimer(timer) }
                for fd in self.watched { self.loop.deregister(fd) }
                self.watched.removeAll()
                if let multi = self.multi { curl_multi_cleanup(multi) }
                self.multi = nil
                done.resume()
            }
        }
    }

    // MARK: Transfers

    private func start(_ request: OutboundRequest, _ continuation: CheckedContinuation<OutboundResponse, any Error>) {
        guard !closed else {
            continuation.resume(throwing: OutboundError(code: Int(CURLE_ABORTED_BY_CALLBACK.rawValue), message: "the client is shut down"))
            return
        }
        guard let multi = multiHandle(), let easy = curl_easy_init() else {
            continuation.resume(throwing: OutboundError(code: -1, message: "libcurl could not start a transfer"))
            return
        }
        let transfer = Transfer(continuation: continuation)
        var lines = request.headers.map { "\($0.0): \($0.1)" }
        lines.append("Expect:")  // no 100-continue round trip
        for line in lines { transfer.headers = curl_slist_append(transfer.headers, line) }
        for pin in request.pinnedAddresses { transfer.resolve = curl_slist_append(transfer.resolve, pin) }
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_URL, request.url)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeout.components.seconds * 1000
                                                                  + request.timeout.components.attoseconds / 1_000_000_000_000_000))
        _ = ccurl_easy_setopt_long(easy, CURLOPT_POST, 1)
        _ = ccurl_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
        request.body.withUnsafeBytes { _ = ccurl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)) }
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, transfer.headers.map { UnsafeRawPointer($0) })
        if let resolve = transfer.resolve { _ = ccurl_easy_setopt_pointer(easy, CURLOPT_RESOLVE, UnsafeRawPointer(resolve)) }
        _ = ccurl_easy_setopt_write(easy, writeCallback)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(transfer).toOpaque())
        transfers[easy] = transfer
        let added = curl_multi_add_handle(multi, easy)
        if added != CURLM_OK {
            transfers[easy] = nil
            curl_easy_cleanup(easy)
            transfer.release()
            continuation.resume(throwing: OutboundError(code: Int(added.rawValue), message: String(cString: curl_multi_strerror(added))))
        }
    }

    private func multiHandle() -> UnsafeMutableRawPointer? {
        if let multi { return multi }
        guard let created = curl_multi_init() else { return nil }
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_multi_setopt_socket(created, socketCallback, me)
        _ = ccurl_multi_setopt_timer(created, timerCallback, me)
        multi = created
        return created
    }

    /// A finished transfer: its answer, or its error, to the caller; its handles freed.
    private func finish(_ easy: UnsafeMutableRawPointer, result: CURLcode) {
        guard let transfer = transfers.removeValue(forKey: easy) else { return }
        if let multi { curl_multi_remove_handle(multi, easy) }
        var status = 0
        _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var retryAfter: String?
        var header: UnsafeMutablePointer<curl_header>?
        if curl_easy_header(easy, "Retry-After", 0, UInt32(CURLH_HEADER), -1, &header) == CURLHE_OK, let value = header?.pointee.value {
            retryAfter = String(cString: value)
        }
        curl_easy_cleanup(easy)
        transfer.release()
        if result == CURLE_OK {
            transfer.continuation.resume(returning: OutboundResponse(status: status, body: transfer.body, retryAfter: retryAfter))
        } else {
            transfer.continuation.resume(throwing: OutboundError(code: Int(result.rawValue), message: String(cString: curl_easy_strerror(result))))
        }
    }

    private func drainMessages() {
        guard let multi else { return }
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            finish(easy, result: ccurl_message_result(message))
        }
    }

    // MARK: libcurl's callbacks (on the loop, from inside curl_multi_* calls)

    fileprivate func socketChanged(_ fd: Int32, what: Int32) {
        if what == CURL_POLL_REMOVE {
            if watched.remove(fd) != nil { loop.deregister(fd) }
            return
        }
        var interest: IOInterest = []
        if what & CURL_POLL_IN != 0 { interest.insert(.read) }
        if what & CURL_POLL_OUT != 0 { interest.insert(.write) }
        if watched.contains(fd) {
            try? loop.setInterest(interest, for: fd)
        } else if (try? loop.register(fd, interest: interest, handler: { [unowned self] events in self.socketReady(fd, events) })) != nil {
            watched.insert(fd)
        }
    }

    private func socketReady(_ fd: Int32, _ events: IOEvents) {
        guard let multi else { return }
        var flags: Int32 = 0
        if events.readable { flags |= CURL_CSELECT_IN }
        if events.writable { flags |= CURL_CSELECT_OUT }
        if events.hangup { flags |= CURL_CSELECT_ERR }
        var running: Int32 = 0
        _ = curl_multi_socket_action(multi, fd, flags, &running)
        drainMessages()
    }

    fileprivate func timerChanged(_ milliseconds: Int) {
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        guard milliseconds >= 0 else { return }
        timer = loop.scheduleTimer(after: .milliseconds(milliseconds)) { [unowned self] in
            self.timer = nil
            guard let multi = self.multi else { return }
            var running: Int32 = 0
            _ = curl_multi_socket_action(multi, -1, 0, &running)  // CURL_SOCKET_TIMEOUT
            self.drainMessages()
        }
    }

    /// One request in flight: its caller, its answer so far, the lists libcurl reads from.
    final class Transfer {
        let continuation: CheckedContinuation<OutboundResponse, any Error>
        var body: [UInt8] = []
        var headers: UnsafeMutablePointer<curl_slist>?
        var resolve: UnsafeMutablePointer<curl_slist>?

        init(continuation: CheckedContinuation<OutboundResponse, any Error>) {
            self.continuation = continuation
        }

        func release() {
            curl_slist_free_all(headers)
            curl_slist_free_all(resolve)
            headers = nil
            resolve = nil
        }
    }
}

private let socketCallback: ccurl_socket_callback = { _, fd, what, user, _ in
    guard let user else { return 0 }
    Unmanaged<OutboundHTTPClient>.fromOpaque(user).takeUnretainedValue().socketChanged(fd, what: what)
    return 0
}

private let timerCallback: ccurl_timer_callback = { _, milliseconds, user in
    guard let user else { return 0 }
    Unmanaged<OutboundHTTPClient>.fromOpaque(user).takeUnretainedValue().timerChanged(milliseconds)
    return 0
}

private let writeCallback: ccurl_write_callback = { data, size, count, user in
    let bytes = size * count
    guard let data, let user else { return bytes }
    let transfer = Unmanaged<OutboundHTTPClient.Transfer>.fromOpaque(user).takeUnretainedValue()
    let room = max(0, OutboundHTTPClient.maxResponseBytes - transfer.body.count)
    if room > 0 {
        data.withMemoryRebound(to: UInt8.self, capacity: bytes) {
            transfer.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: min(room, bytes)))
        }
    }
    return bytes
}
