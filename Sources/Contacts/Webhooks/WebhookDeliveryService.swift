import Outbound
import Postgres
import Reactor

/// Webhook delivery as one part of the service (API.md §11): the ``ChangeNotifier`` the
/// contact writes tell, the ``WebhookDispatcher`` with its libcurl client on the first event
/// loop, and, when this process delivers (workers > 0), the ``WebhookListener`` that wakes it.
public final class WebhookDeliveryService: Sendable {
    public let notifier: ChangeNotifier
    public let dispatcher: WebhookDispatcher
    public let listener: WebhookListener?
    public let statistics: WebhookStatistics

    public init(pool: ConnectionPool, database: PostgresConfiguration, settings: WebhookSettings, addresses: AddressPolicy,
                loop: EventLoop, databaseErrors: DatabaseErrorCounter) {
        notifier = ChangeNotifier(pool: pool)
        statistics = WebhookStatistics()
        let sender = WebhookSender(client: OutboundHTTPClient(loop: loop), addresses: addresses, timeout: settings.timeout)
        let dispatcher = WebhookDispatcher(queue: WebhookQueue(pool: pool, settings: settings), sender: sender,
                                           statistics: statistics, databaseErrors: databaseErrors)
        self.dispatcher = dispatcher
        listener = settings.workers > 0 ? WebhookListener(database: database, loop: loop, wake: { dispatcher.wake() }) : nil
        if settings.workers > 0 { notifier.onChange { dispatcher.changed() } }
    }

    public func start() {
        dispatcher.start()
        listener?.start()
    }

    /// Stops delivering: in-flight deliveries are handed back (recorded within `gracePeriod`).
    public func stop(gracePeriod: Duration = .seconds(5)) async {
        await listener?.stop()
        await dispatcher.stop(gracePeriod: gracePeriod)
    }
}
