import CLibPQ

extension PostgresConnection {
    /// Calls `handler` on the loop thread with the channel of every notification this
    /// connection receives from now on (`LISTEN channel` first; a notification arrives while
    /// the connection is idle, and also with a query's results). One handler: a later call
    /// replaces it. Notifications sent while the connection was down are lost: a listener
    /// must look for what it missed after reconnecting.
    public func onNotification(_ handler: @escaping @Sendable (String) -> Void) {
        loop.execute { self.state.value.notificationHandler = handler }
    }

    /// Hands libpq's queued notifications to the handler (or drops them without one).
    func deliverNotifications() {
        guard let handle else { return }
        var channels: [String] = []
        while let notification = PQnotifies(handle) {
            if let name = notification.pointee.relname { channels.append(String(cString: name)) }
            PQfreemem(notification)
        }
        guard !channels.isEmpty, let handler = state.value.notificationHandler else { return }
        for channel in channels { handler(channel) }
    }
}
