import HTTP
import Operations
import Postgres

/// The gauges and counters `/metrics` reads from the service's parts at scrape time: database
/// errors by class, key lookups, readiness pings, the pool, the HTTP server's connections and
/// buffers, and the logs' dropped lines. (The request metrics are ``RequestMetricsObserver``'s, the
/// refusal counters ``KeyGateMiddleware``'s.)
enum ServiceMetrics {
    static func declare(in metrics: MetricsRegistry, api: ContactsAPI, keys: KeyGate) {
        // The operations' and readiness pings' errors, and the key lookups' (counted by the gate,
        // once per lookup however many requests waited for it).
        let databaseErrors = api.databaseErrors, lookupErrors = keys.databaseErrors
        metrics.declareCollected("crm_db_errors_total", help: "Database errors by class: SQLSTATE class, connection, decode, client or not_run.",
                                 type: "counter") {
            databaseErrors.snapshot.merging(lookupErrors.snapshot, uniquingKeysWith: +).sorted { $0.key < $1.key }
                .map { (suffix: "", labels: [("class", $0.key)], value: Double($0.value)) }
        }
        metrics.declareGauge("crm_key_lookups_total", help: "Keys looked up in the database (not found live in the last second).",
                             type: "counter") { [keys] in
            [([], Double(keys.statistics.lookups))]
        }
        let probe = api.readinessProbe
        metrics.declareGauge("crm_readiness_pings_total", help: "Database pings sent for /readyz (one in flight at a time).",
                             type: "counter") {
            [([], Double(probe.statistics.pings))]
        }
        declarePool(api.store.pool, in: metrics)
    }

    private static func declarePool(_ pool: ConnectionPool, in metrics: MetricsRegistry) {
        metrics.declareGauge("crm_db_pool_connections", help: "Pool connections by state.") {
            let stats = pool.statistics
            return [([("state", "in_use")], Double(stats.inUse)), ([("state", "idle")], Double(stats.idle)),
                    ([("state", "opening")], Double(stats.opening))]
        }
        metrics.declareGauge("crm_db_pool_max_connections", help: "The pool's maximum size.") {
            [([], Double(pool.configuration.maxConnections))]
        }
        metrics.declareGauge("crm_db_pool_waiting", help: "Requests waiting for a pool connection.") {
            [([], Double(pool.statistics.waiting))]
        }
        metrics.declareGauge("crm_db_pool_acquire_timeouts_total", help: "Waits for a pool connection that timed out.", type: "counter") {
            [([], Double(pool.statistics.acquireTimeouts))]
        }
        metrics.declareGauge("crm_db_pool_connect_failures_total", help: "Failed connection attempts.", type: "counter") {
            [([], Double(pool.statistics.connectFailures))]
        }
        metrics.declareGauge("crm_db_pool_discarded_total", help: "Connections closed when handed back: broken, or left in a transaction.",
                             type: "counter") {
            [([], Double(pool.statistics.discardedOnRelease))]
        }
    }

    static func declare(in metrics: MetricsRegistry, server: HTTPServer) {
        metrics.declareGauge("crm_http_open_connections", help: "Open client connections.") {
            [([], Double(server.openConnections))]
        }
        metrics.declareGauge("crm_http_buffered_bytes", help: "Bytes held in client connections' buffers (at most --max-buffered-bytes).") {
            [([], Double(server.bufferedBytes))]
        }
        metrics.declareGauge("crm_http_paused_connections", help: "Connections not read while the buffer budget is spent.") {
            [([], Double(server.pausedConnections))]
        }
        metrics.declareGauge("crm_http_shed_connections_total",
                             help: "Connections closed to free buffer memory: the oldest unfinished requests (503) and unread responses.",
                             type: "counter") {
            [([], Double(server.shedConnections))]
        }
    }

    static func declare(in metrics: MetricsRegistry, accessLog: AccessLog?, errorLog: ErrorLog?) {
        if let accessLog {
            metrics.declareGauge("crm_access_log_dropped_total", help: "Access log lines dropped because standard output could not keep up.",
                                 type: "counter") { [([], Double(accessLog.droppedLines))] }
        }
        if let errorLog {
            metrics.declareGauge("crm_error_log_dropped_total", help: "Error log lines dropped because standard error could not keep up.",
                                 type: "counter") { [([], Double(errorLog.droppedLines))] }
        }
    }

    static func declare(in metrics: MetricsRegistry, webhooks: WebhookStatistics) {
        metrics.declareGauge("crm_webhook_deliveries_total",
                             help: "Webhook attempts recorded by this process, by the state they left the delivery in.",
                             type: "counter") {
            WebhookStatistics.outcomes.map { ([("outcome", $0)], Double(webhooks.deliveries($0))) }
        }
        metrics.declareGauge("crm_webhook_pending", help: "Events waiting for delivery to active endpoints (read every 5 s).") {
            [([], Double(webhooks.backlog.pending))]
        }
        metrics.declareGauge("crm_webhook_oldest_pending_seconds", help: "Age of the oldest event waiting for delivery (read every 5 s).") {
            [([], webhooks.backlog.oldestSeconds)]
        }
    }

    static func declare(in metrics: MetricsRegistry, imports: ImportStatistics) {
        metrics.declareGauge("crm_import_jobs", help: "Import jobs kept, by status (read every 5 s by a process that runs imports).") {
            let jobs = imports.counts.jobs
            return ImportStatistics.statuses.map { ([("status", $0)], Double(jobs[$0] ?? 0)) }
        }
        metrics.declareGauge("crm_import_rows", help: "Rows of the import jobs kept, by what became of them (read every 5 s).") {
            let rows = imports.counts.rows
            return ImportStatistics.outcomes.map { ([("outcome", $0)], Double(rows[$0] ?? 0)) }
        }
    }
}
