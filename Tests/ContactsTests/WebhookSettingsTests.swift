@testable import Contacts
import HTTP
import Outbound
import XCTest

/// The settable retry schedule (`CRM_WEBHOOK_RETRY_SCHEDULE`) and how a receiver's answer
/// becomes an outcome (API.md §11), without a database.
final class WebhookSettingsTests: XCTestCase {
    func testTheRetryScheduleIsCommaSeparatedWholeSeconds() {
        XCTAssertEqual(WebhookSettings.retrySchedule(parsing: "5,300, 1800"), [5, 300, 1800])
        XCTAssertEqual(WebhookSettings.retrySchedule(parsing: "0"), [0])
        for bad in ["", "5,,6", "5;6", "-1", "1.5", "five", "1000001", Array(repeating: "1", count: 51).joined(separator: ",")] {
            XCTAssertNil(WebhookSettings.retrySchedule(parsing: bad), bad)
        }
        XCTAssertEqual(WebhookSettings().retrySchedule, [5, 300, 1800, 7200, 18000, 36000, 36000])
        XCTAssertEqual(WebhookSettings().leaseSeconds, 25, "a crashed delivery is tried again within 30 s")
    }

    func testTheReceiversAnswerDecidesTheOutcome() {
        func outcome(_ status: Int, retryAfter: String? = nil) -> WebhookQueue.Outcome {
            WebhookSender.outcome(of: OutboundResponse(status: status, body: [], retryAfter: retryAfter))
        }
        XCTAssertEqual(outcome(200), .delivered)
        XCTAssertEqual(outcome(204), .delivered)
        XCTAssertEqual(outcome(299), .delivered)
        XCTAssertEqual(outcome(301), .failed(error: "HTTP 301", retryAfter: nil), "redirects are not followed")
        XCTAssertEqual(outcome(410), .gone)
        XCTAssertEqual(outcome(500, retryAfter: "5"), .failed(error: "HTTP 500", retryAfter: nil), "Retry-After only on 429 and 503")
        XCTAssertEqual(outcome(429, retryAfter: "7"), .failed(error: "HTTP 429", retryAfter: 7))
        XCTAssertEqual(outcome(503, retryAfter: " 12 "), .failed(error: "HTTP 503", retryAfter: 12))
        XCTAssertEqual(outcome(503, retryAfter: "Wed, 21 Oct 2026 07:28:00 GMT"), .failed(error: "HTTP 503", retryAfter: nil))
        XCTAssertEqual(outcome(429, retryAfter: "-3"), .failed(error: "HTTP 429", retryAfter: nil))
        XCTAssertEqual(outcome(429, retryAfter: "9999999999"), .failed(error: "HTTP 429", retryAfter: 86_400), "at most a day")
        XCTAssertEqual(outcome(503, retryAfter: "99999999999999999999999"), .failed(error: "HTTP 503", retryAfter: 86_400))
    }

    func testOutcomesTravelAsJSONWithTheLeaseTheyWereSentUnder() {
        let delivery = WebhookQueue.Delivery(webhookID: 3, eventSeq: 42, leaseID: 7, url: "http://x", secret: "whsec_", body: [])
        let json = WebhookQueue.outcomesJSON([
            .init(delivery, .delivered), .init(delivery, .failed(error: "HTTP \"5\"00", retryAfter: 9)),
            .init(delivery, .gone), .init(delivery, .released),
        ])
        XCTAssertEqual(json, #"[{"w":3,"s":42,"l":7,"outcome":"delivered"},"#
                       + #"{"w":3,"s":42,"l":7,"outcome":"failed","error":"HTTP \"5\"00","retry_after":9},"#
                       + #"{"w":3,"s":42,"l":7,"outcome":"gone","error":"HTTP 410"},{"w":3,"s":42,"l":7,"outcome":"released"}]"#)
    }
}
