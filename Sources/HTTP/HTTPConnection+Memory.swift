import Glibc
import Reactor

/// What a connection does for the server's ``HTTPBufferBudget``: charge what it holds, read
/// under pressure (a whole request, or room made by shedding older holders, or a pause), give
/// its memory back when shed.
extension HTTPConnection {
    // MARK: Accounting

    /// Brings this connection's charge up to date with what it holds now, and its place among
    /// the loop's holders: a request not yet whole, or a response waiting for its client.
    func account() {
        let holding = input.capacity + parser.bufferedBodyBytes + handlingBytes + output.ownBytes
        let grew = holding > charged
        if holding != charged {
            owner.core.budget.adjust(by: holding - charged)
            charged = holding
        }
        if state == .writing || (state == .reading && holding > 0) {
            if holdTicket == nil { holdTicket = owner.hold(self) }
        } else {
            holdTicket = nil
        }
        if grew { shedIfOverLimit() }
    }

    /// Past the limit (a response stalled, mostly): the loop sheds its holders older than this
    /// connection down to the buffering share; if that is not enough, the other loops shed theirs.
    func shedIfOverLimit() {
        let budget = owner.core.budget
        guard budget.bytes > budget.limit else { return }
        if !owner.shed(downTo: budget.bufferingLimit, before: holdTicket.map { .ticket($0) } ?? .everyone) {
            owner.core.requestRelief(from: owner, before: holdTicket?.since ?? MonotonicClock.now())
        }
    }

    /// What closing this connection would give back: its own charge, and its stalled response's
    /// body unless other connections wait to write the same one.
    var freeableBytes: Int {
        charged + (outputBodyRetained && !owner.isShared(output.body) ? output.body.count : 0)
    }

    /// Closes this connection to make room for others, as one that held memory longest: a
    /// request not yet whole gets `503` (``HTTPProtocolError/overloaded``) first.
    func shed() {
        switch state {
        case .reading: fail(.overloaded)
        case .writing: close()
        case .handling, .lingering, .closed: return
        }
        account()
    }

    // MARK: Reading under pressure

    /// Past the budget's buffering share: peeks at what the client sent. A request that lies
    /// whole in the kernel's buffer is taken and handled if it fits under the limit (or once
    /// older holders are shed); one that would have to be buffered first needs room below the
    /// buffering share, made the same way. Returns true when the caller may read as usual;
    /// otherwise the request was taken, or the connection paused or closed.
    func readUnderPressure() -> Bool {
        let budget = owner.core.budget
        let ticket = holdTicket ?? owner.holders.newcomer(now: MonotonicClock.now())
        switch peek() {
        case .nothing:
            return false
        case .closed:
            close()
            return false
        case .malformed:
            return true  // the parser answers it and closes, within its limits
        case .whole(let parsedHead, let body, let probe, let kernelBytes, let headSize):
            let size = headSize + body.count
            guard budget.admits(size) || owner.shed(downTo: budget.limit - size, before: .ticket(ticket)) else {
                pause(ticket)
                return false
            }
            take(parsedHead, body, probe, kernelBytes: kernelBytes, headSize: headSize)
            return false
        case .partial(let available, let declared):
            // A declared length is what the request will hold: an `Expect: 100-continue`
            // client gets its 100 only if there is room for the body it announced.
            let need = max(available, declared ?? 0)
            guard budget.bytes + need <= budget.bufferingLimit
                || owner.shed(downTo: budget.bufferingLimit - need, before: .ticket(ticket)) else {
                pause(ticket)
                return false
            }
            return true
        }
    }

    /// A paused connection's client stopped sending (the only event it is watched for), so
    /// what it sent is all there will be: a request it sent whole is still answered if the
    /// budget has room for it (older holders shed if need be); otherwise it closes.
    func finishPaused(hangup: Bool) {
        guard !hangup else { return close() }  // reset: nobody left to answer
        let budget = owner.core.budget
        let ticket = holdTicket ?? owner.holders.newcomer(now: MonotonicClock.now())
        guard case .whole(let parsedHead, let body, let probe, let kernelBytes, let headSize) = peek() else { return close() }
        let size = headSize + body.count
        guard budget.admits(size) || owner.shed(downTo: budget.limit - size, before: .ticket(ticket)) else { return close() }
        take(parsedHead, body, probe, kernelBytes: kernelBytes, headSize: headSize)
    }

    private func peek() -> HTTPRequestPeek {
        HTTPRequestPeek.peek(fd, into: &owner.readBuffer, parser: parser, pending: input[inputIndex...],
                             headBytes: parser.isAtRequestBoundary ? nil : headBytes)
    }

    /// Takes from the socket exactly the bytes that complete the peeked request, and hands it over.
    private func take(_ parsedHead: HTTPRequestHead?, _ body: [UInt8], _ probe: HTTPRequestParser, kernelBytes: Int, headSize: Int) {
        if kernelBytes > 0 {
            let taken = owner.readBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, kernelBytes, 0) }
            guard taken == kernelBytes else { return close() }
        }
        guard let head = parsedHead ?? head else { return fail(.internalError) }
        parser = probe
        input = []
        inputIndex = 0
        self.head = head
        headBytes = headSize
        setPaused(false)
        dispatch(HTTPRequest.received(head: head, body: body, peerAddress: peerAddress))
    }

    // MARK: Pausing

    /// Stops reading until the budget has room: the client's bytes wait in the kernel.
    func pause(_ ticket: HTTPHolders.Ticket) {
        guard !isPaused else { return }
        setPaused(true)
        // The client has started a request, even if none of it is read yet: it gets the same
        // time to complete as any other.
        if requestDeadline == nil { requestDeadline = MonotonicClock.now() &+ owner.requestTimeoutNanos }
        owner.pause(self, reliefBefore: ticket.since)
    }

    /// The budget has room again: watch for input once more (on the loop thread).
    func resume() {
        guard isPaused else { return }
        setPaused(false)
        if state == .reading { owner.setInterest(.read, for: self) }
    }

    func setPaused(_ paused: Bool) {
        guard paused != isPaused else { return }
        isPaused = paused
        owner.core.countPaused(paused ? 1 : -1)
    }
}
