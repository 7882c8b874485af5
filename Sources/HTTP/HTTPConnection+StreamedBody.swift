import Reactor

/// A request whose body streams to its handler (``HTTPRequestBody``): it is dispatched as soon
/// as its head is parsed, and the connection goes on reading its body while the handler runs,
/// pausing while the handler has ``requestBodyHighWater`` bytes unread. A client that sends
/// nothing for the request timeout while the handler waits, or breaks the body's framing, ends
/// the body with a failure the handler answers; the connection closes after that answer.
extension HTTPConnection {
    /// Unread body bytes at which the connection stops reading its socket.
    static let requestBodyHighWater = 512 * 1024

    func startReceivingBody(_ head: HTTPRequestHead) {
        let body = HTTPRequestBody(highWater: Self.requestBodyHighWater) { [weak self] in
            guard let self else { return }
            self.owner.loop.execute { self.resumeReceivingBody() }
        }
        state.value.requestBody = body
        state.value.requestBodyHeld = false
        state.value.requestBodyDeadline = MonotonicClock.now() &+ owner.timeouts.request
        dispatch(HTTPRequest.received(head: head, body: [], peerAddress: peerAddress, bodyStream: body))
        state.value.machine.streamingBody()
    }

    func receivedBodyPart(_ part: ArraySlice<UInt8>) {
        guard let body = state.value.requestBody else { return }
        state.value.requestBodyDeadline = MonotonicClock.now() &+ owner.timeouts.request
        guard body.append(Array(part)) else {
            // The handler has enough unread: the client's bytes wait in the kernel (and TCP
            // holds the client back) until it has taken half of them.
            state.value.requestBodyHeld = true
            state.value.requestBodyDeadline = nil
            owner.setInterest([], for: self)
            return
        }
    }

    func receivedBodyEnd() {
        state.value.requestBody?.finish()
        forgetRequestBody()
        state.value.machine.streamedBodyReceived(now: MonotonicClock.now())
    }

    /// The body broke its framing or its limit: the handler hears of it and answers; the
    /// stream is unusable, so the connection closes after that answer.
    func bodyBroke(_ error: HTTPProtocolError) {
        endRequestBody(.protocolError(error))
    }

    /// The loop's sweep: a client that sent nothing of its body for the request timeout.
    func checkRequestBodyTimeout(now: UInt64) {
        guard let deadline = state.value.requestBodyDeadline, now >= deadline else { return }
        endRequestBody(.timedOut)
    }

    /// The handler took enough of the body: read again (what is buffered first).
    private func resumeReceivingBody() {
        guard state.value.requestBody != nil, state.value.requestBodyHeld else { return }
        state.value.requestBodyHeld = false
        state.value.requestBodyDeadline = MonotonicClock.now() &+ owner.timeouts.request
        // What was read before the pause, and the body's end when its last byte came just
        // before it (the parser reports the end on the next call, which needs no byte).
        processBufferedInput()
        if isReceivingBody { owner.setInterest(.read, for: self) }
        account()
    }

    private func endRequestBody(_ failure: HTTPRequestBody.Failure) {
        state.value.requestBody?.fail(failure)
        forgetRequestBody()
        state.value.resetInput()
        state.value.machine.closeAfterResponse()
        owner.setInterest([], for: self)
    }

    private func forgetRequestBody() {
        state.value.requestBody = nil
        state.value.requestBodyHeld = false
        state.value.requestBodyDeadline = nil
    }

    /// The answer is about to be written. A body still arriving is left unread, so the
    /// connection closes after the answer (``HTTPConnectionStateMachine/closeAfterResponse()``),
    /// as it does after a streamed answer to an HTTP/1.0 client, which only the close can end.
    func prepareToAnswer(streamed: Bool) {
        if state.value.requestBody != nil {
            forgetRequestBody()
            state.value.machine.closeAfterResponse()
        }
        if streamed, state.value.head?.version == .http1_0 { state.value.machine.closeAfterResponse() }
    }

    /// Socket events a stream handles itself: a streamed body being read, or a streamed
    /// response waiting for its producer (watched only for the client leaving). True if handled.
    func streamedIO(_ events: IOEvents) -> Bool {
        let phase = state.value.machine.phase
        if phase == .handling, isReceivingBody, events.readable || events.hangup {
            readAvailable()
            return true
        }
        guard phase == .writing, state.value.responseStream != nil, state.value.output.isEmpty else { return false }
        if events.readable || events.hangup { close() }  // the client left while the producer worked
        return true
    }

    /// The connection closes: a body still arriving fails, a producer waiting hears of it.
    func endStreams() {
        state.value.requestBody?.fail(.disconnected)
        forgetRequestBody()
        let waiter = state.value.responseStream?.waiter
        state.value.responseStream = nil
        waiter?(false)
    }
}
