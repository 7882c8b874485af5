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
        let (delta, holds) = state.value.recharge()
        if delta != 0 { owner.core.budget.adjust(by: delta) }
        if holds {
            if state.value.holdTicket == nil {
                let ticket = owner.hold(self)
                state.value.holdTicket = ticket
            }
        } else if state.value.holdTicket != nil {
            state.value.holdTicket = nil
        }
        if delta > 0 { shedIfOverLimit() }
    }

    /// Past the limit (a response stalled, mostly): the loop sheds its holders older than this
    /// connection down to the buffering share; if that is not enough, the other loops shed theirs.
    func shedIfOverLimit() {
        let budget = owner.core.budget
        guard budget.bytes > budget.limit else { return }
        let ticket = state.value.holdTicket
        if !owner.shed(downTo: budget.bufferingLimit, before: ticket.map { .ticket($0) } ?? .everyone) {
            owner.core.requestRelief(from: owner, before: ticket?.since ?? MonotonicClock.now())
        }
    }

    /// What closing this connection would give back: its own charge, and its stalled response's
    /// body unless other connections wait to write the same one.
    var freeableBytes: Int {
        let (charged, retained, body) = (state.value.charged, state.value.outputBodyRetained, state.value.output.body)
        return charged + (retained && !owner.isShared(body) ? body.count : 0)
    }

    /// Closes this connection to make room for others, as one that held memory longest: a
    /// request not yet whole gets `503` (``HTTPProtocolError/overloaded``) first.
    func shed() {
        switch state.value.machine.phase {
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
        let ticket = state.value.holdTicket ?? owner.newcomer()
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
        let ticket = state.value.holdTicket ?? owner.newcomer()
        guard case .whole(let parsedHead, let body, let probe, let kernelBytes, let headSize) = peek() else { return close() }
        let size = headSize + body.count
        guard budget.admits(size) || owner.shed(downTo: budget.limit - size, before: .ticket(ticket)) else { return close() }
        take(parsedHead, body, probe, kernelBytes: kernelBytes, headSize: headSize)
    }

    private func peek() -> HTTPRequestPeek {
        let parser = state.value.parser
        let pending = state.value.input[state.value.inputIndex...]
        return owner.peek(fd, parser: parser, pending: pending, headBytes: parser.isAtRequestBoundary ? nil : state.value.headBytes)
    }

    /// Takes from the socket exactly the bytes that complete the peeked request, and hands it over.
    private func take(_ parsedHead: HTTPRequestHead?, _ body: [UInt8], _ probe: HTTPRequestParser, kernelBytes: Int, headSize: Int) {
        if kernelBytes > 0 {
            guard owner.read(fd, count: kernelBytes) == kernelBytes else { return close() }
        }
        guard let head = parsedHead ?? state.value.head else { return fail(.internalError) }
        state.value.resetInput()
        state.value.parser = probe
        received(head, bytes: headSize)
        setPaused(false)
        dispatch(HTTPRequest.received(head: head, body: body, peerAddress: peerAddress))
    }

    // MARK: Pausing

    /// Stops reading until the budget has room: the client's bytes wait in the kernel.
    func pause(_ ticket: HTTPHolders.Ticket) {
        guard !state.value.isPaused else { return }
        setPaused(true)
        // The client has started a request, even if none of it is read yet: it gets the same
        // time to complete as any other.
        state.value.machine.requestBegan(now: MonotonicClock.now())
        owner.pause(self, reliefBefore: ticket.since)
    }

    /// The budget has room again: watch for input once more (on the loop thread).
    func resume() {
        guard state.value.isPaused else { return }
        setPaused(false)
        if state.value.machine.phase == .reading { owner.setInterest(.read, for: self) }
    }

    func setPaused(_ paused: Bool) {
        guard paused != state.value.isPaused else { return }
        state.value.isPaused = paused
        owner.core.countPaused(paused ? 1 : -1)
    }
}
