import CLinux
import Glibc
import Reactor

/// Writing a response: head and body in as few system calls as the socket allows, waiting for
/// room when the client is slow, then keeping the connection for the next request or lingering.
extension HTTPConnection {
    func write(_ response: HTTPResponse, _ framing: HTTPConnectionStateMachine.Framing) {
        if let producer = response.bodyWriter { return startStreamedResponse(response, framing, producer) }
        let head = HTTPResponseEncoder.encodeHead(response, date: owner.currentDate(), connection: framing.connection)
        state.value.output = HTTPOutput(head: head, body: framing.includeBody ? response.body : [])
        state.value.head = nil
        setPaused(false)  // interest is set by flush, whatever it was
        flush()
    }

    func flush() {
        switch state.value.output.write(to: fd) {
        case .blocked(let progressed):
            // The client is not reading: wait for room, until the response's deadline. Its
            // body is charged from now on; a client that took bytes goes to the back of the
            // loop's holders, so that the ones stalled longest are shed first.
            if !state.value.outputBodyRetained {
                state.value.outputBodyRetained = true
                owner.retainBody(state.value.output.body)
                shedIfOverLimit()
            }
            if progressed {
                state.value.holdTicket = nil
                if state.value.responseStream != nil { state.value.machine.responseProgressed(now: MonotonicClock.now()) }
            }
            owner.setInterest(.write, for: self)
            return
        case .failed:
            return close()
        case .done:
            dropOutput()
        }
        if let stream = state.value.responseStream {
            guard stream.finishing else { return streamedChunkWritten() }
            state.value.responseStream = nil
        }
        switch state.value.machine.written(now: MonotonicClock.now()) {
        case .linger:
            // Closing with unread bytes in the socket would reset the connection before the
            // client has read the response: half-close, and discard input until the deadline.
            shutdown(fd, Int32(SHUT_WR))
            state.value.resetInput()
            owner.setInterest(.read, for: self)
        case .readNext:
            owner.setInterest(.read, for: self)
            processBufferedInput()  // a pipelined request may already be buffered
        }
    }

    /// Lets go of the response, written or not.
    func dropOutput() {
        if state.value.outputBodyRetained {
            owner.releaseBody(state.value.output.body)
            state.value.outputBodyRetained = false
        }
        state.value.output = HTTPOutput()
    }

    /// Lingering: reads into the shared buffer and forgets, until the client closes.
    func discardInput() {
        for _ in 0..<4 {
            let count = owner.read(fd)
            if count > 0 { continue }
            if count < 0, errno == EINTR { continue }
            if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { close() }
            return
        }
    }
}
